"""The AI summary of an escalated conversation: schema-valid, never overwritten by an older run of
the task, and never in the way of the escalation itself."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import jsonschema
import pytest
from django.utils import timezone

from agents.models import Escalation
from agents.services import agent_reply, claim, escalate, retry_missing_summaries
from agents.tasks import write_summary
from runtime import runs, summaries
from runtime.models import Message
from runtime.summaries import SUMMARY_SCHEMA

pytestmark = pytest.mark.django_db(transaction=True)


def conversation(thread) -> None:
    runs.message_create(
        thread=thread, role="user", content="Where is order A1001? alice@example.com", author=Message.Author.CUSTOMER
    )
    runs.message_create(
        thread=thread, role="user", content="This is taking forever, I want a human", author=Message.Author.CUSTOMER
    )


def test_the_summary_is_written_and_valid_against_its_schema(thread, alice_order, tap):
    conversation(thread)
    listener = tap(thread.public_id)
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked for a person")

    escalation.refresh_from_db()
    jsonschema.validate(escalation.summary, SUMMARY_SCHEMA)
    assert "A1001" in escalation.summary["headline"]
    assert escalation.summary["mood"] in summaries.MOODS
    assert escalation.summary_updated_at is not None
    published = [m for m in listener.drain() if m["event"] == "escalation.summary"]
    assert published and published[-1]["data"]["summary"] == escalation.summary


def test_an_older_run_of_the_task_never_overwrites_a_newer_summary(thread):
    conversation(thread)
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked")
    newer = {**Escalation.objects.get(pk=escalation.pk).summary, "headline": "Written by a later run"}
    # A later run of the task finished first, while this one was still waiting for the model.
    Escalation.objects.filter(pk=escalation.pk).update(
        summary=newer, summary_updated_at=timezone.now() + timedelta(seconds=5)
    )

    assert write_summary(escalation.pk) is False

    escalation.refresh_from_db()
    assert escalation.summary == newer


def test_a_refresh_replaces_an_older_summary(thread):
    conversation(thread)
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked")
    Escalation.objects.filter(pk=escalation.pk).update(
        summary={"headline": "stale"}, summary_updated_at=timezone.now() - timedelta(minutes=5)
    )
    assert write_summary(escalation.pk) is True
    escalation.refresh_from_db()
    jsonschema.validate(escalation.summary, SUMMARY_SCHEMA)
    assert escalation.summary["headline"] != "stale"


def test_escalating_never_waits_for_the_summary(settings, thread, monkeypatch):
    settings.RUN_DISPATCH = "thread"  # background work off the caller's thread, as when served
    conversation(thread)
    model_may_answer = threading.Event()
    real_summarize = summaries.summarize

    def slow_summarize(*args, **kwargs):
        model_may_answer.wait(timeout=20)  # a model that takes its time
        return real_summarize(*args, **kwargs)

    monkeypatch.setattr("agents.tasks.summarize", slow_summarize)

    started = time.monotonic()
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked")
    took = time.monotonic() - started

    assert took < 2
    escalation.refresh_from_db()
    assert escalation.summary is None and escalation.status == Escalation.Status.WAITING
    thread.refresh_from_db()
    assert thread.mode == "waiting_human"

    model_may_answer.set()
    deadline = time.monotonic() + 20
    while Escalation.objects.get(pk=escalation.pk).summary is None:
        assert time.monotonic() < deadline, "the summary was never written"
        time.sleep(0.05)
    jsonschema.validate(Escalation.objects.get(pk=escalation.pk).summary, SUMMARY_SCHEMA)


def test_a_failing_model_leaves_the_escalation_without_a_summary(thread, monkeypatch):
    conversation(thread)
    monkeypatch.setattr("agents.tasks.summarize", lambda *args, **kwargs: None)
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked")
    escalation.refresh_from_db()
    assert escalation.summary is None and escalation.status == Escalation.Status.WAITING


def test_a_summary_that_failed_is_tried_again_until_it_is_written(settings, thread, monkeypatch):
    settings.SUMMARY_REFRESH_SECONDS = 30
    conversation(thread)
    write = summaries.summarize
    monkeypatch.setattr("agents.tasks.summarize", lambda *args, **kwargs: None)  # the model is down
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked")
    assert retry_missing_summaries() == 0  # too early: the first attempt may still be under way

    Escalation.objects.filter(pk=escalation.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    assert retry_missing_summaries() == 1  # failed again: still missing
    monkeypatch.setattr("agents.tasks.summarize", write)  # the model is back
    assert retry_missing_summaries() == 1

    jsonschema.validate(Escalation.objects.get(pk=escalation.pk).summary, SUMMARY_SCHEMA)
    assert retry_missing_summaries() == 0


def test_the_summary_names_the_signed_in_customer_the_card_shows(thread, alice):
    thread.customer = alice
    thread.save(update_fields=["customer"])
    runs.message_create(thread=thread, role="user", content="I want a human please", author=Message.Author.CUSTOMER)

    escalation = escalate(thread=thread, trigger="customer_request", reason="asked")

    escalation.refresh_from_db()
    assert escalation.summary["customer"] == "Alice Example <alice@example.com> (signed in)"


def test_a_persons_first_reply_rewrites_the_summary_at_once(settings, thread, alice, agent):
    settings.SUMMARY_REFRESH_SECONDS = 3600  # only a change in the situation may refresh it now
    thread.customer = alice
    thread.save(update_fields=["customer"])
    runs.message_create(thread=thread, role="user", content="I want a human please", author=Message.Author.CUSTOMER)
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked")
    escalation.refresh_from_db()
    assert "The customer is waiting for a person to reply" in escalation.summary["open_items"]

    claim(escalation=escalation, agent=agent)
    agent_reply(escalation=escalation, agent=agent, text="Hi Alice, I'm Ann. How can I help?")

    escalation.refresh_from_db()
    assert "The customer is waiting for a person to reply" not in escalation.summary["open_items"]
    assert "Ann replied; waiting for the customer's answer" in escalation.summary["open_items"]
    assert "waiting for a person" not in escalation.summary["suggested_next_step"]
