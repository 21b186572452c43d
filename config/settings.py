"""Concierge settings, read from the environment.

Every value has an embedded default that runs on a bare machine (SQLite, in-memory channel layer,
local-memory cache, Celery tasks in-process, the offline model). Production sets DATABASE_URL,
REDIS_URL, CELERY_BROKER_URL and the secrets; DEBUG=false makes the secrets mandatory.
"""

from __future__ import annotations

import logging
import os
import tempfile
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
log = logging.getLogger("concierge.settings")

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def strict_bool(name: str, default: bool) -> bool:
    """A boolean from the environment that refuses junk: DEBUG=flase must not quietly mean False."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


DEBUG = strict_bool("DEBUG", default=True)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = _DEV_SECRET_KEY
    log.warning("SECRET_KEY is not set: using the development key (fine for the demo only).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is false.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, pinned, from our own static files
    "accounts",
    "orders",
    "runtime",
    "offline_model",
    "knowledge",
    "sandbox",
    "agents",
    "widget",
    "webhooks",
    "ops",
]

MIDDLEWARE = [
    # /healthz and /readyz first: a probe names no allowed host, comes over plain HTTP, needs no session.
    "ops.middleware.Probes",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads input: NUL, lone surrogates, non-UTF-8 or oversized bodies get a 400/413.
    "config.middleware.RefuseUnstorableInput",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers go on while one writer writes; IMMEDIATE takes the write lock at BEGIN,
        # so two writers queue on the busy timeout instead of failing on a lock upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory: live-server tests and worker subprocesses share the test database. One per
    # pytest process, so two runs at once do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test_db_{os.getpid()}.sqlite3")}
else:
    # A connection pool per process (psycopg_pool): a request, task or websocket call borrows a
    # connection and gives it back, so daphne's many threads need only a few connections and opening
    # one (slower than most queries here) is rare. Every process may hold up to DB_POOL_MAX_SIZE:
    # keep processes x DB_POOL_MAX_SIZE under the server's max_connections, and a Celery worker's
    # pool at least as large as its threads. DB_POOL_MAX_SIZE=0 keeps one persistent connection
    # per thread instead (CONN_MAX_AGE seconds).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.int("DB_POOL_MAX_SIZE", default=20) > 0:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
            "timeout": env.float("DB_POOL_TIMEOUT", default=20.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # closing a pooled connection returns it to the pool
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ---------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group send is one PUBLISH, and each process fans messages out to its
            # sockets itself, without the core layer's per-channel capacity (measured in
            # docs/benchmarks.md). CHANNEL_LAYER_BACKEND=channels_redis.core.RedisChannelLayer
            # switches back; deltas are batched and sockets resume from snapshots either way.
            "BACKEND": env.str("CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"),
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, and channels_redis's core
                # layer blocks on BZPOPMIN for 5 s: a busy server then times out. Give reads headroom.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "capacity": env.int("CHANNEL_CAPACITY", default=100),  # the core layer's; pub/sub ignores it
                # Pub/sub names are not per Redis database: deployments sharing a Redis need their own.
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "common.cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# Without a broker, tasks run in the calling process (the embedded default).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# At-least-once delivery: a task is acknowledged only after it ran, and redelivered if its worker
# dies. Every side effect a task has must therefore be idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers an unacknowledged task after this long; keep it far above the longest run.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="concierge")

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# The customer's side speaks these (the widget's strings, its server messages, the offline model's
# fixed phrases): locale/<code>/LC_MESSAGES/, compiled .mo files committed beside their .po files.
# The console, the admin and the APIs stay in English: no LocaleMiddleware for them; the widget's
# endpoints choose the language they answer in themselves (widget/language.py).
LANGUAGES = [("en", "English"), ("de", "German"), ("fr", "French"), ("es", "Spanish")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
# Uploads (knowledge files) go through Django's storage API: local files under MEDIA_ROOT by default,
# any django-storages backend by setting STORAGES["default"]. Never served from here as media: a
# file's content is read through /v1/files/{id}/content (its owner only) or a help page.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "config.staticfiles.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orders.api.auth.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.envelope.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["orders.api.throttling.CallerRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env.str("API_THROTTLE_RATE", default="600/min"),
        # /v1 (the Assistants-compatible API), per API key; run polling counts, so leave room for it.
        "v1": env.str("V1_THROTTLE_RATE", default="1200/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Concierge API",
    "DESCRIPTION": "The shop's orders and returns (/api/) and the Assistants-compatible runtime (/v1/).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files, at the sidecar package's pinned version: the page works
    # on a machine without internet, and no third-party origin enters the page's CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Three models have a `status`; named here, the schema (and `check --deploy`) has no collision.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.Order.Status",
        "ShipmentStatusEnum": "orders.models.Shipment.Status",
        "ReturnStatusEnum": "orders.models.Return.Status",
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# /v1: the longest message content accepted (characters of text), as the Assistants API's 256,000.
# Larger bodies than DATA_UPLOAD_MAX_MEMORY_SIZE are refused with 413 before they are parsed.
V1_MESSAGE_MAX_CHARS = env.int("V1_MESSAGE_MAX_CHARS", default=256_000)

# --- Content-Security-Policy (django-csp) ------------------------------------------------------
# Every page (the demo shop, the console, the admin) runs only this server's own script and style
# files: no inline <script> (data for scripts goes in json_script blocks), no style= attributes, so
# markup someone managed to inject can neither run nor restyle the page. In connect-src, 'self' also
# covers this host's ws:// and wss:// (CSP 3), which the console's and the widget's sockets use.
# Pages of ours are never framed (the widget is a shadow DOM, not an iframe). /api/docs/ adds the
# Swagger UI CDN for itself (config/api_docs.py). A shop embedding the widget has its own policy:
# README.md says what it must allow.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Security (production) ------------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = strict_bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = strict_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # `check --deploy` warns without it (security.W021); the header only allows a submission to the
    # browsers' preload list, which the site's owner still has to make. SECURE_HSTS_PRELOAD=false opts out.
    SECURE_HSTS_PRELOAD = strict_bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# --- Concierge ------------------------------------------------------------------------------
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# How long a request waits for another request holding the same idempotency key.
IDEMPOTENCY_LOCK_TIMEOUT_SECONDS = env.int("IDEMPOTENCY_LOCK_TIMEOUT_SECONDS", default=10)
# Customer tokens for /api/ (bound to one customer); how long one stays valid.
CUSTOMER_TOKEN_MAX_AGE_SECONDS = env.int("CUSTOMER_TOKEN_MAX_AGE_SECONDS", default=60 * 60 * 24 * 30)

# --- LLM access -------------------------------------------------------------------------------
# With OPENAI_API_KEY, a real provider (OPENAI_BASE_URL for any OpenAI-compatible server); without
# it, the built-in offline model, reached through the same openai SDK over an in-process transport.
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
CONCIERGE_MODEL = env.str("CONCIERGE_MODEL", default="gpt-4o-mini")
# The model runtime.llm.client.embed asks for embeddings (knowledge search); the offline model takes any name.
EMBEDDING_MODEL = env.str("EMBEDDING_MODEL", default="text-embedding-3-small")
# The width of stored embeddings, asked of the embedding model (OpenAI's text-embedding-3 models
# shorten to it; a model that cannot is used at its own width, scored exactly without pgvector).
EMBEDDING_DIMENSIONS = env.int("EMBEDDING_DIMENSIONS", default=384)
# Threads onnxruntime gives the offline model's embedding model (all-MiniLM-L6-v2) in each process,
# read when the process first embeds; 0 lets onnxruntime take one per core.
OFFLINE_MODEL_EMBEDDING_THREADS = env.int("OFFLINE_MODEL_EMBEDDING_THREADS", default=1)
OPENAI_TIMEOUT_SECONDS = env.float("OPENAI_TIMEOUT_SECONDS", default=60.0)
# The context window assumed when a run sets no max_prompt_tokens.
MODEL_CONTEXT_TOKENS = env.int("MODEL_CONTEXT_TOKENS", default=100_000)
# Delay between the offline model's streamed chunks (0 by default and in tests; `make demo` sets 30).
OFFLINE_MODEL_TOKEN_DELAY_MS = env.float("OFFLINE_MODEL_TOKEN_DELAY_MS", default=0.0)

# --- Runs ---------------------------------------------------------------------------------------
RUN_EXPIRES_AFTER_SECONDS = env.int("RUN_EXPIRES_AFTER_SECONDS", default=600)
RUN_MAX_ROUND_TRIPS = env.int("RUN_MAX_ROUND_TRIPS", default=8)  # model calls per run, tool loops included
RUN_LEASE_SECONDS = env.int("RUN_LEASE_SECONDS", default=60)  # a crashed worker's run is reclaimed after this
# How often beat sweeps runs (expiry, lapsed leases, runs left queued), and how long a run may sit
# queued before the sweep hands it to a worker again: a dead worker's run resumes within
# RUN_LEASE_SECONDS + RUN_SWEEP_SECONDS.
RUN_SWEEP_SECONDS = env.int("RUN_SWEEP_SECONDS", default=30)
MODEL_MAX_ATTEMPTS = env.int("MODEL_MAX_ATTEMPTS", default=4)  # per model call: 429, 5xx, timeouts, cut streams
MODEL_RETRY_BASE_SECONDS = env.float("MODEL_RETRY_BASE_SECONDS", default=0.5)
MODEL_STREAM_DEADLINE_SECONDS = env.float("MODEL_STREAM_DEADLINE_SECONDS", default=120.0)
# Order lookups with a wrong order/email pair allowed per thread, against guessing customers' emails.
THREAD_MAX_FAILED_LOOKUPS = env.int("THREAD_MAX_FAILED_LOOKUPS", default=5)
TOOL_TIMEOUT_SECONDS = env.float("TOOL_TIMEOUT_SECONDS", default=15.0)
# Older turns beyond this many messages are compacted into a summary (the seed's advice: ~20).
THREAD_COMPACT_AFTER_MESSAGES = env.int("THREAD_COMPACT_AFTER_MESSAGES", default=20)
# Deltas are published in batches this many milliseconds apart, not one message per token.
STREAM_BATCH_MS = env.int("STREAM_BATCH_MS", default=60)
# How runs reach a worker: "celery" (a broker is set), "thread" (embedded: a pool in this process),
# or "inline" (tests: right after the creating transaction commits, in the same thread).
RUN_DISPATCH = env.str("RUN_DISPATCH", default="celery" if CELERY_BROKER_URL else "thread")
EMBEDDED_RUN_WORKERS = env.int("EMBEDDED_RUN_WORKERS", default=16)
# With RUN_DISPATCH=thread, the first task also starts a beat thread for CELERY_BEAT_SCHEDULE.
EMBEDDED_BEAT = True

# --- Knowledge: files, vector stores, file_search ------------------------------------------------------
# The largest upload /v1/files and the console accept (bytes); larger ones are refused with 413.
KNOWLEDGE_MAX_UPLOAD_BYTES = env.int("KNOWLEDGE_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
# Extraction runs in a child process with these limits (decompression and PDF bombs end there).
KNOWLEDGE_EXTRACT_TIMEOUT_SECONDS = env.float("KNOWLEDGE_EXTRACT_TIMEOUT_SECONDS", default=30.0)
KNOWLEDGE_EXTRACT_MEMORY_BYTES = env.int("KNOWLEDGE_EXTRACT_MEMORY_BYTES", default=512 * 1024 * 1024)
# The text search configuration of PostgreSQL's full-text index (its stemming language); changing
# it needs the index made again (`manage.py knowledge_indexes`).
KNOWLEDGE_TEXT_SEARCH_CONFIG = env.str("KNOWLEDGE_TEXT_SEARCH_CONFIG", default="english")
# file_search's passages scoring below this cosine similarity do not count as an answer (the
# assistant then says the documents don't cover the question). It belongs to the embedding model:
# 0.40 suits the offline model's all-MiniLM-L6-v2 (docs/benchmarks.md, "Knowledge: retrieval
# quality"); with another provider's model, measure it with bench/search_quality.py.
KNOWLEDGE_SCORE_THRESHOLD = env.float("KNOWLEDGE_SCORE_THRESHOLD", default=0.40)
# How long an ingestion may hold a file before the sweep gives it to another worker.
KNOWLEDGE_INGEST_LEASE_SECONDS = env.int("KNOWLEDGE_INGEST_LEASE_SECONDS", default=300)

# --- Sandbox: code_interpreter -----------------------------------------------------------------------
# Model-written Python runs in bubblewrap (`make sandbox` installs it and builds the sandbox's own
# Python runtime, requirements/sandbox.txt, into .sandbox/venv); without it code_interpreter is not
# offered and `manage.py check` says why. Each limit ends the execution with a message the model reads.
SANDBOX_PYTHON = env.path("SANDBOX_PYTHON", default=BASE_DIR / ".sandbox" / "venv" / "bin" / "python")
# Sessions of this host (sockets and locks, no files of theirs): any local directory, one per host.
SANDBOX_ROOT = env.path("SANDBOX_ROOT", default=Path(tempfile.gettempdir()) / "concierge-sandbox")
SANDBOX_WALL_SECONDS = env.float("SANDBOX_WALL_SECONDS", default=30.0)  # per execution
SANDBOX_CPU_SECONDS = env.float("SANDBOX_CPU_SECONDS", default=30.0)  # per execution, the interpreter's
SANDBOX_MEMORY_BYTES = env.int("SANDBOX_MEMORY_BYTES", default=1024**3)  # address space, per process
# Memory of a session as a whole (its processes and its tmpfs files), through a cgroup of its own
# when the host lets this process make one: under SANDBOX_CGROUP_PARENT, a cgroup path ("" for
# auto: concierge-sandbox under this process's own cgroup v2, or under each cgroup v1 controller's
# root; "none" for no cgroup). Without one, `manage.py check` warns (sandbox.W002).
SANDBOX_SESSION_MEMORY_BYTES = env.int("SANDBOX_SESSION_MEMORY_BYTES", default=2 * 1024**3)
SANDBOX_CGROUP_PARENT = env.str("SANDBOX_CGROUP_PARENT", default="")
SANDBOX_MAX_PROCESSES = env.int("SANDBOX_MAX_PROCESSES", default=32)  # per session, its interpreter included
SANDBOX_MAX_OPEN_FILES = env.int("SANDBOX_MAX_OPEN_FILES", default=256)  # per process
SANDBOX_MAX_FILE_BYTES = env.int("SANDBOX_MAX_FILE_BYTES", default=256 * 1024**2)  # the largest file written
SANDBOX_DISK_BYTES = env.int("SANDBOX_DISK_BYTES", default=512 * 1024**2)  # /mnt/data (memory: a tmpfs)
SANDBOX_TMP_BYTES = env.int("SANDBOX_TMP_BYTES", default=64 * 1024**2)  # /tmp (a tmpfs too)
SANDBOX_MAX_OUTPUT_CHARS = env.int("SANDBOX_MAX_OUTPUT_CHARS", default=20_000)  # logs kept per execution
SANDBOX_MAX_OUTPUT_FILE_BYTES = env.int("SANDBOX_MAX_OUTPUT_FILE_BYTES", default=50 * 1024**2)  # per file returned
# A session ends this long after its last execution (OpenAI's: an hour); at most this many per host,
# the least recently used idle one evicted to start another.
SANDBOX_SESSION_IDLE_SECONDS = env.int("SANDBOX_SESSION_IDLE_SECONDS", default=60 * 60)
SANDBOX_MAX_SESSIONS = env.int("SANDBOX_MAX_SESSIONS", default=16)

# --- The demo shop ---------------------------------------------------------------------------------
# The demo shop page at / lists every customer and signs any customer's identity for the widget, so
# that a visitor can chat as Alice: a demo convenience that must never run in production. On with
# DEBUG (and `make demo`), off otherwise; `check --deploy` warns while it is on, and `seed_demo`
# (known passwords) refuses to run while it is off unless forced. Off, / sends people to the console.
DEMO_SHOP = strict_bool("DEMO_SHOP", default=DEBUG)

# --- Chat widget ----------------------------------------------------------------------------------
# The shop's secret for identity verification: its backend signs a customer's email or external id
# with HMAC-SHA256 and this key. Empty: the widget accepts only anonymous visitors.
WIDGET_IDENTITY_SECRET = env.str("WIDGET_IDENTITY_SECRET", default="demo-identity-secret" if DEBUG else "")
WIDGET_REQUIRE_IDENTITY = strict_bool("WIDGET_REQUIRE_IDENTITY", default=False)
# Pages (origins) allowed to embed the widget, besides this server's own; "*" allows any.
WIDGET_ALLOWED_ORIGINS = env.list("WIDGET_ALLOWED_ORIGINS", default=[])
WIDGET_REQUIRE_ORIGIN = strict_bool("WIDGET_REQUIRE_ORIGIN", default=not DEBUG)
WIDGET_SESSION_MAX_AGE_SECONDS = env.int("WIDGET_SESSION_MAX_AGE_SECONDS", default=60 * 60 * 24 * 30)
WIDGET_TICKET_MAX_AGE_SECONDS = env.int("WIDGET_TICKET_MAX_AGE_SECONDS", default=60)
WIDGET_SESSIONS_PER_IP_PER_MINUTE = env.int("WIDGET_SESSIONS_PER_IP_PER_MINUTE", default=20)
WIDGET_MESSAGES_PER_VISITOR_PER_MINUTE = env.int("WIDGET_MESSAGES_PER_VISITOR_PER_MINUTE", default=12)
WIDGET_MESSAGES_PER_IP_PER_MINUTE = env.int("WIDGET_MESSAGES_PER_IP_PER_MINUTE", default=60)
WIDGET_MAX_MESSAGE_CHARS = env.int("WIDGET_MAX_MESSAGE_CHARS", default=4000)
# Photos customers attach in the chat (knowledge.images): the largest file and picture accepted, and
# how many go with one message.
WIDGET_MAX_IMAGE_BYTES = env.int("WIDGET_MAX_IMAGE_BYTES", default=8 * 1024 * 1024)
WIDGET_MAX_IMAGE_PIXELS = env.int("WIDGET_MAX_IMAGE_PIXELS", default=40_000_000)
WIDGET_MAX_IMAGES_PER_MESSAGE = env.int("WIDGET_MAX_IMAGES_PER_MESSAGE", default=3)
# Whether the model reads images: then a message's images go to it as image_url parts (data: URLs);
# else it reads a note that an image was attached which it cannot see (README: Photos in the chat).
MODEL_ACCEPTS_IMAGES = strict_bool("MODEL_ACCEPTS_IMAGES", default=False)

# --- Websockets (the widget's and the console's) ------------------------------------------------------
# Open sockets per client IP, per server process (behind a proxy, run daphne with --proxy-headers).
# Generous: a shop's office or a mobile carrier puts many people behind one address.
WEBSOCKETS_PER_IP = env.int("WEBSOCKETS_PER_IP", default=200)
# The largest frame a socket parses (characters of JSON text); a longer one gets an error event. Room
# for the longest message with every character escaped (\uXXXX is six).
WEBSOCKET_MAX_FRAME_CHARS = env.int(
    "WEBSOCKET_MAX_FRAME_CHARS", default=max(64 * 1024, 6 * WIDGET_MAX_MESSAGE_CHARS + 1024)
)

# --- Human agents -----------------------------------------------------------------------------------
# Wait-time targets (minutes until a person should join) by escalation priority.
ESCALATION_SLA_MINUTES = {
    "urgent": env.int("SLA_URGENT_MINUTES", default=2),
    "high": env.int("SLA_HIGH_MINUTES", default=5),
    "normal": env.int("SLA_NORMAL_MINUTES", default=15),
    "low": env.int("SLA_LOW_MINUTES", default=60),
}
# Per order: a return in a customer conversation that would bring the order's refunds (all its returns
# not rejected, this one included) above this amount waits for a person's approval before it is opened.
RETURN_APPROVAL_THRESHOLD = Decimal(env.str("RETURN_APPROVAL_THRESHOLD", default="150.00"))
APPROVAL_WAIT_SECONDS = env.int("APPROVAL_WAIT_SECONDS", default=60 * 60 * 24)
# Failures (tool errors, fallback answers, failed runs) in one thread before a person is called.
ESCALATE_AFTER_FAILURES = env.int("ESCALATE_AFTER_FAILURES", default=3)
# How often (seconds) an open escalation's summary may be rewritten as the conversation goes on.
SUMMARY_REFRESH_SECONDS = env.int("SUMMARY_REFRESH_SECONDS", default=30)
# An estimate of model cost for the metrics page, in dollars per million tokens.
COST_PER_MILLION_PROMPT_TOKENS = env.float("COST_PER_MILLION_PROMPT_TOKENS", default=0.15)
COST_PER_MILLION_COMPLETION_TOKENS = env.float("COST_PER_MILLION_COMPLETION_TOKENS", default=0.60)

# --- Webhooks (the shop's own systems; docs/webhooks.md) ------------------------------------------------
# Endpoints must be https; http too with DEBUG or this (a receiver on a developer's machine).
WEBHOOK_ALLOW_HTTP = strict_bool("WEBHOOK_ALLOW_HTTP", default=False)
# Endpoints whose host resolves to a loopback, private, link-local (cloud metadata), shared or
# reserved address are refused, when saved and on every connection, unless this is on (a receiver
# on this machine or its private network, on purpose).
WEBHOOK_ALLOW_PRIVATE_TARGETS = strict_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
# One attempt's deadline, all of it: connecting, TLS, sending, the receiver's answer.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RESPONSE_MAX_BYTES = env.int("WEBHOOK_RESPONSE_MAX_BYTES", default=16 * 1024)  # read of an answer, at most
# Attempts per delivery; after the n-th failure the next waits WEBHOOK_RETRY_BASE_SECONDS x 4^(n-1),
# +-20%, at most WEBHOOK_RETRY_MAX_SECONDS (by default 30 s, 2 min, 8 min, 32 min, 2 h, then 8 h:
# about a day and a half in all).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=8 * 60 * 60)
# How often due retries are handed to workers, and at most how many at a time.
WEBHOOK_SWEEP_SECONDS = env.int("WEBHOOK_SWEEP_SECONDS", default=10)
WEBHOOK_SWEEP_BATCH = env.int("WEBHOOK_SWEEP_BATCH", default=500)
# Finished deliveries (and their events) older than this are deleted from the log.
WEBHOOK_LOG_RETENTION_DAYS = env.int("WEBHOOK_LOG_RETENTION_DAYS", default=30)
# After a secret is rotated, the previous one goes on signing (beside the new one) this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
if WEBHOOK_MAX_ATTEMPTS < 1 or WEBHOOK_TIMEOUT_SECONDS <= 0:
    raise ImproperlyConfigured("WEBHOOK_MAX_ATTEMPTS must be at least 1 and WEBHOOK_TIMEOUT_SECONDS above 0.")

# --- Probes (/healthz, /readyz) and metrics (/metrics) -------------------------------------------
# Each readiness check's deadline. The model provider is reported by /readyz but fails it only with
# READINESS_REQUIRES_MODEL: a provider's outage would otherwise take the console out of the load balancer too.
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=2.0)
READINESS_REQUIRES_MODEL = env.bool("READINESS_REQUIRES_MODEL", default=False)
# /metrics (Prometheus) answers a scraper with this bearer token; unset, /metrics is off.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Retention -------------------------------------------------------------------------------------
# Conversations idle for more than this many days are deleted with their files, every hour by beat
# (ops.retention: never one waiting for a person or with a run going; orders and returns stay).
# 0, the default, keeps everything. `manage.py purge_conversations --dry-run` shows what would go.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=0)
if not 0 <= RETENTION_DAYS <= 36_500:
    raise ImproperlyConfigured("RETENTION_DAYS must be 0 (keep everything) or a number of days up to 36500.")

CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {"task": "orders.tasks.purge_idempotency_keys", "schedule": 60 * 60},
    "sweep-runs": {"task": "support.tasks.sweep_runs", "schedule": RUN_SWEEP_SECONDS},
    "retry-missing-summaries": {"task": "agents.tasks.retry_missing_summaries", "schedule": 30},
    "sweep-knowledge": {"task": "knowledge.tasks.sweep", "schedule": 60},
    "sweep-sandbox-sessions": {"task": "sandbox.tasks.sweep", "schedule": 60},
    "deliver-due-webhooks": {"task": "webhooks.tasks.deliver_due", "schedule": WEBHOOK_SWEEP_SECONDS},
    "purge-webhook-log": {"task": "webhooks.tasks.purge_log", "schedule": 60 * 60},
    "purge-conversations": {"task": "ops.tasks.purge_conversations", "schedule": 60 * 60},  # RETENTION_DAYS
}

# LOG_FORMAT=json: one JSON object per line, with the request_id, run_id and thread_id of the work
# it was written for (common/logcontext.py); plain (the default) reads better in a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"ids": {"()": "common.logcontext.AddIds"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["ids"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},  # one INFO line per model request is noise
        "httpx": {"level": "WARNING"},
    },
}
