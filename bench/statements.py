"""Statements (and Redis round trips) per customer turn, every connection counted, the tools' threads
included: a greeting, an order question, a tracking question, and a signed-in order question, on the
demo shop's data, each run executed inline. Deterministic, unlike CPU time: compare commits with it.

    .venv/bin/python bench/statements.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concierge_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/statements.py

`--show` also prints each turn's statements (thread, SQL). Prints figures; it asserts nothing
(tests/runtime/test_statement_budget.py holds the counts).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["RUN_DISPATCH"] = "inline"
os.environ["OFFLINE_MODEL_TOKEN_DELAY_MS"] = "0"
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "localhost")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.counting import Counted, counting  # noqa: E402
from orders.assistant.persona import default_assistant  # noqa: E402
from orders.models import Customer  # noqa: E402
from runtime import runs  # noqa: E402


def turn(counted: Counted, thread, text: str) -> tuple[int, int]:
    counted.clear()
    runs.customer_message_create(thread=thread, text=text)
    if "--show" in sys.argv:
        print(f"--- {text}", *counted.shown, sep="\n")
    return counted.sql, counted.redis


def main() -> None:
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", force=True, stdout=quiet)
        assistant = default_assistant()
        alice = Customer.objects.get(email="alice@example.com")
        for _ in range(2):  # the first pass warms caches; the second is printed
            anonymous = runs.thread_create(assistant=assistant)
            signed_in = runs.thread_create(assistant=assistant, customer=alice)
            with counting() as counted:
                figures = {
                    "greeting": turn(counted, anonymous, "Hello!"),
                    "order question, anonymous": turn(
                        counted, anonymous, "Where is my order A1001? My email is alice@example.com"
                    ),
                    "tracking question, the order proven": turn(
                        counted, anonymous, "Can you track the parcel for A1001?"
                    ),
                    "order question, signed in": turn(counted, signed_in, "Where is my order A1001?"),
                }
        print(f"database: {connection.vendor}")
        for name, (sql, round_trips) in figures.items():
            print(f"{name:<38} {sql:>3} statements  {round_trips:>3} Redis round trips")
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


if __name__ == "__main__":
    main()
