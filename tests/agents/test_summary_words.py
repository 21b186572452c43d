"""The AI summary in words: a raw result code a model copies from a tool's answer (`awaiting_approval`)
reaches the person taking over as words, in what the task stores and broadcasts and on the page
(summaries stored before this show in words too)."""

from __future__ import annotations

import json

import pytest

from agents.models import Escalation
from agents.services import escalate
from agents.tasks import write_summary
from runtime import runs
from tests.agents.conftest import console_url

pytestmark = pytest.mark.django_db

SUMMARY = {
    "headline": "Refund for order A1001 waits for approval",
    "problem": "Wants a refund for two mugs.",
    "customer": "Alice",
    "verified_orders": ["A1001"],
    "actions_taken": ["Return for order A1001: awaiting_approval"],
    "open_items": ["Refund awaiting_approval"],
    "mood": "calm",
    "suggested_next_step": "Decide the refund.",
}


def test_the_task_stores_and_broadcasts_the_summary_in_words(scripted, thread, tap):
    runs.message_create(thread=thread, role="user", content="Refund my mugs please", author="customer")
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked")
    listener = tap(thread.public_id)
    scripted.text(json.dumps(SUMMARY))

    assert write_summary(escalation.pk) is True

    escalation.refresh_from_db()
    assert escalation.summary["actions_taken"] == ["Return for order A1001: waiting for a person's approval"]
    assert escalation.summary["open_items"] == ["Refund waiting for a person's approval"]
    published = [m for m in listener.drain() if m["event"] == "escalation.summary"]
    assert published[-1]["data"]["summary"] == escalation.summary


def test_a_summary_stored_raw_is_shown_in_words(agent_client, escalated, thread):
    Escalation.objects.filter(pk=escalated.pk).update(summary=SUMMARY)

    page = agent_client.get(console_url(thread)).content.decode()

    assert "Return for order A1001: waiting for a person&#x27;s approval" in page
    assert "awaiting_approval" not in page
