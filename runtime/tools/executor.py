"""Running server-side tool calls: validated, timed out, concurrent, and always answered.

Whatever goes wrong (an unknown tool, arguments that break the schema, a domain rule, a timeout,
a bug) becomes a structured error result the model can act on; a run never crashes on a tool.
Each call's outcome is set on its ToolCall row (output, error code, duration), for runtime.runs to store.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import jsonschema
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from common.errors import DomainError
from common.text import InputRefused, load_json
from runtime import metrics
from runtime.models import ToolCall
from runtime.tools import registry
from runtime.tools.approvals import NeedsApproval, awaiting_approval_result
from runtime.tools.context import ToolContext

log = logging.getLogger(__name__)

NEEDS_APPROVAL = "needs_approval"

# Shared by all runs in this process; each call also gets its own deadline.
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="tool")


def error_result(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


# A model writes the arguments; more than this is never a real call (code_interpreter's code, the
# longest argument, is at most 100,000 characters, some of them escaped).
MAX_ARGUMENTS_CHARS = 256_000
MAX_ERROR_CHARS = 300  # of a schema error's message, which the model reads


def parse_arguments(text: str) -> dict:
    """The model's arguments text as a dict of storable strings; DomainError(invalid_arguments) if it
    is too long, not JSON, nested past the recursion limit, not an object, or holds a NUL or a lone
    surrogate (which neither PostgreSQL nor a tool should see)."""
    if len(text or "") > MAX_ARGUMENTS_CHARS:
        raise DomainError(
            f"The arguments are too long ({len(text)} characters; at most {MAX_ARGUMENTS_CHARS}).",
            code="invalid_arguments",
        )
    try:
        value = load_json(text or "{}")
    except InputRefused as refused:
        message = refused.message.replace("That is not valid JSON", "The arguments are not valid JSON")
        raise DomainError(message, code="invalid_arguments") from None
    if not isinstance(value, dict):
        raise DomainError("The arguments must be a JSON object.", code="invalid_arguments")
    return value


def checked_arguments(tool: registry.Tool, ctx: ToolContext, arguments_text: str) -> dict:
    """The call's arguments, parsed and valid against the tool's schema for this context; a
    DomainError(invalid_arguments) naming what is wrong otherwise. Nothing reads a model's arguments
    before this: not the handler, not the label that tells the customer what the tool is doing."""
    arguments = parse_arguments(arguments_text)
    error = jsonschema.exceptions.best_match(_validator(json.dumps(tool.schema(ctx))).iter_errors(arguments))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "arguments"
        # jsonschema quotes the offending value: a 200,000-character string would go back whole.
        said = error.message if len(error.message) <= MAX_ERROR_CHARS else error.message[:MAX_ERROR_CHARS] + "…"
        raise DomainError(f"{where}: {said}", code="invalid_arguments")
    return arguments


def _call_in_thread(tool: registry.Tool, ctx: ToolContext, arguments: dict) -> dict:
    close_old_connections()
    try:
        return tool.handler(ctx, arguments)
    finally:
        connection.close()


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    """A checked validator per schema, built once (jsonschema.validate re-checks the schema every call)."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def run_tool(
    tool: registry.Tool | None, ctx: ToolContext, name: str, arguments_text: str, *, inline: bool = False
) -> tuple[dict, str]:
    """Execute one call. Returns (result, error_code); error_code is "" on success.

    In a pool thread with the tool's timeout; `inline`, in this thread and the caller's transaction
    (a person's approval: the call's effect and its answer commit together), without one."""
    if tool is None:
        return error_result("unknown_tool", f"There is no tool named {name!r}."), "unknown_tool"
    try:
        arguments = checked_arguments(tool, ctx, arguments_text)
    except DomainError as exc:
        return error_result(exc.code, exc.message), exc.code
    timeout = tool.timeout or settings.TOOL_TIMEOUT_SECONDS
    try:
        if inline:
            result = tool.handler(ctx, arguments)
        else:
            result = _pool.submit(_call_in_thread, tool, ctx, arguments).result(timeout=timeout)
    except NeedsApproval as need:
        return {"approval": need.request()}, NEEDS_APPROVAL
    except FutureTimeout:
        log.warning("tool %s timed out after %ss", name, timeout)
        return error_result("timeout", f"The {name} tool did not answer in time. Try again shortly."), "timeout"
    except DomainError as exc:
        return error_result(exc.code, exc.message), exc.code
    except Exception:
        log.exception("tool %s failed", name)
        return error_result("tool_failed", f"The {name} tool failed unexpectedly."), "tool_failed"
    if isinstance(result, dict) and isinstance(result.get("error"), dict):
        return result, str(result["error"].get("code") or "error")
    return result, ""


def execute_server_calls(
    calls: list[ToolCall], *, tools: dict[str, registry.Tool], ctx: ToolContext
) -> tuple[list[ToolCall], list[tuple[ToolCall, dict]]]:
    """Run the pending server-side calls of one step concurrently, and set each outcome on its row
    (not saved: runtime.runs.tool_steps.store_outcomes stores them). Returns the calls that ran
    and, for those that need a person's approval, the approval each asks for.

    A call that needs approval does not wait for it: it answers at once that the request is with a
    colleague (runtime.tools.approvals), so its run goes on, tells the customer and ends its turn."""
    pending = [call for call in calls if call.side == ToolCall.Side.SERVER and call.status == ToolCall.Status.PENDING]
    approvals: list[tuple[ToolCall, dict]] = []

    def one(call: ToolCall) -> None:
        started = time.monotonic()
        call_ctx = ctx.for_call(call.call_id)
        result, error_code = run_tool(tools.get(call.name), call_ctx, call.name, call.arguments)
        if error_code == NEEDS_APPROVAL:
            approvals.append((call, result["approval"]))
            result, error_code = awaiting_approval_result(result["approval"]["customer_summary"]), ""
        call.output = json.dumps(result, default=str)
        call.error_code = error_code
        call.status = ToolCall.Status.FAILED if error_code else ToolCall.Status.COMPLETED
        call.duration_ms = int((time.monotonic() - started) * 1000)
        call.finished_at = timezone.now()
        metrics.TOOL_CALLS.labels(call.name if call.name in tools else "unknown", error_code or "ok").inc()
        metrics.TOOL_SECONDS.labels(call.name if call.name in tools else "unknown").observe(call.duration_ms / 1000)

    now = timezone.now()
    for call in pending:
        call.started_at = now  # stored with the outcome; until then a timeline shows the step's time
    if len(pending) == 1:
        one(pending[0])
    elif pending:
        # Independent calls of one model response run at once; run_tool bounds each one's time.
        with ThreadPoolExecutor(max_workers=min(len(pending), 8), thread_name_prefix="calls") as batch:
            list(batch.map(one, pending))
    return pending, approvals
