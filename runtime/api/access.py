"""Fetching the caller's objects by public id: anything not theirs reads as not found.

A key sees only what its owner created through /v1 (Assistant.owner, Thread.owner); the shop's own
assistants and the widget's threads have no owner and are never visible here.
"""

from __future__ import annotations

from runtime import events
from runtime.api.errors import not_found
from runtime.models import Assistant, Message, Run, RunStep, Thread

STORE_WAIT_SECONDS = 1.0


def assistants_of(owner):
    return Assistant.objects.filter(owner=owner)


def access_assistant(owner, public_id: str) -> Assistant:
    assistant = assistants_of(owner).filter(public_id=public_id).first()
    if assistant is None:
        raise not_found("assistant", public_id)
    return assistant


def access_thread(owner, public_id: str) -> Thread:
    thread = Thread.objects.filter(owner=owner, public_id=public_id).first()
    if thread is None:
        raise not_found("thread", public_id)
    return thread


def messages_of(thread: Thread):
    return Message.objects.filter(thread=thread).select_related("thread", "run", "assistant")


def access_message(thread: Thread, public_id: str) -> Message:
    message = messages_of(thread).filter(public_id=public_id).first() or _being_stored(thread, public_id)
    if message is None:
        raise not_found("message", public_id)
    return message


def _being_stored(thread: Thread, public_id: str) -> Message | None:
    """The message the assistant is writing, announced with its first words a few milliseconds
    before it is stored (runtime.engine.writer): a caller that asks for it in between waits until
    the writer releases it (runtime.events.wait_for_message) rather than getting a 404."""
    snapshot = events.stream_snapshot(thread.public_id)
    if not snapshot or snapshot["message_id"] != public_id:
        return None
    events.wait_for_message(public_id, timeout=STORE_WAIT_SECONDS)
    return messages_of(thread).filter(public_id=public_id).first()


def runs_of(thread: Thread):
    return Run.objects.filter(thread=thread).select_related("thread", "assistant")


def access_run(thread: Thread, public_id: str) -> Run:
    run = runs_of(thread).filter(public_id=public_id).first()
    if run is None:
        raise not_found("run", public_id)
    return run


def steps_of(run: Run):
    return (
        RunStep.objects.filter(run=run)
        .select_related("run__thread", "run__assistant", "message")
        .prefetch_related("tool_calls")
    )


def access_step(run: Run, public_id: str) -> RunStep:
    step = steps_of(run).filter(public_id=public_id).first()
    if step is None:
        raise not_found("run step", public_id)
    return step
