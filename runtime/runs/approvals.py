"""A person's decision on a tool call that waits for approval (a large refund, say).

Approved, the tool runs as the approval allows and its result answers the call; declined, the model
gets a structured refusal. The run goes on when nothing else waits. An approval can no longer be
given once its run ended (expired, cancelled, failed): runs.transitions closes it with the run.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone

from common.errors import InvalidState
from runtime.models import Run, ToolApproval, ToolCall
from runtime.runs.tool_steps import complete_calls
from runtime.runs.transitions import expire_run
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.executor import run_tool

Status = ToolApproval.Status


class ApprovalClosed(InvalidState):
    """The request can no longer be decided: its conversation moved on."""

    code = "approval_closed"


def decide(approval: ToolApproval, *, by, approve: bool, note: str = "") -> ToolApproval:
    """Approve or decline `approval` as `by` (a user); returns it decided.

    One transaction holds the approval's and its run's row locks from the check to the answer: a
    run that expired, was cancelled or taken over meanwhile refuses the decision (and the tool never
    runs), and neither the expiry sweep nor a second decision can slip in between.
    """
    closed = False
    with transaction.atomic():
        locked = (
            ToolApproval.objects.select_for_update(of=("self",))
            .select_related("call__step", "thread")
            .get(pk=approval.pk)
        )
        if locked.status != Status.PENDING:
            raise InvalidState(f"This request was already {locked.get_status_display().lower()}.")
        call = locked.call
        run = Run.objects.select_for_update(of=("self",)).select_related("thread", "assistant").get(pk=call.step.run_id)
        now = timezone.now()
        if run.status == Run.Status.REQUIRES_ACTION and run.expires_at and now >= run.expires_at:
            expire_run(run)  # the sweep had not come round yet; this closes the approval too
            closed = True
        elif run.status != Run.Status.REQUIRES_ACTION or call.status != ToolCall.Status.PENDING:
            locked.status, locked.decided_at = Status.EXPIRED, now
            locked.save(update_fields=["status", "decided_at"])
            closed = True
        else:
            locked.status = Status.APPROVED if approve else Status.DECLINED
            locked.decided_by, locked.decided_at, locked.decision_note = by, now, note
            locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
            if approve:
                ctx = ToolContext(thread=run.thread, run=run, call_id=call.call_id, approved=True)
                result, _ = run_tool(registry.get(call.name), ctx, call.name, call.arguments, inline=True)
            else:
                reason = f" ({note})" if note else ""
                message = f"A colleague reviewed this request and declined it{reason}."
                result = {"error": {"code": "declined", "message": message}}
            output = json.dumps(result, default=str)
            complete_calls(run, {call: output}, error_code="" if approve else "declined")
    if closed:
        raise ApprovalClosed("This request can no longer be decided: its conversation moved on (the run ended).")
    return locked
