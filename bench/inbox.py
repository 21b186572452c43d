"""The console inbox's speed: one page of /console/conversations/ at 10k conversations.

Makes CONVERSATIONS widget conversations (a customer for one in three, four messages each: the
customer, the assistant, the customer, the assistant; an order verified in one in five; a tag on
one in ten; an escalation with a summary on one in twenty), bulk-inserted, then times the inbox's
queries as the page runs them (agents.inbox.page_of: the count, the page, the rows' lookups), each
REPEATS times: the whole list, a search for a word of a message that few conversations have, one
that many have, an order number, an e-mail, and a search with filters. Run it on a fresh database.

    .venv/bin/python bench/inbox.py                                           # SQLite (a temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concierge_bench_inbox .venv/bin/python bench/inbox.py
    .venv/bin/python bench/inbox.py --conversations 1000                      # smaller, quicker

Prints figures; it asserts nothing. Record them in docs/benchmarks.md with the command.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DEBUG"] = "false"
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents import inbox  # noqa: E402
from agents.models import ConversationTag, Escalation  # noqa: E402
from orders.models import Customer, Order, VerifiedOrder  # noqa: E402
from runtime.models import Message, Thread  # noqa: E402

WORDS = [
    "order",
    "parcel",
    "delivery",
    "refund",
    "return",
    "mug",
    "kettle",
    "lamp",
    "chair",
    "blanket",
    "late",
    "damaged",
    "cracked",
    "missing",
    "tracking",
    "address",
    "invoice",
    "payment",
    "card",
    "discount",
    "size",
    "colour",
    "exchange",
    "warranty",
    "broken",
]
REPEATS = 7


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def part(value: str) -> list[dict]:
    return [{"type": "text", "text": {"value": value, "annotations": []}}]


def populate(count: int) -> None:
    rng = random.Random(7)
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        Customer(name=f"Customer {i}", email=f"customer{i}@example.com", external_id=f"bench-{i}")
        for i in range(count // 3)
    )
    orders = Order.objects.bulk_create(
        Order(customer=customers[i % len(customers)], number=f"B{100000 + i}", placed_at=now, total=10, currency="USD")
        for i in range(count // 5)
    )
    threads = Thread.objects.bulk_create(
        Thread(customer=customers[i] if i < len(customers) else None, metadata={"channel": "widget"})
        for i in range(count)
    )
    messages = []
    for i, thread in enumerate(threads):
        start = now - timedelta(minutes=i)
        for turn, author in enumerate(["customer", "assistant", "customer", "assistant"]):
            words = text(rng, 8 if author == "customer" else 25)
            if author == "customer" and turn == 0 and i % 500 == 0:
                words += " zeppelin"  # a word few conversations have
            messages.append(
                Message(
                    thread=thread,
                    role="user" if author == "customer" else "assistant",
                    author=author,
                    content=part(words),
                    created_at=start + timedelta(seconds=turn),
                )
            )
    Message.objects.bulk_create(messages, batch_size=2000)
    VerifiedOrder.objects.bulk_create(VerifiedOrder(thread=threads[i * 5], order=o) for i, o in enumerate(orders))
    ConversationTag.objects.bulk_create(ConversationTag(thread=threads[i], name="vip") for i in range(0, count, 10))
    Escalation.objects.bulk_create(
        Escalation(
            thread=threads[i],
            trigger="customer_request",
            reason="bench",
            sla_due_at=now,
            summary={"headline": "bench", "mood": rng.choice(["calm", "angry"])},
        )
        for i in range(0, count, 20)
    )


def timed(filters: inbox.InboxFilters, user) -> tuple[float, float, int, int]:
    """Median and max milliseconds of one page, its statement count, and how many matched."""
    times = []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            page, _rows = inbox.page_of(filters, user=user)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), len(queries), page.paginator.count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if Customer.objects.filter(external_id__startswith="bench-").exists():
        sys.exit("This database has a bench's conversations already: use a fresh one.")
    with transaction.atomic():
        started = time.perf_counter()
        populate(args.conversations)
    print(f"{connection.vendor}: {args.conversations} conversations made in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have by then: fresh statistics for the planner
    user, _ = get_user_model().objects.get_or_create(username="bench-agent")
    cases = [
        ("the whole list", inbox.InboxFilters()),
        ("a rare word (zeppelin)", inbox.InboxFilters(q="zeppelin")),
        ("a common word (refund)", inbox.InboxFilters(q="refund")),
        ("an order number", inbox.InboxFilters(q="B100042")),
        ("an e-mail", inbox.InboxFilters(q="customer42@example.com")),
        ("a word, angry, tagged vip", inbox.InboxFilters(q="refund", mood="angry", tag="vip")),
        ("customer waiting > 1 h", inbox.InboxFilters(waiting="1h")),
    ]
    print("| search | median ms | max ms | statements | matches |")
    print("| --- | --- | --- | --- | --- |")
    for label, filters in cases:
        median, worst, statements, matches = timed(filters, user)
        print(f"| {label} | {median:.0f} | {worst:.0f} | {statements} | {matches} |")


if __name__ == "__main__":
    main()
