"""Production settings: `check --deploy` is clean, missing secrets fail fast, migrations match the models.

Each case runs manage.py in a fresh process with exactly the environment a deployment would set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k7#Qp2vX9!mZ4rT8wY1uB6nE3sD0fG5hJ2lK7aC9xV4bN8mQ1zR6tW3yU0iO5pL",
    "ALLOWED_HOSTS": "support.shop.example",
}
_OURS = (
    "DEBUG",
    "DEMO_SHOP",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DJANGO_SETTINGS_MODULE",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py with the settings a deployment uses (config.settings) and only `env` on top."""
    base = {name: value for name, value in os.environ.items() if name not in _OURS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check_without_a_single_warning():
    done = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout
    assert "WARNING" not in done.stderr.upper()


def test_debug_off_without_a_secret_key_fails_fast():
    done = manage("check", DEBUG="false", ALLOWED_HOSTS="support.shop.example")

    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is false." in done.stderr


def test_debug_off_without_allowed_hosts_fails_fast():
    done = manage("check", DEBUG="false", SECRET_KEY=PRODUCTION["SECRET_KEY"])

    assert done.returncode != 0
    assert "ImproperlyConfigured: ALLOWED_HOSTS must be set when DEBUG is false." in done.stderr


def test_the_development_defaults_still_run_without_any_environment():
    done = manage("check")

    assert done.returncode == 0, done.stderr
    assert "SECRET_KEY is not set: using the development key" in done.stderr


def test_the_migrations_match_the_models():
    done = manage("makemigrations", "--check", "--dry-run")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "No changes detected" in done.stdout
