"""The runtime's domain errors. Messages match the Assistants API's where it has one."""

from __future__ import annotations

from common.errors import DomainError


class InvalidRequest(DomainError):
    """A request the Assistants API answers with 400 invalid_request_error."""

    code = "invalid_request"
    http_status = 400


class UnknownFile(InvalidRequest):
    """A message names a file it may not use: none by that id, or one that is not its thread's to
    show (another owner's reads the same, so the answer says nothing of other owners' files)."""

    code = "unknown_file"


class ThreadBusy(InvalidRequest):
    """The thread has an active run. A 400, never a 409: the SDKs retry 409."""

    code = "thread_busy"


def not_answering_message(thread) -> str:
    """Why a run is refused on a thread a person has, and the way out for a caller without a console."""
    return (
        f"Thread {thread.public_id} is handled by a person, not the assistant (mode '{thread.mode}'). "
        f'To give it back to the assistant, modify the thread with {{"mode": "assistant"}}.'
    )


class ThreadNotAnswering(InvalidRequest):
    """A human owns the thread (or it is closed): the assistant must not start a run on it."""

    code = "thread_not_answering"


class ThreadClosed(InvalidRequest):
    """The conversation is closed: a customer starts a new one instead of writing into it."""

    code = "thread_closed"
