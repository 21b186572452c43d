"""Public ids with the Assistants API's prefixes (asst_, thread_, msg_, run_, step_, call_)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_assistant_id() -> str:
    return new_id("asst_")


def new_thread_id() -> str:
    return new_id("thread_")


def new_message_id() -> str:
    return new_id("msg_")


def new_run_id() -> str:
    return new_id("run_")


def new_step_id() -> str:
    return new_id("step_")


def new_call_id() -> str:
    return new_id("call_")
