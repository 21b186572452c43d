"""A model's tool-call arguments are anything it wrote: a number for a string, a NUL, JSON nested past
the recursion limit, a name or an id longer than a column. Each one is answered to the model as that
call's error result, the customer's activity label stays generic, and the run goes on to its answer:
a model's mistake is never a failed run (server_error).

The model is scripted over the real openai SDK transport (the provider boundary)."""

from __future__ import annotations

import json

import pytest

from runtime import runs
from runtime.models import Message, ToolCall

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "Could you give me your order number again?"


def ask(thread, text="Where is my order?"):
    runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)


def run_one_call(scripted, thread, assistant, name, arguments, **options):
    """A run whose model makes one call with `arguments`, then answers in words."""
    scripted.tool_calls((name, arguments), **options)
    scripted.text(ANSWER)
    ask(thread)
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    return run


def tool_results(request: dict) -> list[dict]:
    """The tool results the model was given in a request, decoded."""
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


def test_a_number_for_the_order_number_is_an_error_for_the_model_not_a_failed_run(scripted, thread, assistant, tap):
    events = tap(thread.public_id)
    arguments = {"order_number": 5, "email": "alice@example.com"}
    run = run_one_call(scripted, thread, assistant, "get_order_status", arguments)

    assert run.status == "completed", run.last_error
    call = ToolCall.objects.get(step__run=run)
    assert call.status == "failed" and call.error_code == "invalid_arguments"
    [result] = tool_results(scripted.requests[1])
    assert result["error"]["code"] == "invalid_arguments"
    assert "order_number" in result["error"]["message"]
    labels = [e["data"]["label"] for e in events.drain() if e["event"] == "conversation.activity"]
    assert labels == ["Working on it…", "Working on it…"]  # started, failed: no label from bad arguments
    assert thread.messages.filter(role="assistant").last().text == ANSWER


def test_valid_arguments_still_get_the_tools_own_label(scripted, thread, assistant, tap, alice_order):
    events = tap(thread.public_id)
    run_one_call(scripted, thread, assistant, "get_order_status", {"order_number": "a1001", "email": "x@example.com"})

    labels = [e["data"]["label"] for e in events.drain() if e["event"] == "conversation.activity"]
    assert labels[0] == "Looking up order A1001…"


@pytest.mark.parametrize(
    "arguments",
    [
        {"order_number": ["A1001"]},
        {"order_number": None},
        {"order_number": {"n": "A1001"}},
        {},  # a missing key
        "not json at all",
        '{"order_number": "A1001"',  # cut short
        "[1, 2]",  # JSON, but not an object
        '{"order_number": "A1' + "\\u0000" + '001"}',  # a NUL, escaped in the JSON
        '{"order_number": "A1' + "\\ud800" + '001"}',  # a lone surrogate
        '{"order_number": ' + "[" * 5000 + "]" * 5000 + "}",  # past Python's recursion limit
        json.dumps({"order_number": "A1001", "email": "x" * 300_000}),  # past the arguments' size limit
    ],
    ids=["list", "null", "object", "missing", "not-json", "cut", "array", "nul", "surrogate", "deep", "huge"],
)
def test_arguments_of_any_shape_are_an_error_result_and_the_run_completes(scripted, thread, assistant, arguments):
    run = run_one_call(scripted, thread, assistant, "get_order_status", arguments)

    assert run.status == "completed", run.last_error
    call = ToolCall.objects.get(step__run=run)
    assert call.error_code == "invalid_arguments"
    [result] = tool_results(scripted.requests[1])
    assert result["error"]["code"] == "invalid_arguments"


def test_a_raw_nul_in_the_arguments_text_is_stored_replaced_and_answered_as_invalid(scripted, thread, assistant):
    # The model's chunk carried a real NUL (its JSON said \u0000 outside any string of the arguments):
    # PostgreSQL cannot store it in the call's row.
    run = run_one_call(scripted, thread, assistant, "get_order_status", '{"order_number": "A1\x00001"}')

    assert run.status == "completed", run.last_error
    call = ToolCall.objects.get(step__run=run)
    assert call.error_code == "invalid_arguments" and "\x00" not in call.arguments
    assert call.arguments == '{"order_number": "A1\ufffd001"}'
    [result] = tool_results(scripted.requests[1])
    assert "NUL" in result["error"]["message"]


def test_a_raw_nul_in_a_client_functions_arguments_is_answered_without_asking_the_caller(scripted, thread, assistant):
    assistant.tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    assistant.save()
    run = run_one_call(scripted, thread, assistant, "lookup", '{"q": "\x00"}')

    assert run.status == "completed", run.last_error  # never requires_action with unstorable arguments
    call = ToolCall.objects.get(step__run=run)
    assert call.side == "client" and call.error_code == "invalid_arguments"


def test_a_tool_name_longer_than_any_tools_is_an_unknown_tool(scripted, thread, assistant):
    run = run_one_call(scripted, thread, assistant, "get_order_status" * 10, {"order_number": "A1001"})

    assert run.status == "completed", run.last_error
    call = ToolCall.objects.get(step__run=run)
    assert call.error_code == "unknown_tool" and len(call.name) == 64


def test_a_call_id_too_long_to_store_is_replaced_by_ours(scripted, thread, assistant):
    run = run_one_call(scripted, thread, assistant, "get_order_status", {"order_number": 5}, ids=["call_" + "x" * 200])

    assert run.status == "completed", run.last_error
    call = ToolCall.objects.get(step__run=run)
    assert call.call_id.startswith("call_") and len(call.call_id) <= 64
    replayed = [m for m in scripted.requests[1]["messages"] if m["role"] == "tool"]
    assert replayed[0]["tool_call_id"] == call.call_id


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("escalate_to_human", {"reason": ["a", "list"]}),
        ("escalate_to_human", {"reason": "x", "priority": "immediately"}),
        ("initiate_return", {"order_number": "A1001", "item": "MUG-1", "reason": "defective", "quantity": 10**30}),
        ("initiate_return", {"order_number": "A1001", "item": "M" * 10_000, "reason": "defective"}),
        ("track_shipment", {"order_number": 1001}),
        ("escalate_to_human", "null"),
    ],
    ids=["reason-list", "priority-enum", "huge-quantity", "huge-item", "number", "null"],
)
def test_every_shop_tool_answers_wrong_arguments_with_an_error_result(scripted, thread, assistant, name, arguments):
    run = run_one_call(scripted, thread, assistant, name, arguments)

    assert run.status == "completed", run.last_error
    call = ToolCall.objects.get(step__run=run)
    assert call.error_code == "invalid_arguments", call.output
    assert len(call.output) < 500  # the error quotes at most the start of a huge value
    assert thread.escalations.count() == 0
