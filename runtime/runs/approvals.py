"""Approvals: a risky tool call's request for a person's decision (a large refund, say), as work of its own.

The call that asked answered its run at once (runtime.tools.approvals), so the run ended its turn and
the conversation stays the customer's. The request is kept here, outliving that run, until one of
these closes it. Each closes it by a compare-and-set on its status, so that of two at once (two
agents, an agent and the expiry sweep, an agent and the customer withdrawing) only one acts:

    open_approval           the request stored (once per thread and request), every console told
    decide                  approved: the tool acts again, as the approver allows, in the same
                            transaction; declined: nothing happens. The customer is told either way.
    withdraw                the customer no longer wants it
    expire_stale_approvals  past its deadline (APPROVAL_WAIT_SECONDS): the customer is told
    close_for_thread        its conversation was closed
"""

from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone

from common.errors import InvalidState
from runtime import events
from runtime.models import Message, Thread, ToolApproval, ToolCall
from runtime.runs.messages import store_message
from runtime.serializers import message_obj, text_part
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.executor import run_tool

Status = ToolApproval.Status


class ApprovalClosed(InvalidState):
    """The request can no longer be decided: it was decided, withdrawn, expired or its conversation closed."""

    code = "approval_closed"


class ApprovalFailed(InvalidState):
    """Approved, the action itself was refused by its rules (say, the item was returned by hand meanwhile)."""

    code = "approval_failed"


def open_approval(call: ToolCall, request: dict, *, thread: Thread) -> ToolApproval:
    """Keep the approval `call` asks for (`request`: NeedsApproval.request()) and tell every console.

    A request already waiting in this thread (the customer asked twice for the same return) is not
    queued a second time: that one is returned."""
    waiting = ToolApproval.objects.filter(
        thread=thread, status=Status.PENDING, kind=request["kind"], summary=request["summary"]
    ).first()
    if waiting is not None:
        return waiting
    approval, created = ToolApproval.objects.get_or_create(call=call, defaults={"thread": thread, **request})
    if created:
        events.notify_staff_on_commit("approval.requested", {"thread_id": thread.public_id, "id": approval.pk})
    return approval


def decide(approval: ToolApproval, *, by, approve: bool, note: str = "") -> ToolApproval:
    """Approve or decline `approval` as `by` (a user); returns it decided, the customer told.

    One transaction from the claim to the message: the claim (a conditional update, its first
    statement) wins only while the request still waits and is within its deadline; approved, the tool
    runs again as `by` allows, and if its rules refuse now, everything rolls back and the request
    still waits (ApprovalFailed). A request that can no longer be decided raises ApprovalClosed and
    nothing runs; one past its deadline that the sweep had not reached is expired on the way.
    """
    now = timezone.now()
    with transaction.atomic():
        # First in the transaction, so that on SQLite too the write lock comes before any read: whoever
        # claims second (on PostgreSQL, after waiting for the first one's row lock) finds it decided.
        claimed = ToolApproval.objects.filter(pk=approval.pk, status=Status.PENDING, expires_at__gt=now).update(
            status=Status.APPROVED if approve else Status.DECLINED, decided_by=by, decided_at=now, decision_note=note
        )
        if claimed:
            decided = ToolApproval.objects.select_related("call__step__run", "thread__assistant").get(pk=approval.pk)
            if approve:
                decided.result = _act(decided, by)
                decided.save(update_fields=["result"])
                _tell_customer(decided, _approved_text(decided, by))
            else:
                _tell_customer(decided, _declined_text(decided, by, note))
            _announce(decided)
            return decided
    _expire(approval.pk)  # if the sweep had not come round to it yet
    raise ApprovalClosed(_why_closed(ToolApproval.objects.select_related("decided_by").get(pk=approval.pk)))


def withdraw(*, thread: Thread) -> list[ToolApproval]:
    """Withdraw every request still waiting in `thread` (the customer no longer wants them); returns them."""
    now = timezone.now()
    withdrawn = []
    waiting = ToolApproval.objects.filter(thread=thread, status=Status.PENDING, expires_at__gt=now)
    for approval in waiting.select_related("thread"):
        if ToolApproval.objects.filter(pk=approval.pk, status=Status.PENDING).update(
            status=Status.WITHDRAWN, decided_at=now
        ):
            approval.status, approval.decided_at = Status.WITHDRAWN, now
            withdrawn.append(approval)
            _announce(approval)
    return withdrawn


def expire_stale_approvals() -> int:
    """Expire the requests past their deadline, telling each customer; returns how many."""
    stale = ToolApproval.objects.filter(status=Status.PENDING, expires_at__lte=timezone.now())
    return sum(_expire(pk) for pk in stale.values_list("pk", flat=True))


def close_for_thread(thread_id: int) -> None:
    """Close the requests still waiting in a conversation that was closed (nobody is told: it ended)."""
    closed = ToolApproval.objects.filter(thread_id=thread_id, status=Status.PENDING).update(
        status=Status.EXPIRED, decided_at=timezone.now()
    )
    if closed:
        public_id = Thread.objects.filter(pk=thread_id).values_list("public_id", flat=True).first()
        events.notify_staff_on_commit("approval.expired", {"thread_id": public_id})


# --- what each closing does ----------------------------------------------------------------------


def _act(approval: ToolApproval, by) -> dict:
    """Run the approved call's tool again, in this transaction, as `by` allows; its JSON-able result."""
    call = approval.call
    ctx = ToolContext(thread=approval.thread, run=call.step.run, call_id=call.call_id, approved_by=by)
    result, error_code = run_tool(registry.get(call.name), ctx, call.name, call.arguments, inline=True)
    if error_code:
        error = result.get("error") if isinstance(result.get("error"), dict) else {}
        reason = str(error.get("message") or f"the {call.name} tool answered {error_code}").rstrip(".")
        raise ApprovalFailed(f"This could not be done: {reason}. Decline the request to tell the customer.")
    return json.loads(json.dumps(result, default=str))


def _expire(approval_pk: int) -> bool:
    """Expire one request if it still waits past its deadline, and tell the customer; False otherwise."""
    now = timezone.now()
    with transaction.atomic():
        if not ToolApproval.objects.filter(pk=approval_pk, status=Status.PENDING, expires_at__lte=now).update(
            status=Status.EXPIRED, decided_at=now
        ):
            return False
        expired = ToolApproval.objects.select_related("thread__assistant").get(pk=approval_pk)
        _tell_customer(
            expired,
            f"Nobody from our team could decide on your request ({expired.customer_summary}) in time, so nothing "
            "was changed. You can ask again, or ask for a person.",
        )
        _announce(expired)
    return True


def _tell_customer(approval: ToolApproval, text: str) -> None:
    """Post `text` to the conversation as the assistant's (a person may be answering it, or a run:
    this message states a fact, so it goes in either way); nobody reads a closed one."""
    thread = approval.thread
    if thread.mode == Thread.Mode.CLOSED:
        return
    assistant = thread.assistant
    message = store_message(
        thread,
        role=Message.Role.ASSISTANT,
        author=Message.Author.ASSISTANT,
        author_name=assistant.name if assistant else "",
        assistant=assistant,
        content=[text_part(text)],
        metadata={"approval_id": str(approval.pk), "approval_status": approval.status},
    )
    events.publish_on_commit(thread.public_id, "thread.message.completed", message_obj(message))


def _announce(approval: ToolApproval) -> None:
    events.notify_staff_on_commit(
        f"approval.{approval.status}", {"thread_id": approval.thread.public_id, "id": approval.pk}
    )


def _name(user) -> str:
    return (user.get_full_name() or "").strip() if user is not None else ""


def _who(user) -> str:
    """The person who decided, as the customer reads it: their name when they have one."""
    name = _name(user)
    return f"{name} from our team" if name else "a colleague from our team"


def _approved_text(approval: ToolApproval, by) -> str:
    result = approval.result or {}
    follow = result.get("message") if isinstance(result.get("message"), str) else ""
    if follow:
        return f"Good news: {_who(by)} approved your request. {follow}"
    return f"Good news: {_who(by)} approved your request ({approval.customer_summary}), and it's done."


def _declined_text(approval: ToolApproval, by, note: str) -> str:
    who = _who(by)
    text = f"{who[0].upper()}{who[1:]} looked at your request ({approval.customer_summary}) and couldn't approve it"
    text = f"{text}: {note.strip()}" if note.strip() else text
    if not text.endswith((".", "!", "?")):
        text += "."
    return f"{text} Nothing was changed. If you have questions, write here or ask for a person."


def _why_closed(approval: ToolApproval) -> str:
    """Why `approval` can no longer be decided, for the agent who tried."""
    if approval.status in (Status.APPROVED, Status.DECLINED):
        who = _name(approval.decided_by) or (approval.decided_by.get_username() if approval.decided_by else "")
        by = f" by {who}" if who else ""
        return f"This request was already {approval.get_status_display().lower()}{by}; nothing more was done."
    if approval.status == Status.WITHDRAWN:
        return "The customer withdrew this request; nothing was done."
    if approval.decided_at and approval.decided_at >= approval.expires_at:
        return "This request expired without a decision; nothing was done, and the customer was told."
    return "This request closed with its conversation; nothing was done."
