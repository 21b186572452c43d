"""The assistant never answers while a person owns the conversation, including a run that had
already started (or was queued) when the agent took over."""

from __future__ import annotations

import time

import pytest

from agents.models import Escalation
from agents.services import claim, escalate, hand_back
from runtime import runs
from runtime.engine.runner import execute_run
from runtime.errors import ThreadNotAnswering
from runtime.models import Message, Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)


def customer_says(thread: Thread, text: str) -> Message:
    return runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def assistant_posts(thread: Thread):
    return thread.messages.filter(author=Message.Author.ASSISTANT, status=Message.Status.COMPLETED)


def test_a_queued_run_is_cancelled_by_the_takeover_and_never_posts(agent, thread):
    customer_says(thread, "Where is my order A1001? alice@example.com")
    run = Run.objects.create(thread=thread, assistant=thread.assistant, model="gpt-4o-mini")  # queued, not started
    escalation = escalate(thread=thread, trigger="customer_request", reason="asked for a person")

    claim(escalation=escalation, agent=agent)

    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    execute_run(run.pk)  # the worker gets to it late: it must do nothing
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert not assistant_posts(thread).exists()


def test_a_run_streaming_when_the_agent_takes_over_stops_and_posts_nothing(settings, agent, thread, alice_order):
    settings.RUN_DISPATCH = "thread"  # the run (and the summary) go on in the background, as when served
    settings.OFFLINE_MODEL_TOKEN_DELAY_MS = 40  # a slow answer, so the takeover lands mid-stream
    settings.STREAM_BATCH_MS = 10
    customer_says(thread, "Where is my order A1001? My email is alice@example.com")
    run = runs.run_create(thread=thread, assistant=thread.assistant)
    # The answer has started streaming into the customer's widget.
    wait_for(lambda: thread.messages.filter(status=Message.Status.IN_PROGRESS, author="assistant").exists())

    escalation = escalate(thread=thread, trigger="customer_request", reason="asked for a person")
    claim(escalation=escalation, agent=agent)

    wait_for(lambda: Run.objects.get(pk=run.pk).is_terminal)
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert not assistant_posts(thread).exists()
    cut = thread.messages.get(author=Message.Author.ASSISTANT)
    assert cut.status == Message.Status.INCOMPLETE and cut.incomplete_details == {"reason": "run_cancelled"}
    wait_for(lambda: Escalation.objects.get(pk=escalation.pk).summary is not None)  # the background summary


def test_no_run_can_start_while_a_person_owns_the_thread(agent, thread):
    claim(escalation=escalate(thread=thread, trigger="customer_request", reason="asked"), agent=agent)
    customer_says(thread, "hello?")
    with pytest.raises(ThreadNotAnswering):
        runs.run_create(thread=thread, assistant=thread.assistant)


def test_the_assistant_answers_again_once_handed_back(agent, thread):
    escalation = claim(escalation=escalate(thread=thread, trigger="customer_request", reason="asked"), agent=agent)
    hand_back(escalation=escalation, agent=agent)
    customer_says(thread, "hello")
    run = runs.run_create(thread=thread, assistant=thread.assistant)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert assistant_posts(thread).count() == 1
