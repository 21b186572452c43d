"""Tool steps: the model's tool calls stored before any runs, their outcomes, the wait for the
caller's outputs or a person's approval, and the outputs that end the wait.

Every model response with tool calls is stored as a step *before* any tool runs; a run executed
again after a crash resumes from those rows instead of asking the model again.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from runtime import events
from runtime.dispatch import enqueue_run
from runtime.errors import InvalidRequest
from runtime.models import Run, RunStep, Thread, ToolCall
from runtime.runs.approvals import open_approval
from runtime.runs.transitions import expire_run, load, move_run
from runtime.serializers import step_obj

S = Run.Status


def store_tool_step(run: Run, *, calls: list[ToolCall], step: RunStep | None = None, **usage) -> RunStep:
    """Store a model response's tool calls (unsaved ToolCall rows, without their step) as one step:
    `step` when the stream announced it already (unsaved, with the id it was announced by).

    `usage`: the response's prompt_tokens, completion_tokens, model_attempts, model_duration_ms."""
    step = step if step is not None else RunStep(run=run, type=RunStep.Type.TOOL_CALLS)
    for name, value in usage.items():
        setattr(step, name, value)
    with transaction.atomic():
        step.save(force_insert=True)
        for i, call in enumerate(calls):
            call.step = step
            call.call_id = call.call_id or f"call_{step.public_id[5:]}{i}"
        ToolCall.objects.bulk_create(calls)
    step.run = run
    return step


def store_outcomes(calls: list[ToolCall], *, approvals: list[tuple[ToolCall, dict]], thread: Thread) -> None:
    """Store what the executor made of a step's server calls, and the approvals some of them wait for."""
    for call in calls:
        # One plain UPDATE per call: a step rarely has more than two, and bulk_update's CASE
        # statement in a transaction costs several times as much for one or two rows.
        call.save(update_fields=["side", "output", "error_code", "status", "started_at", "duration_ms", "finished_at"])
    for call, request in approvals:
        open_approval(call, request, thread=thread)


def complete_step(step: RunStep) -> None:
    step.status, step.completed_at = RunStep.Status.COMPLETED, timezone.now()
    step.save(update_fields=["status", "completed_at"])


def wait_for_action(run: Run, waiting: list[ToolCall]) -> Run | None:
    """Rest the run in requires_action until the caller answers its client functions' calls. (A call
    that needs a person's approval does not wait here: it answers at once, runtime.runs.approvals.)"""
    now = timezone.now()
    ToolCall.objects.filter(pk__in=[c.pk for c in waiting], started_at__isnull=True).update(started_at=now)
    return move_run(run, S.REQUIRES_ACTION, allowed_from=[S.IN_PROGRESS], required_action=required_action(waiting))


def required_action(calls: list[ToolCall]) -> dict:
    """The run's `required_action`: the client-side calls it waits on (a run resting from before
    approvals became their own work may also wait on one of those: it is not the caller's to answer)."""
    return {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls
                if c.side == ToolCall.Side.CLIENT
            ]
        },
    }


def _match_tool_outputs(run: Run, outputs: list[dict]) -> dict[ToolCall, str]:
    """The pending client-side calls `outputs` answer; InvalidRequest unless it answers exactly them, once."""
    if run.status != S.REQUIRES_ACTION:
        raise InvalidRequest(f'Runs in status "{run.status}" do not accept tool outputs.')
    pending = {
        call.call_id: call
        for call in ToolCall.objects.filter(
            step__run=run, side=ToolCall.Side.CLIENT, status=ToolCall.Status.PENDING
        ).select_related("step")
    }
    given: dict[str, str] = {}
    for item in outputs:
        call_id = item.get("tool_call_id")
        if call_id in given:
            raise InvalidRequest(f"Duplicate tool output for tool call {call_id}.")
        if call_id not in pending:
            raise InvalidRequest(f"No tool call found with id '{call_id}' for run {run.public_id}.")
        output = item.get("output")
        given[call_id] = output if isinstance(output, str) else ("" if output is None else str(output))
    if set(given) != set(pending):
        raise InvalidRequest(f"Expected tool outputs for call_ids {sorted(pending)}, got {sorted(given)}.")
    return {pending[call_id]: output for call_id, output in given.items()}


def refuse_if_expired(run: Run) -> None:
    if run.expires_at and timezone.now() >= run.expires_at and expire_run(run) is not None:
        raise InvalidRequest(f"Run {run.public_id} has expired and can no longer accept tool outputs.")


def check_tool_outputs(run: Run, outputs: list[dict]) -> None:
    """What run_submit_tool_outputs would refuse, for a caller that must answer before acting (a stream)."""
    refuse_if_expired(run)
    _match_tool_outputs(run, outputs)


def run_submit_tool_outputs(run: Run, outputs: list[dict]) -> Run:
    """Answer every pending client-side call of a run in requires_action; the run is queued again."""
    refuse_if_expired(run)
    with transaction.atomic():
        locked = Run.objects.select_for_update().select_related("thread").get(pk=run.pk)
        return complete_calls(locked, _match_tool_outputs(locked, outputs))


def complete_calls(run: Run, outputs: dict[ToolCall, str], *, error_code: str = "") -> Run:
    """Store outputs of waiting calls (run locked, in requires_action); queue the run when none wait."""
    now = timezone.now()
    steps = {}
    for call, output in outputs.items():
        call.output, call.finished_at, call.error_code = output, now, error_code
        call.status = ToolCall.Status.FAILED if error_code else ToolCall.Status.COMPLETED
        if call.started_at:
            call.duration_ms = int((now - call.started_at).total_seconds() * 1000)
        call.save(update_fields=["output", "status", "finished_at", "duration_ms", "error_code"])
        steps[call.step_id] = call.step
    for step in steps.values():
        if not step.tool_calls.filter(status=ToolCall.Status.PENDING).exists():
            step.status, step.completed_at = RunStep.Status.COMPLETED, now
            step.save(update_fields=["status", "completed_at"])
            step.run = run
            events.publish_on_commit(run.thread.public_id, "thread.run.step.completed", step_obj(step))
    still_waiting = list(ToolCall.objects.filter(step__run=run, status=ToolCall.Status.PENDING))
    if still_waiting:
        Run.objects.filter(pk=run.pk).update(required_action=required_action(still_waiting))
        return load(run.pk)
    queued = move_run(
        run, S.QUEUED, allowed_from=[S.REQUIRES_ACTION], required_action=None, expires_at=Run.default_expiry()
    )
    enqueue_run(queued.pk)
    return queued
