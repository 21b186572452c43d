"""Every way a conversation reaches a person, each through its real path, each recording its trigger."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from agents.models import Escalation
from agents.triggers import check_customer_message
from config.asgi import application
from orders.assistant.persona import ensure_demo_assistant
from runtime import runs
from runtime.models import Message, Run, Thread
from tests.agents.conftest import console_url, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def customer_says(thread: Thread, text: str) -> Message:
    return runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)


def test_the_models_escalate_tool_hands_the_conversation_over(thread, tap):
    """The offline model, through the SDK, the engine and the tool registry, calls escalate_to_human."""
    listener = tap(thread.public_id)
    customer_says(thread, "I'd like to speak with a representative please")
    run = runs.run_create(thread=thread, assistant=thread.assistant)

    run.refresh_from_db()
    thread.refresh_from_db()
    escalation = Escalation.objects.get(thread=thread)
    assert escalation.trigger == Escalation.Trigger.MODEL_TOOL
    assert thread.mode == Thread.Mode.WAITING_HUMAN
    assert run.steps.filter(tool_calls__name="escalate_to_human", tool_calls__status="completed").exists()
    assert "conversation.escalated" in [m["event"] for m in listener.drain()]
    assert escalation.summary is not None  # written in the background (inline in tests)


@pytest.fixture
def widget_ready(settings, db):
    settings.RUN_DISPATCH = "thread"
    ensure_demo_assistant()


async def chat(text: str) -> tuple[str, list[dict]]:
    """A visitor opens the widget and sends `text`; returns the thread id and what the widget received."""
    session = await database_sync_to_async(
        lambda: Client().post("/chat/session/", {}, content_type="application/json").json()
    )()
    comm = WebsocketCommunicator(
        application,
        f"/ws/chat/?ticket={session['ticket']}",
        headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")],
    )
    connected, _ = await comm.connect(timeout=5)
    assert connected
    await comm.receive_json_from()  # hello
    await comm.send_json_to({"type": "message", "text": text, "client_id": "c1"})
    seen = [await receive_until(comm, lambda m: m.get("type") == "ack")]
    seen.append(await receive_until(comm, lambda m: m.get("type") == "handoff"))
    await comm.disconnect()
    return session["thread_id"], seen


async def test_a_customer_asking_for_a_person_over_the_chat_socket_is_handed_over(widget_ready):
    thread_id, seen = await chat("Can I talk to a real person please?")

    assert seen[-1] == {
        "type": "handoff",
        "state": "waiting",
        "message": "A person from our team will join shortly.",
        "seq": seen[-1]["seq"],
    }
    escalation = await database_sync_to_async(Escalation.objects.get)(thread__public_id=thread_id)
    assert escalation.trigger == Escalation.Trigger.CUSTOMER_REQUEST
    assert "Can I talk to a real person please?" in escalation.reason
    runs = await database_sync_to_async(Run.objects.filter(thread__public_id=thread_id).count)()
    assert runs == 0  # the rule answered; the assistant was not asked


async def test_a_strongly_frustrated_customer_is_handed_over_with_high_priority(widget_ready):
    thread_id, _ = await chat("This is useless, absolutely RIDICULOUS")
    escalation = await database_sync_to_async(Escalation.objects.get)(thread__public_id=thread_id)
    assert (escalation.trigger, escalation.priority) == (Escalation.Trigger.FRUSTRATION, Escalation.Priority.HIGH)


def test_a_second_annoyed_message_is_handed_over_but_one_is_not(thread):
    customer_says(thread, "Come on, still not working")
    assert check_customer_message(thread, "Come on, still not working") is None
    customer_says(thread, "Seriously, I'm getting annoyed")
    escalation = check_customer_message(thread, "Seriously, I'm getting annoyed")
    assert escalation is not None and escalation.trigger == Escalation.Trigger.FRUSTRATION


def test_repeated_failed_runs_hand_the_conversation_over(scripted, settings, thread):
    settings.MODEL_MAX_ATTEMPTS = 1
    for attempt in range(settings.ESCALATE_AFTER_FAILURES):
        assert not Escalation.objects.filter(thread=thread).exists(), attempt
        customer_says(thread, f"Where is my parcel? ({attempt})")
        scripted.status(500)
        run = runs.run_create(thread=thread, assistant=thread.assistant)
        run.refresh_from_db()
        assert run.status == Run.Status.FAILED

    escalation = Escalation.objects.get(thread=thread)
    assert (escalation.trigger, escalation.priority) == (Escalation.Trigger.REPEATED_FAILURES, Escalation.Priority.HIGH)
    thread.refresh_from_db()
    assert thread.mode == Thread.Mode.WAITING_HUMAN


@pytest.mark.parametrize("failing", ["a tool call that failed", "an answer that did not understand"])
def test_runs_that_complete_with_a_failure_in_them_hand_the_conversation_over(scripted, settings, thread, failing):
    """A completed run counts as a failure by what its worker saw it do (runtime.hooks.RunOutcome):
    a tool call that failed, or an answer saying the assistant did not understand."""
    for attempt in range(settings.ESCALATE_AFTER_FAILURES):
        assert not Escalation.objects.filter(thread=thread).exists(), attempt
        customer_says(thread, f"Where is my parcel? ({attempt})")
        if failing == "a tool call that failed":
            scripted.tool_calls(("get_order_status", {"order_number": 5}))  # the wrong type: invalid_arguments
            scripted.text("Could you give me the order number again?")
        else:
            scripted.text("I'm not sure I understand. Could you say it another way?")
        run = runs.run_create(thread=thread, assistant=thread.assistant)
        run.refresh_from_db()
        assert run.status == Run.Status.COMPLETED

    escalation = Escalation.objects.get(thread=thread)
    assert escalation.trigger == Escalation.Trigger.REPEATED_FAILURES


def test_runs_that_complete_without_a_failure_do_not_hand_the_conversation_over(scripted, settings, thread):
    for attempt in range(settings.ESCALATE_AFTER_FAILURES + 1):
        customer_says(thread, f"Hello ({attempt})")
        scripted.text("Hello! How can I help?")
        runs.run_create(thread=thread, assistant=thread.assistant)
    assert not Escalation.objects.filter(thread=thread).exists()


def test_a_supervisor_picks_a_conversation_the_assistant_is_handling(supervisor_client, thread, tap):
    customer_says(thread, "hello")
    page = supervisor_client.get(console_url(thread)).content.decode()
    assert "Escalate this conversation" in page
    listener = tap(thread.public_id)

    response = supervisor_client.post(
        console_url(thread, "escalate"), {"reason": "Premium customer, looks stuck", "priority": "urgent"}
    )

    assert response.status_code == 302
    escalation = Escalation.objects.get(thread=thread)
    assert escalation.trigger == Escalation.Trigger.SUPERVISOR
    assert (escalation.reason, escalation.priority) == ("Premium customer, looks stuck", "urgent")
    escalated = [m for m in listener.drain() if m["event"] == "conversation.escalated"]
    assert escalated and escalated[0]["data"]["trigger"] == "supervisor"


def test_escalating_twice_keeps_one_open_escalation_and_the_higher_priority(thread):
    from agents.services import escalate

    first = escalate(thread=thread, trigger="customer_request", reason="asked")
    again = escalate(thread=thread, trigger="frustration", reason="angry", priority="urgent")
    assert again.pk == first.pk
    assert Escalation.objects.filter(thread=thread).count() == 1
    first.refresh_from_db()
    assert first.priority == "urgent" and first.trigger == "customer_request"
