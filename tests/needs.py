"""What a test needs from the machine. In CI (CI=1) a missing service or sandbox fails the test: CI
must have it. Elsewhere the test skips and says how to get it."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from sandbox import bubblewrap, sessions


def missing(why: str, how: str = "") -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(f"{why} ({how})" if how else why)


def sandbox() -> None:
    """bubblewrap can run the sandbox's Python, asked afresh (a server's settings may differ)."""
    bubblewrap.forget_availability()
    ok, why = sessions.availability()
    if not ok:
        missing(f"the sandbox cannot run: {why}", "`make sandbox`")
