# The two commands a newcomer needs: `make demo` and `make test`. Everything else is plumbing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The offline model streams a word every 30 ms in the demo, so the answer visibly streams.
OFFLINE_MODEL_TOKEN_DELAY_MS ?= 30
NODE_E2E := tests/e2e/node
NODE_SDK := $(NODE_E2E)/node_modules/.package-lock.json

.PHONY: demo test test-fast lint format browser sandbox worker clean messages

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.base-installed: requirements/base.txt | $(PY)
	$(VENV)/bin/pip install -q -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/dev.txt requirements/base.txt | $(PY)
	$(VENV)/bin/pip install -q -r requirements/dev.txt
	touch $(VENV)/.base-installed $@

## demo: set up on a bare machine and serve the demo shop at http://$(HOST):$(PORT)/
# The demo shop page (pick a customer, chat signed in as them) exists only with DEMO_SHOP on.
demo: export DEMO_SHOP := true
demo: $(VENV)/.base-installed sandbox
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_help_centre
	OFFLINE_MODEL_TOKEN_DELAY_MS=$(OFFLINE_MODEL_TOKEN_DELAY_MS) $(VENV)/bin/daphne -b $(HOST) -p $(PORT) config.asgi:application

## test: install what the tests need (Python packages, Debian's chromium, the Node SDK) and run the whole suite
test: $(VENV)/.dev-installed browser sandbox $(NODE_SDK)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	# The fast tests on every core (pytest-xdist), then the slow end-to-end ones (live servers,
	# browsers, SDKs), a file per worker: each worker has its own test database and live server.
	$(VENV)/bin/pytest -m "not slow" -n auto
	$(VENV)/bin/pytest -m slow -n auto --dist loadfile

## test-fast: the suite without the slow end-to-end tests, on every core (pytest-xdist)
test-fast: $(VENV)/.dev-installed
	$(VENV)/bin/pytest -m "not slow" -n auto

# The official openai Node SDK for tests/e2e/test_openai_node_sdk.py, at the exact version of its lock file.
# npm writes node_modules/.package-lock.json on install: newer than the lock file means nothing to do.
$(NODE_SDK): $(NODE_E2E)/package.json $(NODE_E2E)/package-lock.json
	npm ci --prefix $(NODE_E2E) --no-audit --no-fund
	touch $@

# Browser tests drive Debian's chromium through Playwright (Playwright's own download cannot work here).
browser:
	@test -x /usr/bin/chromium || { \
		echo "Installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## sandbox: bubblewrap (Debian's) and the sandbox's own Python runtime (.sandbox/venv), for code_interpreter
# The runtime is a venv of Debian's python3 when it has venv (then the sandbox needs nothing outside
# /usr), else of $(PYTHON), whose installation the sandbox then binds read-only too. Readable by all:
# bubblewrap runs as nobody when make and the app run as root.
SANDBOX_VENV := .sandbox/venv
SANDBOX_BASE_PYTHON ?= $(shell /usr/bin/python3 -c "import ensurepip" 2>/dev/null && echo /usr/bin/python3 || echo $(PYTHON))

$(SANDBOX_VENV)/.installed: requirements/sandbox.txt
	rm -rf $(SANDBOX_VENV)
	$(SANDBOX_BASE_PYTHON) -m venv $(SANDBOX_VENV)
	$(SANDBOX_VENV)/bin/pip install -q -r requirements/sandbox.txt
	@# matplotlib's font cache, built once here: each session copies it instead of building it (~1 s).
	MPLCONFIGDIR=$(SANDBOX_VENV)/mplconfig MPLBACKEND=Agg $(SANDBOX_VENV)/bin/python -c "import matplotlib.pyplot"
	chmod -R a+rX .sandbox
	touch $@

# Without bubblewrap the demo still runs, without code_interpreter (`manage.py check` says why);
# CI's tests fail then (CI=1), where elsewhere they skip.
sandbox: $(SANDBOX_VENV)/.installed
	@command -v bwrap >/dev/null || { \
		echo "Installing Debian's bubblewrap for the code_interpreter sandbox"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq bubblewrap >/dev/null \
			|| echo "WARNING: bubblewrap could not be installed: code_interpreter will not be offered."; }

## messages: compile locale/*/LC_MESSAGES/*.po (the translations, edited by hand) into the .mo files Django reads
# The .mo files are committed, so `make demo` and `make test` need no gettext; this needs its msgfmt.
messages:
	@command -v msgfmt >/dev/null || { \
		echo "Installing Debian's gettext for msgfmt"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gettext >/dev/null; }
	for po in locale/*/LC_MESSAGES/*.po; do msgfmt --check -o "$${po%.po}.mo" "$$po" || exit 1; done

## pgvector: start a PostgreSQL with pgvector on 127.0.0.1:5433 (installed into .pgvector/) and print its DATABASE_URL
# Stop it with `.ci/pgvector stop`.
.PHONY: pgvector
pgvector:
	@.ci/pgvector

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

## worker: a Celery worker (with beat) for deployments that set CELERY_BROKER_URL
worker: $(VENV)/.base-installed
	$(VENV)/bin/celery -A config worker -B -P threads -c 32 --loglevel=info

clean:
	rm -rf $(VENV) .sandbox db.sqlite3* test_db*.sqlite3* staticfiles
