"""Each event type is emitted by the real change it tells of, with the data a shop needs and no more."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from agents import services as agents
from agents.permissions import AGENTS_GROUP
from common.actors import Actor
from common.errors import InvalidState
from common.signals import send_on_commit
from orders import services as orders
from orders.assistant.persona import ensure_demo_assistant
from runtime import hooks, runs
from runtime.models import Thread
from runtime.runs import ratings
from tests.agents.conftest import staff_member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def events(receiver) -> list[dict]:
    return [json.loads(request.body) for request in receiver.requests]


def test_requesting_and_approving_a_return_emit_return_requested_then_approved(receiver, endpoint, alice, alice_order):
    ret = orders.return_request(
        actor=Actor.customer(alice.pk),
        order_number="A1001",
        item="MUG-1",
        quantity=2,
        reason="defective",
        channel="api",
    )
    orders.return_approve(actor=Actor.staff("sam"), return_id=ret.pk, note="Photos show the crack.")

    requested, approved = events(receiver)
    assert requested["type"] == "return.requested" and approved["type"] == "return.approved"
    assert requested["data"]["return"]["status"] == "requested"
    assert approved["data"] == {
        "return": {
            "id": ret.pk,
            "status": "approved",
            "reason": "defective",
            "sku": "MUG-1",
            "quantity": 2,
            "refund_amount": "25.00",
            "currency": "USD",
            "channel": "api",
            "requested_at": approved["data"]["return"]["requested_at"],
            "decided_at": approved["data"]["return"]["decided_at"],
        },
        "order": {"number": "A1001", "customer": {"id": alice.pk, "external_id": "cust-alice"}},
    }
    assert approved["data"]["return"]["decided_at"].endswith("Z")


def test_no_personal_data_beyond_ids_leaves_in_an_event(receiver, endpoint, alice, alice_order):
    orders.return_request(
        actor=Actor.customer(alice.pk),
        order_number="A1001",
        item="MUG-1",
        reason="other",
        note="Call me on +1 555 0100, I live at 1 Main St",
        channel="api",
    )

    body = receiver.requests[0].body.decode()
    for personal in ("alice@example.com", "Alice", "555 0100", "Main St"):
        assert personal not in body


def test_a_return_rejected_emits_nothing(receiver, endpoint, alice, alice_order):
    ret = orders.return_request(
        actor=Actor.customer(alice.pk), order_number="A1001", item="MUG-1", reason="defective", channel="api"
    )
    orders.return_reject(actor=Actor.staff("sam"), return_id=ret.pk)

    assert [e["type"] for e in events(receiver)] == ["return.requested"]


def test_escalating_and_resolving_emit_conversation_escalated_then_resolved(receiver, endpoint, thread, alice):
    thread.customer = alice
    thread.save(update_fields=["customer"])
    agent = staff_member("ann", group=AGENTS_GROUP)

    escalation = agents.escalate(
        thread=thread, trigger="customer_request", reason="My card number is 4111…", priority="high"
    )
    agents.escalate(thread=thread, trigger="frustration", reason="again", priority="urgent")  # raises its priority
    agents.claim(escalation=escalation, agent=agent)
    agents.resolve(escalation=escalation, agent=agent)

    escalated, resolved = events(receiver)
    assert escalated["type"] == "conversation.escalated" and resolved["type"] == "conversation.resolved"
    conversation = {
        "id": thread.public_id,
        "channel": "api",
        "customer": {"id": alice.pk, "external_id": "cust-alice"},
        "created_at": escalated["data"]["conversation"]["created_at"],
    }
    assert escalated["data"]["conversation"] == resolved["data"]["conversation"] == conversation
    assert escalated["data"]["escalation"]["id"] == escalation.pk
    assert escalated["data"]["escalation"]["trigger"] == "customer_request"
    assert (escalated["data"]["escalation"]["status"], escalated["data"]["escalation"]["priority"]) == (
        "waiting",
        "high",
    )
    assert resolved["data"]["escalation"]["status"] == "resolved"
    assert resolved["data"]["escalation"]["resolved_at"] is not None
    assert "4111" not in receiver.requests[0].body.decode()  # the reason is what someone typed: not sent


def test_a_visitor_opening_the_widget_emits_conversation_created(receiver, endpoint):
    ensure_demo_assistant()

    session = Client().post("/chat/session/", {}, content_type="application/json").json()

    (created,) = events(receiver)
    assert created["type"] == "conversation.created"
    assert created["data"]["conversation"]["id"] == session["thread_id"]
    assert created["data"]["conversation"]["channel"] == "widget"
    assert created["data"]["conversation"]["customer"] is None  # an anonymous visitor
    assert "visitor" not in json.dumps(created)


def test_a_v1_thread_is_not_a_conversation_even_when_its_metadata_says_widget(receiver, endpoint, assistant):
    developer = UserFactory(username="developer")

    runs.thread_create(owner=developer, assistant=assistant, metadata={"channel": "widget"})

    assert receiver.requests == []


def test_a_customers_rating_emits_csat_submitted_without_their_comment(receiver, endpoint, thread):
    runs.threads.close(thread.pk)
    thread.refresh_from_db()

    rating = ratings.rating_submit(thread=thread, score=2)
    ratings.rating_comment(thread=thread, text="Took too long, Jane Doe here")

    (rated,) = events(receiver)  # one event: the rating; the comment is not sent on
    assert rated["type"] == "csat.submitted"
    assert rated["data"] == {
        "conversation": {
            "id": thread.public_id,
            "channel": "api",
            "customer": None,
            "created_at": rated["data"]["conversation"]["created_at"],
        },
        "rating": 2,
        "scale": 5,
        "submitted_at": rated["data"]["submitted_at"],
    }
    assert rated["data"]["submitted_at"].endswith("Z") and rating.score == 2
    assert "Jane" not in json.dumps(rated)


def test_a_refused_rating_emits_nothing(receiver, endpoint, thread):
    with pytest.raises(InvalidState):
        ratings.rating_submit(thread=thread, score=5)  # the conversation is still going
    assert receiver.requests == []


def test_a_rating_sent_as_documented_emits_csat_submitted(receiver, endpoint, thread):
    """The signal's contract, as docs/webhooks.md gives it to whatever else stores a rating."""
    submitted_at = timezone.now()

    send_on_commit(hooks.csat_submitted, sender=Thread, thread=thread, rating=4, scale=5, submitted_at=submitted_at)

    (rated,) = events(receiver)
    assert rated["type"] == "csat.submitted"
    assert rated["data"]["conversation"]["id"] == thread.public_id
    assert (rated["data"]["rating"], rated["data"]["scale"]) == (4, 5)
