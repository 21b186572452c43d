"""The backup recipe of docs/deployment.md, run: `pg_dump -Fc` of a database holding the demo shop
and a conversation, `pg_restore` into a fresh database, and the conversation read back from it, with
the application's migrations all applied there."""

from __future__ import annotations

import io
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from orders.assistant.persona import ensure_demo_assistant
from orders.models import Order
from runtime import runs
from runtime.models import Message, Thread
from tests import needs

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump reads what is committed

QUESTION = "Where is my order A1001? My email is alice@example.com"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
PROJECT = Path(__file__).resolve().parents[2]


def postgres_tool(name: str) -> str:
    found = shutil.which(name) or (str(POSTGRES_BIN / name) if (POSTGRES_BIN / name).exists() else None)
    if found is None:
        needs.missing(f"{name} is not installed", "apt-get install postgresql-client")
    return found


@pytest.fixture
def fresh_database():
    """The name of an empty database on the test's server, dropped afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("The backup recipe is PostgreSQL's (pg_dump, pg_restore); this run is on SQLite.")
    name = f"{connection.settings_dict['NAME']}_restored_{secrets.token_hex(3)}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url_of(database: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{database}"


def libpq_environment() -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        "PGHOST": db["HOST"] or "localhost",
        "PGPORT": str(db["PORT"] or 5432),
        "PGUSER": db["USER"],
        **({"PGPASSWORD": db["PASSWORD"]} if db["PASSWORD"] else {}),
    }


def test_a_dump_restored_into_a_fresh_database_holds_the_demo_conversation(fresh_database, tmp_path):
    call_command("seed_demo", stdout=io.StringIO())
    thread = runs.thread_create(assistant=ensure_demo_assistant()[0])
    runs.customer_message_create(thread=thread, text=QUESTION)  # answered by the offline model
    conversation = [(m.role, m.text) for m in thread.messages.order_by("created_at", "id")]
    assert len(conversation) == 2 and "Delivered" in conversation[1][1]
    dump = tmp_path / "concierge.dump"
    env = libpq_environment()

    subprocess.run(
        [postgres_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(dump), connection.settings_dict["NAME"]],
        env=env,
        check=True,
    )
    subprocess.run(
        [postgres_tool("pg_restore"), "--no-owner", "--exit-on-error", "-d", fresh_database, str(dump)],
        env=env,
        check=True,
    )

    restored_url = url_of(fresh_database)
    with psycopg.connect(restored_url) as restored:
        rows = restored.execute(
            f"SELECT m.role, m.content FROM {Message._meta.db_table} m JOIN {Thread._meta.db_table} t"
            " ON t.id = m.thread_id WHERE t.public_id = %s ORDER BY m.created_at, m.id",
            [thread.public_id],
        ).fetchall()
        orders = restored.execute(f"SELECT count(*) FROM {Order._meta.db_table}").fetchone()[0]
    assert [(role, "".join(p["text"]["value"] for p in content if p["type"] == "text")) for role, content in rows] == (
        conversation
    )
    assert orders == Order.objects.count() > 0
    # The application finds every migration applied there: it can run on the restored database.
    check = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"],
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": restored_url, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
