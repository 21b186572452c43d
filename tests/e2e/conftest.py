"""A live Concierge for end-to-end tests: a real daphne process serving the test database.

`daphne_process` (session-wide) starts `daphne config.asgi:application` on a free port with the
deployment settings (config.settings) pointed at pytest's test database, runs dispatched to its own
thread pool, the offline model (no OPENAI_API_KEY) and no Celery broker; REDIS_URL is kept when set,
so the Redis channel layer is exercised too. `daphne_server` is its base URL (no trailing slash);
`live_server_url` is the same URL and also makes the test transactional, so what the test writes is
committed and the server sees it.

    @pytest.mark.slow
    @pytest.mark.django_db(transaction=True)
    def test_something(live_server_url): ...
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.db import connection
from django.utils.crypto import get_random_string

from orders.management.commands.seed_demo import DEMO_LOGINS

PROJECT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30
# Not handed to the server: it must run the offline model, in-process runs, the deployment settings.
WITHHELD = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CELERY_BROKER_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def database_url_of_the_test_database() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in WITHHELD}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url_of_the_test_database(),
        RUN_DISPATCH="thread",
        PYTHONUNBUFFERED="1",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),  # the tests' uploads (tests/conftest.py), read by the server too
    )
    if settings.REDIS_URL:  # this test process's names in the shared Redis (config/settings_test.py)
        env.update(
            CHANNEL_LAYER_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
        )
    return env


def _wait_until_answering(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"daphne exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            urllib.request.urlopen(f"{server.url}/v1/assistants", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # 401 without a key: it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"daphne did not answer within {START_TIMEOUT_SECONDS}s:\n{server.log_tail()}")


@contextmanager
def running_daphne(env: dict[str, str], log_path: Path) -> Iterator[LiveServer]:
    """A daphne on a free port with `env` (server_environment(), plus what a test needs), stopped on exit."""
    port = free_port()
    daphne = Path(sys.executable).with_name("daphne")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_answering(server)
        yield server
    finally:
        # Stopped before the test database is dropped (PostgreSQL refuses while it is connected).
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def daphne_process(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    """One daphne for the session, on the test database (it is created by django_db_setup first)."""
    with django_db_blocker.unblock():
        env = server_environment()
    with running_daphne(env, tmp_path_factory.mktemp("daphne") / "daphne.log") as server:
        yield server


@pytest.fixture(scope="session")
def daphne_server(daphne_process) -> str:
    """The live server's base URL (no trailing slash), e.g. http://127.0.0.1:54321."""
    return daphne_process.url


@pytest.fixture
def live_server_url(daphne_process, transactional_db) -> str:
    """The live server's base URL, for a transactional test (its writes are committed, so served)."""
    if daphne_process.process.poll() is not None:
        pytest.fail(f"the live server died:\n{daphne_process.log_tail()}")
    return daphne_process.url


@pytest.fixture(autouse=True)
def live_servers_done_before_the_flush(request) -> Iterator[None]:
    """A transactional test ends with pytest-django flushing every table (TRUNCATE, exclusive locks).
    A live server may still be writing for it (a file's ingestion, a run's last bookkeeping), and a
    flush under such a transaction deadlocks. Before the flush: wait until no other session is in a
    transaction for a quarter of a second (up to 15 s), then end those still in one."""
    if "transactional_db" not in request.fixturenames or connection.vendor != "postgresql":
        yield
        return
    request.getfixturevalue("transactional_db")  # set up first, so flushed after this teardown
    yield
    others_busy = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend' AND state IN ('active', 'idle in transaction')"
    )
    deadline, quiet_since = time.monotonic() + 15, None
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(others_busy)
            if cursor.fetchall():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 0.25:
                return
            time.sleep(0.05)
        cursor.execute(f"SELECT pg_terminate_backend(pid) FROM ({others_busy}) AS busy")


# --- A real browser: Debian's chromium driven by Playwright (its own download cannot work here) ---

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# The browser tests take screenshots; UPDATE_SCREENSHOTS=1 writes them over docs/screenshots/.
SCREENSHOTS = (
    PROJECT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "concierge-screenshots"
)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# --- The demo shop on the live server ----------------------------------------------------------------


def seed_demo_shop() -> None:
    """seed_demo's shop and logins, with the logins' passwords stored as the live server checks them:
    the tests hash with MD5 for speed, the server (deployment settings) checks PBKDF2."""
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", stdout=quiet)
    hasher = PBKDF2PasswordHasher()
    for username, password, _group in DEMO_LOGINS:
        hashed = hasher.encode(password, get_random_string(12), iterations=1000)
        get_user_model().objects.filter(username=username).update(password=hashed)
