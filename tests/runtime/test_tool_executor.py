"""Running server-side tool calls: whatever goes wrong, the model gets a structured answer, and
every call's outcome is stored on its ToolCall row.

Temporary tools are registered for a test and removed from the registry afterwards.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from common.errors import InvalidState
from orders.models import VerifiedOrder
from runtime.engine.runner import run_server_calls
from runtime.models import Run, RunStep, Thread, ToolCall
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.executor import run_tool
from tests.factories import delivered_order

# Handlers run in a worker thread, which cannot see a test transaction's uncommitted rows.
pytestmark = pytest.mark.django_db(transaction=True)

OBJECT = {"type": "object", "properties": {}}


@pytest.fixture
def temporary_tool():
    """Register a tool for one test; it leaves the registry when the test ends."""
    added: list[str] = []

    def add(name: str, handler, *, parameters: dict = OBJECT, **options) -> registry.Tool:
        tool = registry.Tool(
            name=name, description=f"Test tool {name}.", parameters=parameters, handler=handler, **options
        )
        registry.register(tool)
        added.append(name)
        return tool

    yield add
    for name in added:
        registry._tools.pop(name, None)


@pytest.fixture
def run(thread, assistant):
    return Run.objects.create(thread=thread, assistant=assistant, model=assistant.model, status=Run.Status.IN_PROGRESS)


def step_with_calls(run: Run, *calls: tuple[str, str]) -> list[ToolCall]:
    """A tool_calls step holding one pending server-side ToolCall per (name, arguments text)."""
    step = RunStep.objects.create(run=run, type=RunStep.Type.TOOL_CALLS)
    return [
        ToolCall.objects.create(
            step=step, index=i, call_id=f"call_{i}", name=name, arguments=arguments, side=ToolCall.Side.SERVER
        )
        for i, (name, arguments) in enumerate(calls)
    ]


def execute(run: Run, calls: list[ToolCall], names: list[str]) -> list[ToolCall]:
    """Resolve the tools for the run's thread and execute the calls, as the engine does."""
    ctx = ToolContext(thread=run.thread, run=run)
    run_server_calls(calls, tools=registry.resolve(names, ctx), ctx=ctx)
    return [ToolCall.objects.get(pk=call.pk) for call in calls]


def call(thread: Thread, name: str, arguments_text: str) -> tuple[dict, str]:
    return run_tool(registry.get(name), ToolContext(thread=thread), name, arguments_text)


# --- every failure is an answer -----------------------------------------------------------------


def test_an_unknown_tool_is_answered_with_an_error(thread):
    result, error_code = call(thread, "summon_dragon", "{}")

    assert error_code == "unknown_tool"
    assert result == {"error": {"code": "unknown_tool", "message": "There is no tool named 'summon_dragon'."}}


def test_arguments_that_are_not_json_are_answered_with_an_error(thread, temporary_tool):
    ran = []
    temporary_tool("echo", lambda ctx, args: ran.append(args) or {"ok": True})

    result, error_code = call(thread, "echo", '{"order_number": ')

    assert error_code == "invalid_arguments"
    assert result == {
        "error": {"code": "invalid_arguments", "message": "The arguments are not valid JSON: Expecting value."}
    }
    assert ran == []


def test_arguments_that_are_not_an_object_are_answered_with_an_error(thread, temporary_tool):
    temporary_tool("echo", lambda ctx, args: {"ok": True})

    result, error_code = call(thread, "echo", '["A1001"]')

    assert error_code == "invalid_arguments"
    assert result == {"error": {"code": "invalid_arguments", "message": "The arguments must be a JSON object."}}


def test_empty_arguments_are_an_empty_object(thread, temporary_tool):
    temporary_tool("echo", lambda ctx, args: {"got": args})

    result, error_code = call(thread, "echo", "")

    assert (result, error_code) == ({"got": {}}, "")


def test_arguments_that_break_the_schema_name_the_field_and_never_reach_the_handler(thread, temporary_tool):
    ran = []
    schema = {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}
    temporary_tool("count", lambda ctx, args: ran.append(args) or {"ok": True}, parameters=schema)

    wrong_type, wrong_type_code = call(thread, "count", '{"count": "three"}')
    missing, missing_code = call(thread, "count", "{}")

    assert (wrong_type_code, missing_code) == ("invalid_arguments", "invalid_arguments")
    assert wrong_type["error"]["message"] == "count: 'three' is not of type 'integer'"
    assert missing["error"]["message"] == "arguments: 'count' is a required property"
    assert ran == []


def test_a_domain_error_becomes_its_code_and_message(thread, temporary_tool):
    def refuse(ctx, args):
        raise InvalidState("Order A1001 is already delivered and can no longer be cancelled.")

    temporary_tool("refuse", refuse)

    result, error_code = call(thread, "refuse", "{}")

    assert error_code == "invalid_state"
    assert result == {
        "error": {
            "code": "invalid_state",
            "message": "Order A1001 is already delivered and can no longer be cancelled.",
        }
    }


def test_an_unexpected_exception_becomes_tool_failed_without_its_details(thread, temporary_tool):
    def crash(ctx, args):
        raise RuntimeError("connection to 10.0.0.5 refused, password=hunter2")

    temporary_tool("crash", crash)

    result, error_code = call(thread, "crash", "{}")

    assert error_code == "tool_failed"
    assert result == {"error": {"code": "tool_failed", "message": "The crash tool failed unexpectedly."}}


def test_a_structured_error_returned_by_the_handler_sets_the_error_code(thread, temporary_tool):
    temporary_tool("lookup", lambda ctx, args: {"found": False, "error": {"code": "not_found", "message": "No."}})

    result, error_code = call(thread, "lookup", "{}")

    assert error_code == "not_found"
    assert result == {"found": False, "error": {"code": "not_found", "message": "No."}}


# --- time -------------------------------------------------------------------------------------


def test_a_tool_that_does_not_answer_in_time_times_out(thread, temporary_tool):
    temporary_tool("sleepy", lambda ctx, args: time.sleep(1) or {"ok": True}, timeout=0.2)

    started = time.monotonic()
    result, error_code = call(thread, "sleepy", "{}")

    assert time.monotonic() - started < 0.8
    assert error_code == "timeout"
    assert result == {
        "error": {"code": "timeout", "message": "The sleepy tool did not answer in time. Try again shortly."}
    }


def test_a_tool_without_its_own_timeout_gets_the_default_from_settings(thread, temporary_tool, settings):
    settings.TOOL_TIMEOUT_SECONDS = 0.2
    temporary_tool("sleepy", lambda ctx, args: time.sleep(1) or {"ok": True})

    _result, error_code = call(thread, "sleepy", "{}")

    assert error_code == "timeout"


def test_independent_calls_in_one_step_run_concurrently(run, temporary_tool):
    both_running = threading.Barrier(2, timeout=5)

    def meet(ctx, args):
        both_running.wait()  # passes only while the other call runs too; one after the other, it breaks
        return {"met": args["n"]}

    temporary_tool("meet", meet)
    calls = step_with_calls(run, ("meet", '{"n": 1}'), ("meet", '{"n": 2}'))

    stored = execute(run, calls, ["meet"])

    assert [json.loads(c.output) for c in stored] == [{"met": 1}, {"met": 2}]
    assert all(c.status == ToolCall.Status.COMPLETED for c in stored)


# --- what is stored ---------------------------------------------------------------------------


def test_every_call_is_stored_with_its_output_error_code_and_duration(run, temporary_tool):
    temporary_tool("echo", lambda ctx, args: {"got": args})

    def refuse(ctx, args):
        raise InvalidState("Not now.")

    temporary_tool("refuse", refuse)
    calls = step_with_calls(run, ("echo", '{"a": 1}'), ("refuse", "{}"), ("missing", "{}"))

    echo, refused, missing = execute(run, calls, ["echo", "refuse"])

    assert (echo.status, echo.error_code, json.loads(echo.output)) == ("completed", "", {"got": {"a": 1}})
    assert (refused.status, refused.error_code) == ("failed", "invalid_state")
    assert json.loads(refused.output) == {"error": {"code": "invalid_state", "message": "Not now."}}
    assert (missing.status, missing.error_code) == ("failed", "unknown_tool")
    for stored in (echo, refused, missing):
        assert stored.duration_ms is not None
        assert stored.started_at is not None
        assert stored.finished_at >= stored.started_at


def test_the_handler_gets_the_threads_context_and_its_own_call_id(run, temporary_tool):
    seen = []
    lock = threading.Lock()

    def record(ctx, args):
        with lock:
            seen.append((ctx.thread.pk, ctx.run.pk, ctx.call_id))
        return {"ok": True}

    temporary_tool("record", record)
    calls = step_with_calls(run, ("record", "{}"), ("record", "{}"))

    execute(run, calls, ["record"])

    assert sorted(seen) == [(run.thread.pk, run.pk, "call_0"), (run.thread.pk, run.pk, "call_1")]


def test_only_pending_server_side_calls_are_executed(run, temporary_tool):
    ran = []
    temporary_tool("echo", lambda ctx, args: ran.append(args) or {"ok": True})
    pending, client_side, finished = step_with_calls(run, ("echo", '{"n": 1}'), ("echo", '{"n": 2}'), ("echo", "{}"))
    ToolCall.objects.filter(pk=client_side.pk).update(side=ToolCall.Side.CLIENT)
    ToolCall.objects.filter(pk=finished.pk).update(status=ToolCall.Status.COMPLETED, output='{"earlier": true}')
    calls = list(ToolCall.objects.filter(step=pending.step))

    pending, client_side, finished = execute(run, calls, ["echo"])

    assert ran == [{"n": 1}]
    assert pending.status == ToolCall.Status.COMPLETED
    assert (client_side.status, client_side.output) == (ToolCall.Status.PENDING, None)
    assert finished.output == '{"earlier": true}'


def test_parallel_lookups_in_one_step_each_verify_their_order(run, alice, mug):
    delivered_order(customer=alice, number="A1001", items=[(1, mug)])
    delivered_order(customer=alice, number="A1002", items=[(1, mug)])
    calls = step_with_calls(
        run,
        ("get_order_status", '{"order_number": "A1001", "email": "alice@example.com"}'),
        ("get_order_status", '{"order_number": "A1002", "email": "alice@example.com"}'),
    )

    first, second = execute(run, calls, ["get_order_status"])

    assert (first.error_code, second.error_code) == ("", "")
    assert json.loads(first.output)["order_number"] == "A1001"
    assert json.loads(second.output)["order_number"] == "A1002"
    assert sorted(VerifiedOrder.objects.filter(thread=run.thread).values_list("order__number", flat=True)) == [
        "A1001",
        "A1002",
    ]


# --- the registry -----------------------------------------------------------------------------


def test_a_tool_name_can_be_registered_only_once(temporary_tool):
    temporary_tool("echo", lambda ctx, args: {})

    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.Tool(name="echo", description="Another.", parameters=OBJECT, handler=dict))


def test_a_tool_is_offered_to_the_model_as_a_chat_completions_function(thread, assistant, alice):
    anonymous = registry.get("get_order_status").spec(ToolContext(thread=thread))
    signed_in = registry.get("get_order_status").spec(
        ToolContext(thread=Thread.objects.create(assistant=assistant, customer=alice))
    )

    assert anonymous["type"] == "function"
    assert anonymous["function"]["name"] == "get_order_status"
    assert anonymous["function"]["parameters"]["required"] == ["order_number", "email"]
    # A signed-in customer's own orders need no email.
    assert signed_in["function"]["parameters"]["required"] == ["order_number"]


def test_a_tool_describes_its_work_to_the_customer():
    tool = registry.get("get_order_status")

    assert tool.describe({"order_number": "#a1001"}) == "Looking up order A1001…"
    assert tool.describe({}) == "Working on it…"
