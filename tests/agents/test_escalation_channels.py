"""The escalation rules serve the conversations Concierge's own channels carry (the widget's, owned
by no API key), and the /v1 threads of an assistant that opts in (metadata
`concierge_escalation: "on"`). A /v1 caller has no console: without the opt-in its threads never
wait for a person, however often a tool fails; a thread that does wait (the model's own
escalate_to_human, or the opt-in) shows it in its `mode`, and the caller gives it back to the
assistant (runtime.runs.thread_resume).

The model is scripted over the real openai SDK transport (the provider boundary); every failure is a
tool called with arguments of the wrong type, answered to the model as an error."""

from __future__ import annotations

import pytest
from django.conf import settings

from agents.models import Escalation
from agents.services import escalate
from runtime import runs
from runtime.errors import ThreadNotAnswering
from runtime.models import Assistant, Message, Run, Thread, ToolCall
from runtime.serializers import thread_obj
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

FAILING_CALL = ("get_order_status", {"order_number": 5, "email": "alice@example.com"})


@pytest.fixture
def api_owner(db):
    return UserFactory(username="shop-backend")


def api_assistant(owner, **metadata) -> Assistant:
    return Assistant.objects.create(
        owner=owner, name="Backend", model="gpt-4o-mini", server_tools=["get_order_status"], metadata=metadata
    )


def fail_a_tool_in_a_run(scripted, thread: Thread, assistant: Assistant, author=Message.Author.API) -> Run:
    """One run in which the model's tool call fails, then the model answers."""
    runs.message_create(thread=thread, role="user", content="Where is order 5?", author=author)
    scripted.tool_calls(FAILING_CALL)
    scripted.text("Sorry, which order was it?")
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, run.last_error
    assert ToolCall.objects.get(step__run=run).status == ToolCall.Status.FAILED
    return run


def test_failed_tool_calls_never_hand_an_api_thread_to_a_person(scripted, api_owner):
    assistant = api_assistant(api_owner)
    thread = runs.thread_create(owner=api_owner)

    for _ in range(settings.ESCALATE_AFTER_FAILURES + 1):
        fail_a_tool_in_a_run(scripted, thread, assistant)

    thread.refresh_from_db()
    assert thread.mode == Thread.Mode.ASSISTANT
    assert not Escalation.objects.filter(thread=thread).exists()
    fail_a_tool_in_a_run(scripted, thread, assistant)  # and every later run is still the assistant's


def test_an_api_assistant_that_opts_in_gets_the_rules(scripted, api_owner):
    assistant = api_assistant(api_owner, concierge_escalation="on")
    thread = runs.thread_create(owner=api_owner)

    for _ in range(settings.ESCALATE_AFTER_FAILURES):
        fail_a_tool_in_a_run(scripted, thread, assistant)

    thread.refresh_from_db()
    assert thread.mode == Thread.Mode.WAITING_HUMAN
    assert Escalation.objects.get(thread=thread).trigger == Escalation.Trigger.REPEATED_FAILURES


def test_the_widgets_conversations_still_go_to_a_person_after_repeated_failures(scripted, assistant):
    thread = runs.thread_create(assistant=assistant, metadata={"channel": "widget"})

    for _ in range(settings.ESCALATE_AFTER_FAILURES):
        fail_a_tool_in_a_run(scripted, thread, assistant, author=Message.Author.CUSTOMER)

    thread.refresh_from_db()
    assert thread.mode == Thread.Mode.WAITING_HUMAN


def test_an_api_caller_sees_the_wait_and_gives_the_thread_back(scripted, api_owner, tap):
    assistant = api_assistant(api_owner)
    thread = runs.thread_create(owner=api_owner)
    escalation = escalate(thread=thread, trigger=Escalation.Trigger.MODEL_TOOL, reason="The model asked for one.")
    assert thread_obj(thread)["mode"] == "waiting_human"
    with pytest.raises(ThreadNotAnswering) as refused:
        runs.run_create(thread=thread, assistant=assistant)
    assert '{"mode": "assistant"}' in refused.value.message  # the way out, in the refusal itself
    listener = tap(thread.public_id)

    runs.thread_modify(thread, fields={"mode": "assistant"})

    thread.refresh_from_db()
    escalation.refresh_from_db()
    assert thread.mode == Thread.Mode.ASSISTANT and thread_obj(thread)["mode"] == "assistant"
    assert escalation.status == Escalation.Status.HANDED_BACK and escalation.handed_back_at is not None
    modes = [e["data"] for e in listener.drain() if e["event"] == "conversation.mode"]
    assert modes == [{"thread_id": thread.public_id, "mode": "assistant", "name": "the API caller"}]
    fail_a_tool_in_a_run(scripted, thread, assistant)  # the assistant answers again
