"""Sandbox tests run real sessions in bubblewrap, each test under a SANDBOX_ROOT of its own with
small limits, so that the limits are reached fast.

Without bubblewrap they skip locally and fail in CI (CI=1): the sandbox's tests must run there. So
do the tests of the sessions' cgroups without a cgroup this process may make (CI runs as root on a
machine whose cgroup hierarchies are writable).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from sandbox import cgroups, sessions
from tests import needs


@pytest.fixture(autouse=True)
def sandbox_settings(settings):
    # Not pytest's tmp_path: a Unix socket's path must stay under 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="sbx-"))
    settings.SANDBOX_ROOT = root
    # Generous: importing pandas or matplotlib takes seconds on a loaded 2-core machine. The
    # timeout tests set 2 s.
    settings.SANDBOX_WALL_SECONDS = 20.0
    settings.SANDBOX_CPU_SECONDS = 20.0
    settings.SANDBOX_MEMORY_BYTES = 1024**3
    settings.SANDBOX_SESSION_MEMORY_BYTES = 2 * 1024**3
    settings.SANDBOX_CGROUP_PARENT = ""
    settings.SANDBOX_MAX_PROCESSES = 32
    settings.SANDBOX_MAX_OPEN_FILES = 256
    settings.SANDBOX_MAX_FILE_BYTES = 8 * 1024**2
    settings.SANDBOX_DISK_BYTES = 16 * 1024**2
    settings.SANDBOX_TMP_BYTES = 8 * 1024**2
    settings.SANDBOX_MAX_OUTPUT_CHARS = 2_000
    settings.SANDBOX_MAX_OUTPUT_FILE_BYTES = 4 * 1024**2
    settings.SANDBOX_SESSION_IDLE_SECONDS = 3600
    settings.SANDBOX_MAX_SESSIONS = 8
    yield settings
    settings.SANDBOX_SESSION_IDLE_SECONDS = -1
    sessions.sweep()  # every session of the test ended, its processes gone
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sandbox(sandbox_settings):
    """The sandbox, available: the test fails in CI and skips elsewhere when it is not."""
    needs.sandbox()
    return sessions


@pytest.fixture
def session_cgroups(sandbox):
    """Sessions in cgroups of their own: the test fails in CI and skips elsewhere when they cannot be."""
    layout, why = cgroups.availability()
    if layout is None:
        needs.missing(f"sandbox sessions get no cgroup: {why}")
    return layout
