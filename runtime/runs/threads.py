"""Threads: creating them, and every change of who answers (their mode), compaction and counters.

The human side (agents) decides when a person takes a conversation; these functions are how the
thread's state changes when it does. Call the mode changes inside the caller's transaction, holding
the thread's row lock (`lock`), when the decision depends on what the thread is now.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import F

from common.signals import send_on_commit
from runtime import hooks
from runtime.errors import InvalidRequest
from runtime.models import Assistant, Run, Thread
from runtime.runs import approvals
from runtime.runs.messages import message_create, message_kwargs
from runtime.runs.transitions import run_cancel

Mode = Thread.Mode


def thread_create(
    *,
    owner=None,
    assistant: Assistant | None = None,
    customer=None,
    metadata: dict | None = None,
    tool_resources: dict | None = None,
    messages: Iterable[dict] = (),
) -> Thread:
    """Create a thread, optionally with initial messages ({role, content, attachments?, metadata?})."""
    with transaction.atomic():
        thread = Thread.objects.create(
            owner=owner,
            assistant=assistant,
            customer=customer,
            metadata=metadata or {},
            tool_resources=hooks.resolve_tool_resources(owner, tool_resources),
        )
        for spec in messages:
            message_create(thread=thread, check_active_run=False, **message_kwargs(spec))
        send_on_commit(hooks.thread_created, sender=Thread, thread=thread)
    return thread


def lock(thread: Thread) -> Thread:
    """The thread's row, locked until the caller's transaction ends."""
    return Thread.objects.select_for_update().get(pk=thread.pk)


def wait_for_person(locked: Thread) -> Thread:
    """A person is wanted: the assistant stops starting runs (a closed conversation opens again)."""
    if locked.mode in (Mode.ASSISTANT, Mode.CLOSED):
        locked.mode = Mode.WAITING_HUMAN
        locked.save(update_fields=["mode", "updated_at"])
    return locked


def give_to_person(thread_id: int) -> None:
    """A person owns the conversation now: any run still going is cancelled, and the engine checks
    again before it posts, so the assistant never talks over them."""
    Thread.objects.filter(pk=thread_id).update(mode=Mode.HUMAN)
    for run in Run.objects.filter(thread_id=thread_id, status__in=[Run.Status.QUEUED, Run.Status.IN_PROGRESS]):
        run_cancel(run)


def give_back_to_assistant(thread_id: int) -> None:
    Thread.objects.filter(pk=thread_id).update(mode=Mode.ASSISTANT)


def close(thread_id: int) -> None:
    """Close the conversation, and the requests for approval still waiting in it."""
    Thread.objects.filter(pk=thread_id).update(mode=Mode.CLOSED)
    approvals.close_for_thread(thread_id)


def store_compaction(thread: Thread, *, summary: str, until: datetime) -> bool:
    """Keep `summary` in place of the thread's turns up to `until`; whoever compacted the thread
    first since `thread` was read wins (compare-and-set). Refreshes `thread`."""
    updated = Thread.objects.filter(pk=thread.pk, compacted_until=thread.compacted_until).update(
        compacted_summary=summary, compacted_until=until
    )
    thread.refresh_from_db(fields=["compacted_summary", "compacted_until"])
    return bool(updated)


def note_failed_lookup(thread: Thread) -> int:
    """Count a failed lookup against the thread; returns (and refreshes on `thread`) the count."""
    Thread.objects.filter(pk=thread.pk).update(failed_lookups=F("failed_lookups") + 1)
    thread.refresh_from_db(fields=["failed_lookups"])
    return thread.failed_lookups


def thread_resume(thread: Thread) -> Thread:
    """Give a thread a person had (or closed) back to the assistant, for its owner: a /v1 caller has
    no console to hand it back from. Receivers of hooks.thread_resumed close what waits for a person
    (agents: the open escalation). Refreshes `thread`."""
    with transaction.atomic():
        locked = lock(thread)
        if locked.mode != Mode.ASSISTANT:
            locked.mode = Mode.ASSISTANT
            locked.save(update_fields=["mode", "updated_at"])
            hooks.thread_resumed.send(sender=Thread, thread=locked)
    thread.mode = locked.mode
    return thread


def thread_modify(thread: Thread, *, fields: dict) -> Thread:
    """Change a thread's metadata and tool_resources (the fields given); `mode: "assistant"` gives
    it back to the assistant (thread_resume)."""
    values = {key: fields[key] or {} for key in ("metadata", "tool_resources") if key in fields}
    with transaction.atomic():  # all of it or nothing: tool_resources may be refused
        if "tool_resources" in values:
            values["tool_resources"] = hooks.resolve_tool_resources(thread.owner, values["tool_resources"])
        if values:
            Thread.objects.filter(pk=thread.pk).update(**values)
            for key, value in values.items():
                setattr(thread, key, value)
        if fields.get("mode") == Mode.ASSISTANT:
            thread_resume(thread)
    return thread


def thread_delete(thread: Thread) -> None:
    """Delete a thread with its messages and runs; an active run is cancelled first."""
    active = thread.runs.active().first()
    if active is not None:
        with contextlib.suppress(InvalidRequest):  # it ended meanwhile
            run_cancel(active)
    thread.delete()
