"""API keys for the shop's backend: `create_api_key` shows one once; the database keeps only its hash."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def create_api_key(*args: str) -> str:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue()


def client_with(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_create_api_key_prints_the_key_alone_on_stdout(capsys):
    printed = create_api_key("--name", "checkout service")

    assert printed.endswith("\n")
    raw = printed.strip()
    assert "\n" not in raw
    assert raw.startswith("ck_")
    assert len(raw) > 40
    assert capsys.readouterr().out == ""
    key = ApiKey.objects.get()
    assert key.name == "checkout service"


def database_url_of_the_test_database() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_run_as_a_program_it_prints_a_working_key_and_nothing_else(alice_order):
    """What a deploy script does: `KEY=$(python manage.py create_api_key)`."""
    project = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_the_test_database(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }

    done = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "--name", "deploy"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    raw = done.stdout.removesuffix("\n")
    assert raw.startswith("ck_")
    assert raw.strip() == raw
    assert "\n" not in raw
    assert ApiKey.objects.get().name == "deploy"
    assert client_with(raw).get("/api/orders/A1001/").status_code == 200


def test_the_database_holds_the_keys_hash_never_the_key(alice_order):
    raw = create_api_key().strip()

    key = ApiKey.objects.get()
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.prefix == raw[:10]
    stored = [str(value) for value in ApiKey.objects.values_list().get()]
    assert not any(raw in value for value in stored)


def test_a_printed_key_opens_the_shops_api(alice_order):
    raw = create_api_key().strip()

    response = client_with(raw).get("/api/orders/A1001/")

    assert response.status_code == 200
    assert response.json()["customer_email"] == "alice@example.com"


def test_the_command_creates_a_service_account_that_cannot_sign_in():
    create_api_key("--owner", "checkout")

    owner = get_user_model().objects.get(username="checkout")
    assert not owner.has_usable_password()
    assert ApiKey.objects.get().owner == owner


def test_the_command_reuses_an_existing_owner():
    existing = UserFactory(username="checkout")

    create_api_key("--owner", "checkout")
    create_api_key("--owner", "checkout")

    assert ApiKey.objects.filter(owner=existing).count() == 2
    assert get_user_model().objects.filter(username="checkout").count() == 1


def test_the_command_refuses_an_empty_name():
    with pytest.raises(CommandError, match="--name must not be empty"):
        create_api_key("--name", "  ")
    assert not ApiKey.objects.exists()


def test_two_keys_are_never_the_same():
    first, second = create_api_key().strip(), create_api_key().strip()

    assert first != second
    assert ApiKey.objects.count() == 2


def test_a_revoked_key_is_refused(alice_order):
    raw = create_api_key().strip()
    ApiKey.objects.update(revoked_at=timezone.now())

    response = client_with(raw).get("/api/orders/A1001/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_key_of_a_deactivated_owner_is_refused(alice_order):
    raw = create_api_key("--owner", "checkout").strip()
    get_user_model().objects.filter(username="checkout").update(is_active=False)

    response = client_with(raw).get("/api/orders/")

    assert response.status_code == 401


def test_a_key_with_one_character_changed_is_refused(alice_order):
    raw = create_api_key().strip()
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")

    response = client_with(tampered).get("/api/orders/")

    assert response.status_code == 401


def test_using_a_key_records_when_it_was_last_used(alice_order):
    raw = create_api_key().strip()
    assert ApiKey.objects.get().last_used_at is None

    client_with(raw).get("/api/orders/")

    assert ApiKey.objects.get().last_used_at > timezone.now() - timedelta(minutes=1)


def test_last_used_is_written_at_most_once_a_minute(alice_order):
    raw = create_api_key().strip()
    recently = timezone.now() - timedelta(seconds=30)
    ApiKey.objects.update(last_used_at=recently)

    client_with(raw).get("/api/orders/")

    assert ApiKey.objects.get().last_used_at == recently
