"""The Analyst's CSV exports: the shop's own support data (its widget conversations, their
escalations, tool calls, and the shop's returns), counts and times only, and nothing of /v1 callers'
threads or of the Analyst's own."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.analyst import exports
from agents.analyst.threads import CHANNEL, SUPERVISOR_KEY
from agents.models import Escalation
from orders.models import Return
from runtime.models import Message, Run, RunStep, Thread, ToolCall
from runtime.serializers import text_part
from tests.agents.conftest import staff_member
from tests.factories import UserFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def say(thread: Thread, author: str, minutes: int, text: str) -> None:
    role = "user" if author in ("customer", "api") else "assistant"
    Message.objects.create(
        thread=thread, role=role, author=author, content=[text_part(text)], created_at=T0 + timedelta(minutes=minutes)
    )


def call(thread: Thread, index: int, name: str, *, status: str = "completed", ms: int = 40, error: str = "") -> None:
    run = thread.runs.first() or Run.objects.create(
        thread=thread, assistant=thread.assistant, model="m", status="completed"
    )
    step = RunStep.objects.get_or_create(run=run, type="tool_calls", defaults={"status": "completed"})[0]
    ToolCall.objects.create(
        step=step,
        index=index,
        call_id=f"call_{thread.pk}_{index}",
        name=name,
        arguments='{"order_number": "A1001", "email": "alice@example.com"}',
        output='{"status": "shipped", "customer": "Alice Example"}',
        side="server",
        status=status,
        error_code=error,
        duration_ms=ms,
        started_at=T0 + timedelta(minutes=1),
        finished_at=T0 + timedelta(minutes=1, milliseconds=ms),
    )


def rows(table: exports.Table) -> list[dict]:
    return list(csv.DictReader(io.StringIO(table.csv_bytes().decode())))


@pytest.fixture
def shop_data(assistant, alice, alice_order, agent):
    """Alice's widget conversation (tool calls, an escalation an agent resolved, her thanks), an
    anonymous one the assistant contained, a widget thread nobody wrote in, a /v1 caller's thread,
    a supervisor's analyst thread, and a refunded return."""
    alices = Thread.objects.create(
        assistant=assistant, customer=alice, metadata={"channel": "widget", "visitor": "v1"}, created_at=T0
    )
    say(alices, "customer", 0, "Where is my order A1001? I am alice@example.com")
    say(alices, "assistant", 1, "A1001 shipped yesterday.")
    say(alices, "customer", 2, "I want to talk to a human")
    say(alices, "agent", 5, "Hi Alice, Ann here.")
    say(alices, "customer", 6, "Perfect, thank you!")
    call(alices, 0, "get_order_status")
    call(alices, 1, "track_shipment", status="failed", error="carrier_unavailable", ms=900)
    Escalation.objects.create(
        thread=alices,
        trigger="customer_request",
        reason="The customer asked for a person: “I want to talk to a human”",
        status="resolved",
        assigned_to=agent,
        created_at=T0 + timedelta(minutes=2),
        sla_due_at=T0 + timedelta(minutes=17),
        assigned_at=T0 + timedelta(minutes=3),
        first_human_reply_at=T0 + timedelta(minutes=5),
        resolved_at=T0 + timedelta(minutes=7),
    )
    # No channel in its metadata (threads from before the widget said so): a conversation all the same.
    anonymous = Thread.objects.create(assistant=assistant, metadata={}, created_at=T0 + timedelta(hours=1))
    say(anonymous, "customer", 60, "Do you ship to Canada?")
    say(anonymous, "assistant", 61, "Yes.")
    Thread.objects.create(assistant=assistant, metadata={"channel": "widget"})  # opened, never written in

    developer = UserFactory(username="shop-backend")
    theirs = Thread.objects.create(owner=developer, assistant=assistant)
    say(theirs, "api", 0, "secret developer question")
    say(theirs, "assistant", 1, "an answer")
    call(theirs, 0, "their_function")

    supervisor = staff_member("sue", group="Supervisors")
    analysts = Thread.objects.create(
        assistant=assistant, metadata={"channel": CHANNEL, SUPERVISOR_KEY: str(supervisor.pk)}
    )
    say(analysts, "api", 0, "plot conversations per day")
    call(analysts, 0, "code_interpreter")

    item = alice_order.items.first()
    refund = Return.objects.create(
        order=alice_order,
        item=item,
        quantity=1,
        reason="defective",
        note="It arrived cracked, call me on 555-0100",
        status="refunded",
        refund_amount=Decimal("12.50"),
        currency="USD",
        channel="assistant",
        decision_note="Approved by Ann",
        created_at=T0 + timedelta(days=1),
        refunded_at=T0 + timedelta(days=3),
    )
    return {"alice": alices, "anonymous": anonymous, "theirs": theirs, "analyst": analysts, "return": refund}


def test_conversations_are_the_shop_widget_threads_a_customer_wrote_in(shop_data):
    found = rows(exports.CONVERSATIONS)

    assert [r["thread_id"] for r in found] == [shop_data["alice"].public_id, shop_data["anonymous"].public_id]
    alice = found[0]
    assert alice["created_at"] == timezone.localtime(T0).strftime("%Y-%m-%d %H:%M:%S")
    assert alice["channel"] == "widget"
    assert alice["signed_in"] == "True"
    assert (alice["messages"], alice["customer_messages"], alice["assistant_messages"], alice["agent_messages"]) == (
        "5",
        "3",
        "1",
        "1",
    )
    assert alice["tool_calls"] == "2"
    assert (alice["escalated"], alice["escalations"]) == ("True", "1")
    assert alice["resolved_at"] == timezone.localtime(T0 + timedelta(minutes=7)).strftime("%Y-%m-%d %H:%M:%S")
    assert alice["resolution"] == "confirmed"  # "Perfect, thank you!"
    anonymous = found[1]
    assert (anonymous["channel"], anonymous["signed_in"], anonymous["escalated"]) == ("", "False", "False")
    assert anonymous["tool_calls"] == "0"
    assert anonymous["resolution"] == "assumed"  # answered, and quiet for 24 hours since


def test_escalations_give_times_and_the_agent_not_the_reason(shop_data):
    (row,) = rows(exports.ESCALATIONS)

    assert row["thread_id"] == shop_data["alice"].public_id
    assert (row["trigger"], row["priority"], row["status"], row["agent"]) == (
        "customer_request",
        "normal",
        "resolved",
        "ann",
    )
    assert (row["seconds_to_first_reply"], row["seconds_to_resolve"], row["sla_met"]) == ("180", "300", "True")
    assert "reason" not in row


def test_returns_give_state_reason_and_refund_without_the_notes(shop_data):
    (row,) = rows(exports.RETURNS)

    assert row["return_id"] == str(shop_data["return"].pk)
    assert (row["status"], row["reason"], row["channel"], row["product"]) == (
        "refunded",
        "defective",
        "assistant",
        "MUG-1",
    )
    assert (row["quantity"], row["refund_amount"], row["currency"]) == ("1", "12.50", "USD")
    assert row["refunded_at"] and not row["decided_at"]


def test_tool_calls_are_the_shop_conversations_only(shop_data):
    found = rows(exports.TOOL_CALLS)

    assert [(r["name"], r["status"], r["error_code"], r["duration_ms"]) for r in found] == [
        ("get_order_status", "completed", "", "40"),
        ("track_shipment", "failed", "carrier_unavailable", "900"),
    ]
    assert {r["thread_id"] for r in found} == {shop_data["alice"].public_id}


def test_no_export_holds_what_anyone_wrote_or_who_the_customer_is(shop_data):
    everything = b"".join(data for _, data in exports.export_all()).decode()

    for private in (
        "alice@example.com",
        "Alice",
        "A1001",  # order numbers in messages and tool arguments
        "talk to a human",
        "Perfect",
        "Canada",
        "cracked",
        "555-0100",
        "Approved by Ann",
        "secret developer question",
        "their_function",
        "code_interpreter",
        shop_data["theirs"].public_id,
        shop_data["analyst"].public_id,
    ):
        assert private not in everything, private


def test_each_file_keeps_the_most_recent_rows_up_to_the_cap(shop_data, monkeypatch):
    monkeypatch.setattr(exports, "MAX_ROWS", 1)

    assert [r["thread_id"] for r in rows(exports.CONVERSATIONS)] == [shop_data["anonymous"].public_id]
    assert [r["name"] for r in rows(exports.TOOL_CALLS)] == ["track_shipment"]


def test_every_file_has_its_documented_header_even_with_no_data(db):
    for table in exports.TABLES:
        assert table.csv_bytes().decode().splitlines() == [",".join(c.name for c in table.columns)]
