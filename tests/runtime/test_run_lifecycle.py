"""A run through its lifecycle, on the real-provider path: the openai SDK against a scripted server."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone
from openai._utils import maybe_transform
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming

from runtime import events, hooks, runs
from runtime.engine.prompt import history
from runtime.engine.writer import MessageWriter
from runtime.errors import InvalidRequest, ThreadBusy, ThreadClosed
from runtime.models import Assistant, Message, Run, RunStep, Thread, ToolCall

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def ask(thread, text="Hello"):
    runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)


def test_a_text_answer_streams_the_api_events_in_order(scripted, thread, assistant, tap):
    scripted.text("Hi! How can I help with your order today?")
    events = tap(thread.public_id)
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)

    run.refresh_from_db()
    assert run.status == "completed"
    delta_free = [n for n in events.names() if n != "thread.message.delta"]
    assert delta_free == [
        "thread.message.completed",  # the customer's message
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    deltas = [m["data"] for m in events.received if m["event"] == "thread.message.delta"]
    text = "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas)
    assert text == "Hi! How can I help with your order today?"
    assert deltas[0]["delta"]["content"][0]["text"]["annotations"] == []
    seqs = [m["seq"] for m in events.received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    reply = thread.messages.get(role="assistant")
    assert reply.text == text and reply.status == "completed" and reply.run == run
    assert run.completion_tokens == 10 and run.prompt_tokens == 20


def test_the_first_words_go_out_before_the_message_is_stored(thread, assistant, tap):
    """The writer publishes the opening events with the first text, then stores the two rows. When
    that store fails (here the run and its thread were deleted in between), the error goes up to fail
    the run, and no snapshot is left telling a reconnecting customer the message is still coming."""
    run = Run.objects.create(thread=thread, assistant=assistant, model="m", status="in_progress")
    events_seen = tap(thread.public_id)
    writer = MessageWriter(run, may_post=lambda: True)
    Thread.objects.filter(pk=thread.pk).delete()

    with pytest.raises(IntegrityError):
        writer.write("Hello")

    assert events_seen.names() == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
    ]
    assert events.stream_snapshot(thread.public_id) is None
    assert not writer.started and not Message.objects.exists()
    writer.abandon("run_failed")  # nothing left to end


def test_a_second_run_on_a_busy_thread_is_refused_with_the_api_message(thread, assistant):
    Run.objects.create(thread=thread, assistant=assistant, model="m", status="requires_action")
    with pytest.raises(ThreadBusy, match=f"Thread {thread.public_id} already has an active run"):
        runs.run_create(thread=thread, assistant=assistant)
    with pytest.raises(ThreadBusy, match="Can't add messages to"):
        ask(thread)


def test_a_client_function_waits_for_tool_outputs_and_then_finishes(scripted, assistant, tap):
    client_assistant = Assistant.objects.create(name="Weather", model="m", tools=[WEATHER])
    thread = Thread.objects.create()
    scripted.tool_calls(("get_weather", {"city": "Paris"}))
    scripted.text("It is sunny in Paris.")
    events = tap(thread.public_id)
    ask(thread, "Weather in Paris?")

    run = runs.run_create(thread=thread, assistant=client_assistant)
    run.refresh_from_db()
    assert run.status == "requires_action"
    assert (run.prompt_tokens, run.completion_tokens) == (30, 15)  # the tool-call response's usage
    (call,) = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert events.names()[-1] == "thread.run.requires_action"

    with pytest.raises(InvalidRequest, match="Expected tool outputs"):
        runs.run_submit_tool_outputs(run, [])
    with pytest.raises(InvalidRequest, match="No tool call found"):
        runs.run_submit_tool_outputs(run, [{"tool_call_id": "call_nope", "output": "x"}])

    runs.run_submit_tool_outputs(run, [{"tool_call_id": call["id"], "output": '{"sky": "sunny"}'}])
    run.refresh_from_db()
    assert run.status == "completed"
    assert (run.prompt_tokens, run.completion_tokens) == (50, 25)  # both model calls
    step = run.steps.get(type="tool_calls")
    assert step.status == "completed"
    assert step.tool_calls.get().output == '{"sky": "sunny"}'
    # The model saw the output on its second call.
    assert scripted.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call["id"],
        "content": '{"sky": "sunny"}',
    }
    with pytest.raises(InvalidRequest, match='Runs in status "completed" do not accept tool outputs'):
        runs.run_submit_tool_outputs(run, [{"tool_call_id": call["id"], "output": "again"}])


def test_parallel_server_tool_calls_with_split_arguments_run_and_the_model_answers(
    scripted, thread, assistant, alice_order
):
    scripted.tool_calls(
        ("get_order_status", {"order_number": "A1001", "email": "alice@example.com"}),
        ("get_order_status", {"order_number": "A9999", "email": "alice@example.com"}),
        split=5,
    )
    scripted.text("Order A1001 was delivered; I could not find A9999.")
    ask(thread, "Status of A1001 and A9999? alice@example.com")
    run = runs.run_create(thread=thread, assistant=assistant)

    run.refresh_from_db()
    assert run.status == "completed"
    assert (run.prompt_tokens, run.completion_tokens) == (50, 25)  # the tool calls' usage and the answer's
    calls = list(ToolCall.objects.filter(step__run=run).order_by("index"))
    assert [c.side for c in calls] == ["server", "server"]
    assert '"status": "delivered"' in calls[0].output
    assert calls[1].error_code == "not_found"
    assert all(c.duration_ms is not None for c in calls)
    assert thread.verified_orders.get().order == alice_order
    # The second call's history and verified orders were kept in hand, not read again: they must
    # be what a read gives.
    *asked, _answer = history(thread)
    assert scripted.requests[1]["messages"][1:] == [m for turn in asked for m in turn.messages]
    assert "Orders verified in this conversation: A1001." not in scripted.requests[0]["messages"][0]["content"]
    assert "Orders verified in this conversation: A1001." in scripted.requests[1]["messages"][0]["content"]


def test_the_model_gets_what_the_sdks_create_would_send(scripted, thread, alice_order):
    """The engine posts its request through the SDK's client without `chat.completions.create`'s
    walk over the arguments' types: that walk must have nothing to change in what it sends."""
    assistant = Assistant.objects.create(
        name="Both",
        model="m",
        instructions="Be brief.",
        tools=[WEATHER],
        server_tools=["get_order_status"],
        temperature=0.2,
        top_p=0.9,
    )
    scripted.tool_calls(("get_order_status", {"order_number": "A1001", "email": "alice@example.com"}))
    scripted.text("Delivered.")
    ask(thread, "Where is A1001? alice@example.com")
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    run = runs.run_create(
        thread=thread, assistant=assistant, max_completion_tokens=300, response_format=schema, tool_choice="auto"
    )

    run.refresh_from_db()
    assert run.status == "completed" and len(scripted.requests) == 2
    for body, (path, headers) in zip(scripted.requests, scripted.received, strict=True):
        assert maybe_transform(body, CompletionCreateParamsStreaming) == body
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        assert path == "/v1/chat/completions"
        assert headers["authorization"] == "Bearer sk-test"
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"].startswith("OpenAI/Python")
    assert {t["function"]["name"] for t in scripted.requests[0]["tools"]} == {"get_weather", "get_order_status"}
    assert scripted.requests[1]["messages"][-1]["role"] == "tool"
    assert (scripted.requests[0]["temperature"], scripted.requests[0]["top_p"]) == (0.2, 0.9)
    assert scripted.requests[0]["response_format"] == schema


def test_a_rate_limit_then_success_is_retried(scripted, thread, assistant):
    scripted.status(429, headers={"retry-after-ms": "10"})
    scripted.text("Here I am.")
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == "completed"
    assert len(scripted.requests) == 2
    assert thread.messages.get(role="assistant").text == "Here I am."


def test_persistent_rate_limits_fail_the_run_with_a_clear_message(scripted, settings, thread, assistant, tap):
    settings.MODEL_MAX_ATTEMPTS = 3
    for _ in range(3):
        scripted.status(429)
    events = tap(thread.public_id)
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.last_error["code"] == "rate_limit_exceeded"
    assert "try again" in run.last_error["message"]
    assert events.names()[-1] == "thread.run.failed"
    assert len(scripted.requests) == 3


def test_server_errors_fail_the_run_as_server_error(scripted, settings, thread, assistant):
    settings.MODEL_MAX_ATTEMPTS = 2
    scripted.status(500)
    scripted.status(503)
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == "failed" and run.last_error["code"] == "server_error"


def test_a_stream_cut_mid_answer_is_retried_without_repeating_text(scripted, thread, assistant, tap):
    answer = "Your order A1001 is on its way and should arrive on Friday."
    scripted.text(answer, pieces=6, cut_after=4)  # role chunk + 3 pieces, then the connection drops
    scripted.text(answer, pieces=6)
    events = tap(thread.public_id)
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)

    run.refresh_from_db()
    assert run.status == "completed"
    deltas = [m["data"] for m in events.drain() if m["event"] == "thread.message.delta"]
    assert "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas) == answer
    assert [m.text for m in thread.messages.filter(role="assistant")] == [answer]


def test_max_completion_tokens_ends_the_run_incomplete(scripted, thread, assistant):
    scripted.text("A very long answer that", finish="length")
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant, max_completion_tokens=256)
    run.refresh_from_db()
    assert run.status == "incomplete"
    assert run.incomplete_details == {"reason": "max_completion_tokens"}
    assert scripted.requests[0]["max_completion_tokens"] == 256
    message = thread.messages.get(role="assistant")
    assert message.status == "incomplete" and message.incomplete_details == {"reason": "max_tokens"}


def test_last_messages_truncation_sends_only_the_most_recent_messages(scripted, thread, assistant):
    for i in range(4):
        Message.objects.create(thread=thread, role="user", author="customer", content=[_text(f"old {i}")])
    scripted.text("ok")
    ask(thread, "newest")
    runs.run_create(
        thread=thread, assistant=assistant, truncation_strategy={"type": "last_messages", "last_messages": 2}
    )
    sent = [m["content"] for m in scripted.requests[0]["messages"][1:]]
    assert sent == ["old 3", "newest"]


def test_auto_truncation_drops_the_oldest_turns_to_fit_max_prompt_tokens(scripted, thread):
    assistant = Assistant.objects.create(name="Plain", model="m", instructions="Be brief.")
    for i in range(8):
        Message.objects.create(thread=thread, role="user", author="customer", content=[_text(f"{i} " + "word " * 100)])
    scripted.text("ok")
    ask(thread, "newest")
    runs.run_create(thread=thread, assistant=assistant, max_prompt_tokens=400)
    messages = scripted.requests[0]["messages"]
    assert messages[-1]["content"] == "newest"
    assert len(messages) < 10
    assert "earlier part(s) of this conversation are not shown" in messages[0]["content"]


def test_a_prompt_that_cannot_fit_ends_incomplete(scripted, thread, assistant):
    ask(thread, "word " * 2000)
    run = runs.run_create(thread=thread, assistant=assistant, max_prompt_tokens=256)
    run.refresh_from_db()
    assert run.status == "incomplete" and run.incomplete_details == {"reason": "max_prompt_tokens"}
    assert scripted.requests == []


def test_the_model_tool_loop_is_capped(scripted, settings, thread, assistant, alice_order):
    settings.RUN_MAX_ROUND_TRIPS = 3
    for _ in range(3):
        scripted.tool_calls(("get_order_status", {"order_number": "A1001", "email": "alice@example.com"}))
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.round_trips == 3 and len(scripted.requests) == 3


def test_cancelling_a_run_waiting_for_tool_outputs_cancels_it_and_its_step(scripted, assistant):
    client_assistant = Assistant.objects.create(name="Weather", model="m", tools=[WEATHER])
    thread = Thread.objects.create()
    scripted.tool_calls(("get_weather", {"city": "Oslo"}))
    ask(thread)
    run = runs.run_create(thread=thread, assistant=client_assistant)
    cancelled = runs.run_cancel(run)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    step = run.steps.get()
    assert step.status == "cancelled"
    assert step.tool_calls.get().status == "cancelled"
    with pytest.raises(InvalidRequest, match="Cannot cancel run with status 'cancelled'"):
        runs.run_cancel(cancelled)


def test_a_run_waiting_past_its_expiry_expires(scripted, assistant):
    client_assistant = Assistant.objects.create(name="Weather", model="m", tools=[WEATHER])
    thread = Thread.objects.create()
    scripted.tool_calls(("get_weather", {"city": "Oslo"}))
    ask(thread)
    run = runs.run_create(thread=thread, assistant=client_assistant)
    Run.objects.filter(pk=run.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert runs.expire_stale_runs() == 1
    run.refresh_from_db()
    assert run.status == "expired"
    assert run.steps.get().status == RunStep.Status.EXPIRED
    with pytest.raises(InvalidRequest):
        runs.run_submit_tool_outputs(run, [])


def test_the_assistant_does_not_post_once_a_human_owns_the_thread(scripted, thread, assistant):
    scripted.text("I would have answered.")
    ask(thread)
    Thread.objects.filter(pk=thread.pk).update(mode=Thread.Mode.HUMAN)
    run = Run.objects.create(thread=thread, assistant=assistant, model="m")
    from runtime.engine.runner import execute_run

    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert not thread.messages.filter(role="assistant", status="completed").exists()


def test_a_person_taking_over_as_the_answer_ends_leaves_it_unposted_and_its_tokens_counted(
    scripted, thread, assistant, monkeypatch
):
    """The takeover lands after the run's last stop check, as the model's last words arrive: the
    message is stored as completed only while the assistant may still post (checked as it is
    stored), so it ends incomplete and the run stands down; the call's tokens are on the run."""
    from runtime.engine import runner

    monkeypatch.setattr(runner, "STOP_CHECK_SECONDS", 3600)  # no check between chunks on a slow machine

    def take_over_at_the_finish(n):
        if n == 6:  # the role chunk, then six pieces of text: before the last one
            # once the run has the first words (and made its check as the model took the request):
            # the server writes ahead of what the client has read
            deadline = time.monotonic() + 10
            while not thread.messages.filter(role="assistant").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            Thread.objects.filter(pk=thread.pk).update(mode=Thread.Mode.HUMAN)

    scripted.text("I would have answered.", pieces=5, usage=(20, 10), before_chunk=take_over_at_the_finish)
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert (run.prompt_tokens, run.completion_tokens) == (20, 10)
    answer = thread.messages.get(role="assistant")
    assert answer.status == Message.Status.INCOMPLETE
    assert answer.incomplete_details == {"reason": "run_cancelled"}


def _take_over(run):
    Thread.objects.filter(pk=run.thread_id).update(mode=Thread.Mode.HUMAN)  # an agent claims it


@pytest.mark.parametrize("meanwhile", [_take_over, runs.run_cancel], ids=["takeover", "cancel"])
def test_a_takeover_or_cancel_while_tools_run_stops_the_run_before_the_model_is_asked_again(
    scripted, thread, assistant, alice_order, monkeypatch, meanwhile
):
    from runtime.engine import runner

    scripted.tool_calls(("get_order_status", {"order_number": "A1001", "email": "alice@example.com"}))
    scripted.text("I would have answered.")
    run_tools = runner.execute_server_calls

    def tools_then_meanwhile(*args, ctx, **kwargs):
        outcome = run_tools(*args, ctx=ctx, **kwargs)
        meanwhile(Run.objects.get(pk=ctx.run.pk))
        return outcome

    monkeypatch.setattr(runner, "execute_server_calls", tools_then_meanwhile)
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert len(scripted.requests) == 1
    assert not thread.messages.filter(role="assistant").exists()


def _text(value):
    return {"type": "text", "text": {"value": value, "annotations": []}}


def test_a_long_thread_compacts_its_older_turns_into_a_summary(scripted, settings, thread, assistant):
    settings.THREAD_COMPACT_AFTER_MESSAGES = 12
    for i in range(14):
        role = "user" if i % 2 == 0 else "assistant"
        Message.objects.create(thread=thread, role=role, author="customer", content=[_text(f"turn {i}")])
    summary = {
        "headline": "Alice asks about A1001",
        "problem": "Wants to know where order A1001 is.",
        "customer": "Alice",
        "verified_orders": ["A1001"],
        "actions_taken": ["Looked up A1001: shipped"],
        "open_items": ["Delivery date"],
        "mood": "calm",
        "suggested_next_step": "Track the parcel.",
    }
    scripted.text(json.dumps(summary))  # the compaction call
    scripted.text("Here is the latest.")
    ask(thread, "and now?")
    run = runs.run_create(thread=thread, assistant=assistant)

    run.refresh_from_db()
    thread.refresh_from_db()
    assert run.status == "completed"
    assert scripted.requests[0]["response_format"]["type"] == "json_schema"
    assert "Verified orders: A1001" in thread.compacted_summary
    prompt = scripted.requests[1]["messages"]
    assert "Summary of the earlier part of this conversation" in prompt[0]["content"]
    assert "Alice asks about A1001" in prompt[0]["content"]
    sent = [m["content"] for m in prompt[1:]]
    assert "turn 0" not in sent and sent[-1] == "and now?"
    assert len(sent) == 10  # the most recent turns, verbatim


def test_a_customer_message_and_its_run_are_stored_and_announced_together(scripted, thread, assistant, tap):
    scripted.text("Hi! How can I help?")
    events = tap(thread.public_id)

    message, run = runs.customer_message_create(thread=thread, text="Hello", author_name="Alice")

    assert message.author == Message.Author.CUSTOMER and message.text == "Hello"
    run.refresh_from_db()
    assert run.status == "completed" and run.assistant_id == assistant.pk
    assert [n for n in events.names() if n != "thread.message.delta"][:4] == [
        "thread.message.completed",
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
    ]


@pytest.fixture
def a_rule_calls_a_person():
    """A receiver of runtime.hooks.customer_message that hands every conversation to a person."""

    def calls_a_person(sender, **kwargs) -> bool:
        return True

    hooks.customer_message.connect(calls_a_person, dispatch_uid="tests.calls_a_person")
    yield
    hooks.customer_message.disconnect(dispatch_uid="tests.calls_a_person")


def test_a_customer_message_a_rule_hands_to_a_person_is_stored_without_a_run(thread, assistant, a_rule_calls_a_person):
    message, run = runs.customer_message_create(thread=thread, text="Hello")

    assert run is None
    assert thread.messages.get().pk == message.pk and not thread.runs.exists()


def test_a_rule_that_fails_loses_nothing_the_message_is_stored_and_answered(scripted, thread, assistant):
    def broken_rule(sender, **kwargs) -> bool:
        raise RuntimeError("a bug in a plug-in")

    scripted.text("Hi! How can I help?")
    hooks.customer_message.connect(broken_rule, dispatch_uid="tests.broken_rule")
    try:
        message, run = runs.customer_message_create(thread=thread, text="Hello")
    finally:
        hooks.customer_message.disconnect(dispatch_uid="tests.broken_rule")

    assert thread.messages.filter(pk=message.pk).exists()
    run.refresh_from_db()
    assert run.status == "completed"


def test_a_customer_message_is_refused_while_a_run_is_active(thread, assistant):
    Run.objects.create(thread=thread, assistant=assistant, model="m", status="in_progress")

    with pytest.raises(ThreadBusy):
        runs.customer_message_create(thread=thread, text="Hello again")

    assert not thread.messages.exists()


def test_a_customer_message_is_refused_while_a_run_is_active_even_when_it_calls_a_person(
    thread, assistant, a_rule_calls_a_person
):
    Run.objects.create(thread=thread, assistant=assistant, model="m", status="in_progress")

    with pytest.raises(ThreadBusy):
        runs.customer_message_create(thread=thread, text="Hello")

    assert not thread.messages.exists()


def test_a_customer_message_sent_again_with_its_client_id_is_stored_once(scripted, thread, assistant):
    scripted.text("Hi!")
    first, run = runs.customer_message_create(thread=thread, text="Hello", client_id="c-1")
    again, no_run = runs.customer_message_create(thread=thread, text="Hello", client_id="c-1")

    assert again.pk == first.pk and run is not None and no_run is None
    assert thread.messages.filter(role="user").count() == 1 and thread.runs.count() == 1


def test_a_customer_cannot_write_into_a_closed_conversation(thread, assistant):
    Thread.objects.filter(pk=thread.pk).update(mode=Thread.Mode.CLOSED)

    with pytest.raises(ThreadClosed):
        runs.customer_message_create(thread=thread, text="Hello?")

    assert not thread.messages.exists()
