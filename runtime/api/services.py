"""The /v1 writes that support.lifecycle does not cover: configuration and metadata, and deletes.

Runs and messages change state only through support.lifecycle; these functions touch what no run
depends on while it executes (an assistant's settings are copied onto each run at creation), or
refuse while a run is active.
"""

from __future__ import annotations

import contextlib

from django.db import transaction

from runtime import runs
from runtime.api.validation import check_no_overlap
from runtime.errors import InvalidRequest, ThreadBusy
from runtime.models import Assistant, Message, Run, Thread

# Request field → model field, for the nullable text fields stored as "" when unset.
_TEXT = ("name", "description", "instructions")


def _assistant_values(fields: dict) -> dict:
    values = {}
    for key, value in fields.items():
        if key in _TEXT:
            values[key] = value or ""
        elif key in ("tools", "server_tools"):
            values[key] = value or []
        elif key in ("tool_resources", "metadata"):
            values[key] = value or {}
        elif key == "response_format":
            values[key] = None if value in (None, "auto") else value
        elif key in ("model", "temperature", "top_p"):
            values[key] = value
        # reasoning_effort is accepted for compatibility and not used.
    return values


def assistant_create(*, owner, fields: dict) -> Assistant:
    values = _assistant_values(fields)
    check_no_overlap(values.get("tools", []), values.get("server_tools", []))
    return Assistant.objects.create(owner=owner, **values)


def assistant_modify(assistant: Assistant, *, fields: dict) -> Assistant:
    """Change the given fields; runs already created keep the settings they were created with."""
    values = _assistant_values(fields)
    with transaction.atomic():
        locked = Assistant.objects.select_for_update().get(pk=assistant.pk)
        for key, value in values.items():
            setattr(locked, key, value)
        check_no_overlap(locked.tools, locked.server_tools)
        if values:
            locked.save(update_fields=list(values))
    return locked


def assistant_delete(assistant: Assistant) -> None:
    """Delete an assistant. Its finished runs stay (the audit trail) and keep its id; active ones are cancelled."""
    with transaction.atomic():
        for run in assistant.runs.active():
            runs.run_cancel(run)
        assistant.delete()


def thread_modify(thread: Thread, *, fields: dict) -> Thread:
    values = {key: fields[key] or {} for key in ("metadata", "tool_resources") if key in fields}
    if values:
        Thread.objects.filter(pk=thread.pk).update(**values)
        for key, value in values.items():
            setattr(thread, key, value)
    return thread


def thread_delete(thread: Thread) -> None:
    """Delete a thread with its messages and runs; an active run is cancelled first."""
    active = thread.runs.active().first()
    if active is not None:
        with contextlib.suppress(InvalidRequest):  # it ended meanwhile
            runs.run_cancel(active)
    thread.delete()


def message_modify(message: Message, *, metadata: dict | None) -> Message:
    message.metadata = metadata or {}
    Message.objects.filter(pk=message.pk).update(metadata=message.metadata)
    return message


def message_delete(message: Message) -> None:
    """Delete a message, but not while a run is working on its thread (it may be reading it)."""
    with transaction.atomic():
        Thread.objects.select_for_update().filter(pk=message.thread_id).first()
        active = Run.objects.filter(thread_id=message.thread_id).active().first()
        if active is not None:
            raise ThreadBusy(
                f"Can't delete messages in {message.thread.public_id} while a run {active.public_id} is active."
            )
        message.delete()


def run_modify(run: Run, *, metadata: dict | None) -> Run:
    run.metadata = metadata or {}
    Run.objects.filter(pk=run.pk).update(metadata=run.metadata)
    return run
