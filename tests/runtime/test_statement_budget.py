"""The statement budget of a customer's message: every SQL statement its turn makes, on every
connection (the tools' threads included), from the message stored to the answer stored.

The engine's cost is mostly Python building ORM statements (docs/benchmarks.md), so a change that
adds one to this path fails here: lower the budget when a change saves statements, raise it only
with the reason in the commit. Counted with the run executed inline, on the demo shop's data.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.backends.signals import connection_created

from orders.assistant.persona import default_assistant
from orders.models import Customer
from runtime import runs
from runtime.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

# Statements per turn: (SQLite, which also counts each BEGIN; PostgreSQL).
BUDGET = {
    "greeting": (17, 14),
    "order question, anonymous": (30, 25),
    "tracking question, the order proven": (28, 24),
    "order question, signed in": (30, 25),
}


class StatementCounter:
    def __init__(self) -> None:
        self.count = Counter()
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self._lock:
            self.count[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    def total(self) -> int:
        return sum(self.count.values())


@pytest.fixture
def counter():
    """Counts on every connection, those opened by other threads during the test included."""
    counting = StatementCounter()

    def install(sender, connection, **kwargs):
        if counting not in connection.execute_wrappers:
            connection.execute_wrappers.append(counting)

    connection_created.connect(install, weak=False, dispatch_uid="tests.statement_budget")
    connection.execute_wrappers.append(counting)
    yield counting
    connection_created.disconnect(dispatch_uid="tests.statement_budget")
    for conn in connections.all(initialized_only=True):
        if counting in conn.execute_wrappers:
            conn.execute_wrappers.remove(counting)


def statements(counter: StatementCounter, thread, text: str) -> int:
    counter.count.clear()
    runs.customer_message_create(thread=thread, text=text)
    return counter.total()


def budget(turn: str) -> int:
    sqlite, postgresql = BUDGET[turn]
    return sqlite if connection.vendor == "sqlite" else postgresql


def test_a_customers_turns_stay_within_their_statement_budgets(counter):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assistant = default_assistant()
    anonymous = runs.thread_create(assistant=assistant)
    signed_in = runs.thread_create(assistant=assistant, customer=Customer.objects.get(email="alice@example.com"))

    used = {
        "greeting": statements(counter, anonymous, "Hello!"),
        "order question, anonymous": statements(
            counter, anonymous, "Where is my order A1001? My email is alice@example.com"
        ),
        "tracking question, the order proven": statements(counter, anonymous, "Can you track the parcel for A1001?"),
        "order question, signed in": statements(counter, signed_in, "Where is my order A1001?"),
    }

    assert Run.objects.filter(status=Run.Status.COMPLETED).count() == len(BUDGET)  # each turn was answered
    assert used == {turn: budget(turn) for turn in BUDGET}, "a turn's statements changed: see the docstring"
