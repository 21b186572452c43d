"""Text a database can store: no NUL characters, no lone surrogates.

PostgreSQL refuses NUL in text, and a lone surrogate (JSON's "\\ud800" without its pair) cannot be
encoded as UTF-8 at all. Each entry point refuses such input once, where it arrives, with its own
error shape, so no service or model ever has to think about it.
"""

from __future__ import annotations

import json
import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

NUL_MESSAGE = "The text contains a NUL character (\\u0000), which cannot be stored. Remove it and try again."
SURROGATE_MESSAGE = (
    "The text contains a broken character (an unpaired surrogate such as \\ud800, often half of an emoji). "
    "Remove it and try again."
)


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None if it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def storable(text: str) -> str:
    """`text` with each NUL and lone surrogate replaced by U+FFFD: for text no one can be asked to
    send again (what a model wrote), kept as near as it can be to what it was."""
    return _UNSTORABLE.sub("\ufffd", text)


def unstorable_in(data: Any) -> str | None:
    """Why some string in decoded JSON `data` (keys included) cannot be stored, or None.

    Walks with a stack, not recursion: the data's depth is the sender's choice."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            problem = unstorable(value)
            if problem:
                return problem
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


class InputRefused(ValueError):
    """Input no entry point takes: `code` for machines, `message` for the person who sent it, and
    the decoded data when it was JSON (so a socket can say which of the client's messages failed)."""

    def __init__(self, code: str, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def load_json(raw: bytes | str) -> Any:
    """`raw` decoded as JSON whose every string can be stored; InputRefused otherwise.

    Codes: `invalid_encoding` (not UTF-8), `invalid_json`, `too_deep` (nesting past Python's
    recursion limit), `invalid_text` (a NUL or a lone surrogate in a key or value)."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputRefused("invalid_encoding", "The body is not valid UTF-8.") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InputRefused("invalid_json", f"That is not valid JSON: {error.msg}.") from None
    except RecursionError:
        raise InputRefused("too_deep", "The JSON is nested too deeply.") from None
    problem = unstorable_in(data)
    if problem:
        raise InputRefused("invalid_text", problem, data)
    return data
