"""A real sandbox for the Analyst's tests that run code: sessions under a root of their own (a short
path: Unix sockets), ended after the test. Without bubblewrap these tests skip locally and fail in
CI (CI=1), as the sandbox's own tests do."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from sandbox import sessions
from tests import needs


@pytest.fixture
def sandbox(settings):
    settings.SANDBOX_ROOT = Path(tempfile.mkdtemp(prefix="sbx-"))
    needs.sandbox()
    yield
    settings.SANDBOX_SESSION_IDLE_SECONDS = -1
    sessions.sweep()  # every session of the test ended, its processes gone
    shutil.rmtree(settings.SANDBOX_ROOT, ignore_errors=True)
