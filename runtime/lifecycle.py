"""Threads, messages and runs through their lifecycle: the one place their state changes.

A run moves only by compare-and-set on its status (or under its row lock), so a worker, a cancel
request and the expiry sweep can race without two of them acting. Events go out after commit.
Transitions follow the Assistants API:

    queued → in_progress → completed | incomplete | failed | requires_action | cancelling | expired
    requires_action → queued (tool outputs submitted) | cancelling | expired
    queued → cancelling → cancelled;  cancelling → cancelled (the worker notices)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from runtime import events
from runtime.dispatch import enqueue_run
from runtime.errors import InvalidRequest, ThreadBusy, ThreadClosed, ThreadNotAnswering
from runtime.models import Assistant, Message, Run, RunStep, Thread, ToolApproval, ToolCall
from runtime.shapes import message_obj, run_obj, step_obj, text_part

S = Run.Status


# --- Threads and messages -------------------------------------------------------------------


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
            tool_resources=tool_resources or {},
        )
        for spec in messages:
            message_create(thread=thread, check_active_run=False, **_message_kwargs(spec))
    return thread


def _message_kwargs(spec: dict) -> dict:
    role = spec.get("role")
    return {
        "role": role,
        "content": spec.get("content"),
        "author": Message.Author.API if role == "user" else Message.Author.ASSISTANT,
        "attachments": spec.get("attachments") or [],
        "metadata": spec.get("metadata") or {},
    }


def normalize_content(content) -> list[dict]:
    """Request content (a string, or parts with `text` as a string) → stored API parts."""
    if isinstance(content, str):
        if not content.strip():
            raise InvalidRequest("Message content must not be empty.")
        return [text_part(content)]
    if not isinstance(content, list) or not content:
        raise InvalidRequest("Message content must be a string or a non-empty list of content parts.")
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(text_part(part["text"]))
        elif kind == "image_file" and isinstance(part.get("image_file"), dict):
            parts.append({"type": "image_file", "image_file": {"detail": "auto", **part["image_file"]}})
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            parts.append({"type": "image_url", "image_url": {"detail": "auto", **part["image_url"]}})
        else:
            raise InvalidRequest(f"Unsupported content part: {str(part)[:100]}")
    return parts


def message_create(
    *,
    thread: Thread,
    role: str,
    content,
    author: str,
    author_name: str = "",
    metadata: dict | None = None,
    attachments: list | None = None,
    check_active_run: bool = True,
) -> Message:
    """Append a message to a thread. Refused while a run is active, as the Assistants API does."""
    if role not in Message.Role.values:
        raise InvalidRequest(f"Invalid 'role': {role!r}. Expected 'user' or 'assistant'.")
    parts = normalize_content(content)
    with transaction.atomic():
        if check_active_run:
            Thread.objects.select_for_update().filter(pk=thread.pk).first()
            _refuse_messages_while_busy(thread)
        message = _store_message(
            thread,
            role=role,
            author=author,
            author_name=author_name,
            content=parts,
            metadata=metadata or {},
            attachments=attachments or [],
        )
        events.publish_on_commit(thread.public_id, "thread.message.completed", message_obj(message))
    return message


def _refuse_messages_while_busy(thread: Thread) -> None:
    active = thread.runs.active().first()
    if active is not None:
        raise ThreadBusy(f"Can't add messages to {thread.public_id} while a run {active.public_id} is active.")


def _store_message(thread: Thread, **fields) -> Message:
    return Message.objects.create(thread=thread, status=Message.Status.COMPLETED, completed_at=timezone.now(), **fields)


# --- Creating runs ----------------------------------------------------------------------------


def run_create(
    *,
    thread: Thread,
    assistant: Assistant,
    additional_messages: Iterable[dict] = (),
    **options,
) -> Run:
    """Queue a run of `assistant` on `thread`: one active run per thread, enqueued after commit.

    `options` are the API's run parameters (model, instructions, additional_instructions, tools,
    metadata, temperature, top_p, max_prompt_tokens, max_completion_tokens, truncation_strategy,
    tool_choice, parallel_tool_calls, response_format); unset ones come from the assistant.
    """
    fields = _run_fields(assistant, **options)
    with transaction.atomic():
        locked = Thread.objects.select_for_update().get(pk=thread.pk)
        if locked.mode != Thread.Mode.ASSISTANT:
            raise ThreadNotAnswering(f"Thread {thread.public_id} is handled by a person, not the assistant.")
        active = locked.runs.active().first()
        if active is not None:
            raise ThreadBusy(f"Thread {thread.public_id} already has an active run {active.public_id}.")
        for spec in additional_messages:
            message_create(thread=locked, check_active_run=False, **_message_kwargs(spec))
        run = _queue_run(locked, assistant, fields)
        created = run_obj(run)
        events.publish_many_on_commit(
            thread.public_id, [("thread.run.created", created), ("thread.run.queued", created)]
        )
        enqueue_run(run.pk)
    return run


def customer_message_create(
    *,
    thread: Thread,
    text: str,
    author_name: str = "",
    client_id: str = "",
    should_answer: Callable[[Thread], bool] = lambda thread: True,
) -> tuple[Message, Run | None]:
    """A customer's message and the assistant's run to answer it, in one transaction under the
    thread's lock: the widget's path, with one round of locking and checking instead of two.

    A message sent again with the same `client_id` (the widget resends after a reconnect) is
    stored once: the stored one comes back, without a run. Refused while a run is active
    (ThreadBusy) and in a closed conversation (ThreadClosed). The run is queued when the thread is
    the assistant's and has one, and `should_answer(thread)` (called with the message stored, inside
    the transaction; it may hand the conversation to a person instead) says so.
    """
    parts = normalize_content(text)
    with transaction.atomic():
        locked = Thread.objects.select_for_update(of=("self",)).select_related("assistant").get(pk=thread.pk)
        if client_id:
            already = locked.messages.filter(metadata__client_id=client_id).first()
            if already is not None:
                return already, None
        if locked.mode == Thread.Mode.CLOSED:
            raise ThreadClosed(f"Thread {thread.public_id} is closed.")
        message = _store_message(
            locked,
            role=Message.Role.USER,
            author=Message.Author.CUSTOMER,
            author_name=author_name,
            content=parts,
            metadata={"client_id": client_id} if client_id else {},
        )
        announced = [("thread.message.completed", message_obj(message))]
        run = None
        if locked.mode == Thread.Mode.ASSISTANT and locked.assistant_id and should_answer(locked):
            # No look for an active run first: the one-active-run index refuses a second one.
            run = _queue_run(locked, locked.assistant, _run_fields(locked.assistant))
            created = run_obj(run)
            announced += [("thread.run.created", created), ("thread.run.queued", created)]
        else:
            _refuse_messages_while_busy(locked)
        events.publish_many_on_commit(thread.public_id, announced)
        if run is not None:
            enqueue_run(run.pk)
    return message, run


def _run_fields(
    assistant: Assistant,
    *,
    model: str | None = None,
    instructions: str | None = None,
    additional_instructions: str | None = None,
    tools: list | None = None,
    metadata: dict | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_prompt_tokens: int | None = None,
    max_completion_tokens: int | None = None,
    truncation_strategy: dict | None = None,
    tool_choice=None,
    parallel_tool_calls: bool | None = None,
    response_format=None,
) -> dict:
    """A new run's settings: the given run parameters, the assistant's for the rest."""
    base_instructions = assistant.instructions if instructions is None else instructions
    if additional_instructions:
        base_instructions = f"{base_instructions}\n\n{additional_instructions}".strip()
    return {
        "model": model or assistant.model,
        "instructions": base_instructions,
        "tools": assistant.tools if tools is None else tools,
        "server_tools": list(assistant.server_tools),
        "tool_resources": assistant.tool_resources or {},
        "metadata": metadata or {},
        "temperature": assistant.temperature if temperature is None else temperature,
        "top_p": assistant.top_p if top_p is None else top_p,
        "max_prompt_tokens": max_prompt_tokens,
        "max_completion_tokens": max_completion_tokens,
        "truncation_strategy": truncation_strategy or {"type": "auto", "last_messages": None},
        "tool_choice": tool_choice if tool_choice is not None else "auto",
        "parallel_tool_calls": True if parallel_tool_calls is None else parallel_tool_calls,
        "response_format": assistant.response_format if response_format is None else response_format,
    }


def _queue_run(locked: Thread, assistant: Assistant, fields: dict) -> Run:
    """Insert a queued run; the caller holds the thread's lock, checked the thread is the
    assistant's, and enqueues it (after announcing it: a worker executing it at once must not
    publish before `created`). A second active run is refused (ThreadBusy) by the unique index."""
    try:
        # The exception leaves the caller's atomic block, so no savepoint is needed to keep an outer
        # transaction usable.
        run = Run.objects.create(
            thread=locked,
            assistant=assistant,
            assistant_public_id=assistant.public_id,
            expires_at=Run.default_expiry(),
            **fields,
        )
    except IntegrityError:
        # The partial unique index caught a concurrent creation the lock did not (another database).
        raise ThreadBusy(f"Thread {locked.public_id} already has an active run.") from None
    return run


# --- Moving runs ------------------------------------------------------------------------------


def _load(run_pk: int) -> Run:
    return Run.objects.select_related("thread__customer", "assistant").get(pk=run_pk)


def move_run(run: Run, to: str, *, allowed_from: Iterable[str], publish: bool = True, **fields) -> Run | None:
    """Compare-and-set the run's status. Returns the updated run, or None if someone else moved it."""
    with transaction.atomic():
        updated = Run.objects.filter(pk=run.pk, status__in=list(allowed_from)).update(status=to, **fields)
        if not updated:
            return None
        fresh = _load(run.pk)
        if publish:
            events.publish_on_commit(fresh.thread.public_id, f"thread.run.{to}", run_obj(fresh))
    return fresh


UNEXPIRED = "(expires_at IS NULL OR expires_at > %s)"


def _update_run(set_sql: str, where_sql: str, params: list) -> int:
    """One UPDATE of a run, written out; returns how many rows it changed.

    For the two statements every run makes (the claim, and the lease renewal between steps): the
    ORM's form of them, with its conditions and expressions, costs more to build than to execute."""
    ops = connection.ops
    values = [ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p for p in params]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_quoted(Run)} SET {set_sql} WHERE {where_sql}", values)
        return cursor.rowcount


def _quoted(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def claim_run(run_pk: int, *, worker: str) -> Run | None:
    """Take a run for execution: a queued run, or one whose previous worker's lease ran out.

    Returns None when the run is not this worker's to execute (another worker has it, or it ended).
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.RUN_LEASE_SECONDS)
    # The common case first, in one statement: a queued run that has not expired.
    if _update_run(
        "status = %s, started_at = COALESCE(started_at, %s), claimed_by = %s, lease_expires_at = %s",
        f"id = %s AND status = %s AND {UNEXPIRED}",
        [S.IN_PROGRESS, now, worker, lease, run_pk, S.QUEUED, now],
    ):
        claimed = _load(run_pk)
        if claimed.status == S.IN_PROGRESS:  # else a cancel came in between, and announced itself
            events.publish_on_commit(claimed.thread.public_id, f"thread.run.{S.IN_PROGRESS}", run_obj(claimed))
        return claimed
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
    return _load(run_pk) if taken else None


def renew_lease(run: Run, *, worker: str, thread_modes: Iterable[str], usage: tuple[int, int] = (0, 0)) -> bool:
    """Extend this worker's claim on a run still in progress, not expired, on a thread in one of
    `thread_modes`, adding `usage` (prompt, completion tokens of its last model call) to its counts.
    False otherwise (taken from it, cancelled, expired, ended, taken over by a person), for the
    caller to reload and see what happened."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.RUN_LEASE_SECONDS)
    prompt, completion = usage
    modes = list(thread_modes)
    thread_mode_ok = (
        f"EXISTS (SELECT 1 FROM {_quoted(Thread)} t WHERE t.id = {_quoted(Run)}.thread_id "
        f"AND t.mode IN ({', '.join(['%s'] * len(modes))}))"
    )
    renewed = _update_run(
        "lease_expires_at = %s, prompt_tokens = prompt_tokens + %s, completion_tokens = completion_tokens + %s",
        f"id = %s AND claimed_by = %s AND status = %s AND {UNEXPIRED} AND {thread_mode_ok}",
        [lease, prompt, completion, run.pk, worker, S.IN_PROGRESS, now, *modes],
    )
    return renewed == 1


def _close_open_parts(run: Run, *, step_status: str, message_reason: str | None) -> None:
    """End a run's open steps, calls and messages when the run itself ends early."""
    now = timezone.now()
    stamp = {
        RunStep.Status.CANCELLED: "cancelled_at",
        RunStep.Status.FAILED: "failed_at",
        RunStep.Status.EXPIRED: "expired_at",
        RunStep.Status.COMPLETED: "completed_at",
    }[step_status]
    open_steps = list(run.steps.filter(status=RunStep.Status.IN_PROGRESS).select_related("run", "message"))
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


def run_cancel(run: Run) -> Run:
    """Ask a run to stop. A run nobody is executing stops at once; a running one when its worker sees it."""
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.is_terminal:
            raise InvalidRequest(f"Cannot cancel run with status '{locked.status}'.")
        if locked.status == S.CANCELLING:
            return _load(run.pk)
        was = locked.status
        cancelling = move_run(locked, S.CANCELLING, allowed_from=[was], required_action=None)
        if was in (S.QUEUED, S.REQUIRES_ACTION):
            return finish_cancelled(cancelling)
    return cancelling


def finish_cancelled(run: Run) -> Run:
    with transaction.atomic():
        done = move_run(run, S.CANCELLED, allowed_from=[S.CANCELLING], cancelled_at=timezone.now())
        if done is None:
            return _load(run.pk)
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


def _refuse_if_expired(run: Run) -> None:
    if run.expires_at and timezone.now() >= run.expires_at and expire_run(run) is not None:
        raise InvalidRequest(f"Run {run.public_id} has expired and can no longer accept tool outputs.")


def check_tool_outputs(run: Run, outputs: list[dict]) -> None:
    """What run_submit_tool_outputs would refuse, for a caller that must answer before acting (a stream)."""
    _refuse_if_expired(run)
    _match_tool_outputs(run, outputs)


def run_submit_tool_outputs(run: Run, outputs: list[dict]) -> Run:
    """Answer every pending client-side call of a run in requires_action; the run is queued again."""
    _refuse_if_expired(run)
    with transaction.atomic():
        locked = Run.objects.select_for_update().select_related("thread").get(pk=run.pk)
        return _complete_calls(locked, _match_tool_outputs(locked, outputs))


def _complete_calls(run: Run, outputs: dict[ToolCall, str], *, error_code: str = "") -> Run:
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
        return _load(run.pk)
    queued = move_run(
        run, S.QUEUED, allowed_from=[S.REQUIRES_ACTION], required_action=None, expires_at=Run.default_expiry()
    )
    enqueue_run(queued.pk)
    return queued


def required_action(calls: list[ToolCall]) -> dict:
    """The run's `required_action`: the client-side calls it waits on.

    Calls waiting for a person's approval are not the caller's to answer, so they are not listed.
    """
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


def run_resolve_approval(approval: ToolApproval, *, output: str, declined: bool) -> Run:
    """Give a call that waited for a person's decision its result; the run goes on when nothing else waits."""
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("thread").get(pk=approval.call.step.run_id)
        call = ToolCall.objects.select_related("step").get(pk=approval.call_id)
        if run.status != S.REQUIRES_ACTION or call.status != ToolCall.Status.PENDING:
            raise InvalidRequest("This request was already answered, or its conversation moved on.")
        return _complete_calls(run, {call: output}, error_code="declined" if declined else "")
