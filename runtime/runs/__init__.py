"""The only writer of the runtime's state: runs, their steps and tool calls, approvals, threads and
their messages. Everything that changes one goes through a function here; the engine, the APIs and
the apps that plug in (agents, orders) call these and never save those rows themselves.

    creation     run_create, customer_message_create
    transitions  claim, lease, complete, cancel, fail, expire, sweep: a run's status by compare-and-set
    tool_steps   the model's tool calls stored before they run, their outcomes, requires_action and outputs
    approvals    a request for a person's approval: kept, decided, withdrawn, expired, closed
    threads      thread_create, who answers (mode), compaction, counters
    messages     message_create, the assistant's message as it is written
    sql          the two statements every run makes, written out
"""

from runtime.runs.approvals import ApprovalClosed, ApprovalFailed, decide, expire_stale_approvals
from runtime.runs.approvals import withdraw as withdraw_approvals
from runtime.runs.creation import customer_message_create, run_create
from runtime.runs.messages import message_create, message_delete, message_modify, normalize_content
from runtime.runs.threads import thread_create, thread_delete, thread_modify
from runtime.runs.tool_steps import check_tool_outputs, required_action, run_submit_tool_outputs
from runtime.runs.transitions import (
    claim_run,
    expire_run,
    expire_stale_runs,
    finish_cancelled,
    move_run,
    orphaned_runs,
    renew_lease,
    run_cancel,
    run_fail,
    run_modify,
)

__all__ = [
    "ApprovalClosed",
    "ApprovalFailed",
    "check_tool_outputs",
    "claim_run",
    "customer_message_create",
    "decide",
    "expire_run",
    "expire_stale_approvals",
    "expire_stale_runs",
    "finish_cancelled",
    "message_create",
    "message_delete",
    "message_modify",
    "move_run",
    "normalize_content",
    "orphaned_runs",
    "renew_lease",
    "required_action",
    "run_cancel",
    "run_create",
    "run_fail",
    "run_modify",
    "run_submit_tool_outputs",
    "thread_create",
    "thread_delete",
    "thread_modify",
    "withdraw_approvals",
]
