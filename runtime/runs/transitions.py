"""A run through its lifecycle: every change of its status, its lease and its counters.

A run moves only by compare-and-set on its status (or under its row lock), so a worker, a cancel
request and the expiry sweep can race without two of them acting. Events go out after commit.
Transitions follow the Assistants API:

    queued → in_progress → completed | incomplete | failed | requires_action | cancelling | expired
    requires_action → queued (tool outputs submitted) | cancelling | expired
    queued → cancelling → cancelled;  cancelling → cancelled (the worker notices)

A run that ends early ends its open steps, calls and messages with it, and an approval it waited
for can no longer be given (it expires with the run).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from runtime import events
from runtime.errors import InvalidRequest
from runtime.models import Message, Run, RunStep, Thread, ToolApproval, ToolCall
from runtime.runs.sql import UNEXPIRED, move_status, quoted, thread_mode_in, update_run, update_run_returning
from runtime.serializers import message_obj, run_obj, step_obj

S = Run.Status


def load(run_pk: int) -> Run:
    return Run.objects.select_related("thread__customer", "assistant").get(pk=run_pk)


def move_run(
    run: Run, to: str, *, allowed_from: Iterable[str], publish: bool = True, usage: tuple[int, int] = (0, 0), **fields
) -> Run | None:
    """Compare-and-set the run's status (setting `fields`, adding `usage`: the prompt and completion
    tokens of its last model call). Returns the updated run, read back by the same statement, or
    None if someone else moved it. One statement: outside a transaction it commits at once, and its
    event goes out then; inside one, when that commits."""
    fresh = move_status(run.pk, to, allowed_from=allowed_from, fields=fields, usage=usage)
    if fresh is None:
        return None
    for relation in (Run.thread, Run.assistant):  # what the caller loaded needs no second read
        if relation.is_cached(run):
            relation.field.set_cached_value(fresh, relation.field.get_cached_value(run))
    if publish:
        events.publish_on_commit(fresh.thread.public_id, f"thread.run.{to}", run_obj(fresh))
    return fresh


def claim_run(run_pk: int, *, worker: str) -> Run | None:
    """Take a run for execution: a queued run, or one whose previous worker's lease ran out.

    Returns None when the run is not this worker's to execute (another worker has it, or it ended).
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.RUN_LEASE_SECONDS)
    # The common case first, in one statement: a queued run that has not expired.
    claimed = update_run(
        "status = %(running)s, started_at = COALESCE(started_at, %(now)s), claimed_by = %(worker)s, "
        "lease_expires_at = %(lease)s",
        f"id = %(run)s AND status = %(queued)s AND {UNEXPIRED}",
        {"running": S.IN_PROGRESS, "now": now, "worker": worker, "lease": lease, "run": run_pk, "queued": S.QUEUED},
    )
    if claimed:
        run = load(run_pk)
        if run.status == S.IN_PROGRESS:  # else a cancel came in between, and announced itself
            events.publish_on_commit(run.thread.public_id, f"thread.run.{S.IN_PROGRESS}", run_obj(run))
        return run
    run = Run.objects.filter(pk=run_pk).first()
    if run is None or run.is_terminal:
        return None
    if run.expires_at and now >= run.expires_at and run.status in (S.QUEUED, S.REQUIRES_ACTION):
        expire_run(run)
        return None
    # Redelivered after a crash: take over only if the old claim has lapsed (no status change, no event).
    taken = Run.objects.filter(pk=run_pk, status__in=[S.IN_PROGRESS, S.CANCELLING], lease_expires_at__lt=now).update(
        claimed_by=worker, lease_expires_at=lease
    )
    return load(run_pk) if taken else None


def renew_lease(run: Run, *, worker: str, thread_modes: Iterable[str], usage: tuple[int, int] = (0, 0)) -> bool:
    """Extend this worker's claim on a run still in progress, not expired, on a thread in one of
    `thread_modes`, adding `usage` (prompt, completion tokens of its last model call) to its counts.
    False otherwise (taken from it, cancelled, expired, ended, taken over by a person), for the
    caller to reload and see what happened."""
    now = timezone.now()
    prompt, completion = usage
    thread_mode_ok, modes = thread_mode_in(thread_modes)
    renewed = update_run(
        "lease_expires_at = %(lease)s, prompt_tokens = prompt_tokens + %(prompt)s, "
        "completion_tokens = completion_tokens + %(completion)s",
        f"id = %(run)s AND claimed_by = %(worker)s AND status = %(running)s AND {UNEXPIRED} AND {thread_mode_ok}",
        {
            "lease": now + timedelta(seconds=settings.RUN_LEASE_SECONDS),
            "prompt": prompt,
            "completion": completion,
            "run": run.pk,
            "worker": worker,
            "running": S.IN_PROGRESS,
            "now": now,
            **modes,
        },
    )
    return renewed == 1


def add_usage(run: Run, usage: tuple[int, int]) -> None:
    """Add a model call's tokens (prompt, completion) to the run's counts."""
    prompt, completion = usage
    if prompt or completion:
        Run.objects.filter(pk=run.pk).update(
            prompt_tokens=F("prompt_tokens") + prompt, completion_tokens=F("completion_tokens") + completion
        )


def count_round_trip(run: Run) -> tuple[str | None, str | None]:
    """Count a model call as the model takes it (before any of its text is stored, so an execution
    after a crash knows to look for a half-written message). Returns the run's status and its
    thread's mode as they are now, read by the same statement (None, None if the thread is gone)."""
    row = update_run_returning(
        "round_trips = round_trips + 1",
        "id = %(run)s",
        {"run": run.pk},
        returning=f"round_trips, status, (SELECT mode FROM {quoted(Thread)} t WHERE t.id = thread_id)",
    )
    if row is None:
        return None, None
    run.round_trips, status, mode = row
    return status, mode


def stop_signals(run: Run) -> tuple[str | None, str | None]:
    """The run's status and its thread's mode as they are now (None, None if the thread is gone)."""
    return Run.objects.filter(pk=run.pk).values_list("status", "thread__mode").first() or (None, None)


def close_unfinished(run: Run) -> None:
    """End the message a worker that died left half-written, and its step; the model is asked again."""
    now = timezone.now()
    for step in run.steps.filter(type=RunStep.Type.MESSAGE_CREATION, status=RunStep.Status.IN_PROGRESS):
        step.status, step.failed_at = RunStep.Status.FAILED, now
        step.save(update_fields=["status", "failed_at"])
    run.messages.filter(status=Message.Status.IN_PROGRESS).update(
        status=Message.Status.INCOMPLETE, incomplete_at=now, incomplete_details={"reason": "run_failed"}
    )


def _close_open_parts(run: Run, *, step_status: str, message_reason: str | None) -> None:
    """End a run's open steps, calls, messages and approvals when the run itself ends early."""
    now = timezone.now()
    stamp = {
        RunStep.Status.CANCELLED: "cancelled_at",
        RunStep.Status.FAILED: "failed_at",
        RunStep.Status.EXPIRED: "expired_at",
        RunStep.Status.COMPLETED: "completed_at",
    }[step_status]
    open_steps = list(run.steps.filter(status=RunStep.Status.IN_PROGRESS).select_related("run", "message"))
    ToolApproval.objects.filter(call__step__in=open_steps, status=ToolApproval.Status.PENDING).update(
        status=ToolApproval.Status.EXPIRED, decided_at=now
    )
    ToolCall.objects.filter(step__in=open_steps, status=ToolCall.Status.PENDING).update(
        status=ToolCall.Status.CANCELLED, finished_at=now
    )
    for step in open_steps:
        step.status = step_status
        setattr(step, stamp, now)
        step.save(update_fields=["status", stamp])
        step.run = run
        events.publish_on_commit(run.thread.public_id, f"thread.run.step.{step_status}", step_obj(step))
    if message_reason:
        for message in run.messages.filter(status=Message.Status.IN_PROGRESS).select_related("thread", "run"):
            message.status = Message.Status.INCOMPLETE
            message.incomplete_details = {"reason": message_reason}
            message.incomplete_at = now
            message.save(update_fields=["status", "incomplete_details", "incomplete_at"])
            events.publish_on_commit(run.thread.public_id, "thread.message.incomplete", message_obj(message))


def run_modify(run: Run, *, metadata: dict | None) -> Run:
    run.metadata = metadata or {}
    Run.objects.filter(pk=run.pk).update(metadata=run.metadata)
    return run


def run_complete(run: Run, usage: tuple[int, int] = (0, 0)) -> Run | None:
    """Complete the run, adding `usage` (its last model call's tokens) to its counts."""
    return move_run(run, S.COMPLETED, allowed_from=[S.IN_PROGRESS], usage=usage, completed_at=timezone.now())


def run_incomplete(run: Run, reason: str) -> Run | None:
    """End a run short of an answer for `reason` (max_prompt_tokens, max_completion_tokens)."""
    return move_run(run, S.INCOMPLETE, allowed_from=[S.IN_PROGRESS], incomplete_details={"reason": reason})


def run_cancel(run: Run) -> Run:
    """Ask a run to stop. A run nobody is executing stops at once; a running one when its worker sees it."""
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.is_terminal:
            raise InvalidRequest(f"Cannot cancel run with status '{locked.status}'.")
        if locked.status == S.CANCELLING:
            return load(run.pk)
        was = locked.status
        cancelling = move_run(locked, S.CANCELLING, allowed_from=[was], required_action=None)
        if was in (S.QUEUED, S.REQUIRES_ACTION):
            return finish_cancelled(cancelling)
    return cancelling


def stand_down(run: Run) -> Run:
    """The worker stops without posting (a cancel, or a person took the thread over): the run,
    reloaded, ends cancelled."""
    run = load(run.pk)
    if run.status == S.IN_PROGRESS:
        run = move_run(run, S.CANCELLING, allowed_from=[S.IN_PROGRESS]) or run
    if run.status == S.CANCELLING:
        run = finish_cancelled(run)
    return run


def finish_cancelled(run: Run) -> Run:
    with transaction.atomic():
        done = move_run(run, S.CANCELLED, allowed_from=[S.CANCELLING], cancelled_at=timezone.now())
        if done is None:
            return load(run.pk)
        _close_open_parts(done, step_status=RunStep.Status.CANCELLED, message_reason="run_cancelled")
    return done


def run_fail(run: Run, *, code: str, message: str) -> Run | None:
    """End a run with last_error; `message` is shown to the customer, so write it for them."""
    with transaction.atomic():
        failed = move_run(
            run,
            S.FAILED,
            allowed_from=[S.QUEUED, S.IN_PROGRESS, S.CANCELLING],
            failed_at=timezone.now(),
            last_error={"code": code, "message": message},
            required_action=None,
        )
        if failed is not None:
            _close_open_parts(failed, step_status=RunStep.Status.FAILED, message_reason="run_failed")
    return failed


def expire_run(run: Run) -> Run | None:
    with transaction.atomic():
        expired = move_run(
            run, S.EXPIRED, allowed_from=[S.QUEUED, S.IN_PROGRESS, S.REQUIRES_ACTION], required_action=None
        )
        if expired is not None:
            _close_open_parts(expired, step_status=RunStep.Status.EXPIRED, message_reason="run_expired")
    return expired


def expire_stale_runs() -> int:
    """Expire runs past expires_at: queued or waiting for tool outputs, or abandoned by a dead worker."""
    now = timezone.now()
    stale = Run.objects.filter(expires_at__lt=now, status__in=[S.QUEUED, S.REQUIRES_ACTION]) | Run.objects.filter(
        expires_at__lt=now, status=S.IN_PROGRESS, lease_expires_at__lt=now
    )
    return sum(1 for run in stale if expire_run(run) is not None)


def orphaned_runs(*, older_than_seconds: int) -> list[int]:
    """Runs nobody executes: queued for a while, or in progress under a lapsed lease."""
    now = timezone.now()
    queued = Run.objects.filter(status=S.QUEUED, created_at__lt=now - timedelta(seconds=older_than_seconds))
    abandoned = Run.objects.filter(status__in=[S.IN_PROGRESS, S.CANCELLING], lease_expires_at__lt=now)
    return list((queued | abandoned).values_list("pk", flat=True))
