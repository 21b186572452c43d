"""A cgroup per session (sandbox/cgroups.py): one memory limit for all of a session's processes and
its tmpfs files, and one limit on its processes. Out of memory, the session is ended with a message
the model reads, nothing of it is left (its processes, its group), and the next execution works in
a fresh session. Without a cgroup, sessions are bounded per process only (test_checks.py)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sandbox import bubblewrap, cgroups, directories, sessions

pytestmark = pytest.mark.usefixtures("session_cgroups")

# Three processes of 150 MiB each, every page written (b'x' * n fills its bytes; bytearray(n)
# would map zero pages and use nothing).
THREE_PROCESSES_OF_150_MIB = """
import os, time
for _ in range(3):
    if os.fork() == 0:
        block = b'x' * (150 * 2**20)
        time.sleep(15)
        os._exit(0)
time.sleep(15)
print('all three fitted')
"""


@pytest.fixture
def small_session(sandbox_settings):
    sandbox_settings.SANDBOX_SESSION_MEMORY_BYTES = 300 * 2**20


def group_of(key: str) -> cgroups.Group:
    group = cgroups.of_session(directories.for_key(key))
    assert group is not None
    return group


def processes_of(key: str) -> set[int]:
    """bubblewrap, its init and the interpreter, by their host pids."""
    directory = directories.for_key(key)
    state = directories.read_state(directory)
    return {state["bwrap_pid"], bubblewrap.sandbox_init(directory / "status.json"), state["repl_pid"]}


def running(pids: set[int]) -> set[int]:
    return {pid for pid in pids if bubblewrap.is_running(pid, bubblewrap.start_time(pid))}


def value(path) -> str:
    return path.read_text().strip()


@pytest.mark.usefixtures("small_session")
def test_each_session_runs_in_a_group_of_its_own_with_the_limits():
    sessions.execute("one", "x = 1")
    sessions.execute("two", "x = 2")
    one, two = group_of("one"), group_of("two")
    assert set(one.directories).isdisjoint(two.directories)
    for place in one.directories:
        assert cgroups.members(place) == processes_of("one")
    limit = str(300 * 2**20)
    if one.version == 2:
        assert value(one.memory / "memory.max") == limit
        assert not (one.memory / "memory.swap.max").exists() or value(one.memory / "memory.swap.max") == "0"
    else:
        assert value(one.memory / "memory.limit_in_bytes") == limit
        memsw = one.memory / "memory.memsw.limit_in_bytes"
        assert not memsw.exists() or value(memsw) == limit
    if one.pids is not None:
        assert value(one.pids / "pids.max") == "33"  # SANDBOX_MAX_PROCESSES, and bubblewrap itself


@pytest.mark.usefixtures("small_session")
def test_processes_together_past_the_session_memory_end_the_session_and_nothing_is_left():
    sessions.execute("hungry", "kept = 1")
    group, processes = group_of("hungry"), processes_of("hungry")
    began = time.monotonic()
    result = sessions.execute("hungry", THREE_PROCESSES_OF_150_MIB)
    assert result.error.startswith("The session ran out of memory (limit 300 MiB for all its processes"), result
    assert "fresh session" in result.error
    assert "all three fitted" not in result.logs
    assert time.monotonic() - began < 10  # told by the kernel, not by the wall clock (20 s)
    # A group is removed only once no process is left in it.
    assert not any(place.exists() for place in group.directories)
    assert running(processes) == set()
    after = sessions.execute("hungry", "'kept' in globals()")
    assert after.fresh_session and after.logs == "False\n" and after.error is None
    fresh = group_of("hungry")
    assert fresh != group
    sessions.close("hungry")
    assert not any(place.exists() for place in fresh.directories)
    assert not (directories.for_key("hungry") / cgroups.SESSION_FILE).exists()


@pytest.mark.usefixtures("small_session")
def test_files_in_mnt_data_count_against_the_session_memory(sandbox_settings):
    sandbox_settings.SANDBOX_DISK_BYTES = 512 * 2**20
    sandbox_settings.SANDBOX_MAX_FILE_BYTES = 256 * 2**20
    code = "with open('big.bin', 'wb') as file:\n    for _ in range(200):\n        file.write(b'x' * 2**20)"
    assert sessions.execute("files", code).error is None
    # 150 MiB would fit beside the interpreter alone; beside 200 MiB of files it does not.
    result = sessions.execute("files", "block = b'x' * (150 * 2**20)")
    assert result.error.startswith("The session ran out of memory (limit 300 MiB"), result
    after = sessions.execute("files", "import os\nos.listdir('.')")
    assert after.fresh_session and after.logs == "[]\n"


def test_the_group_alone_stops_a_fork_bomb(monkeypatch):
    # The interpreter's RLIMIT_NPROC out of the way (as good as none), so that the group's pids.max is
    # what stops it.
    limits = sessions.interpreter_limits()
    monkeypatch.setattr(sessions, "interpreter_limits", lambda: {**limits, "processes": 90_000})
    result = sessions.execute("bomb", "import os\nwhile True:\n    os.fork()")
    assert "Resource temporarily unavailable" in result.error, result
    group = group_of("bomb")
    if group.pids is None:
        pytest.fail("no pids controller: the fork bomb was stopped by something else")
    events = dict(line.split() for line in (group.pids / "pids.events").read_text().splitlines())
    assert int(events["max"]) > 0  # forks the group refused
    assert cgroups.members(group.pids) == processes_of("bomb")  # the cell's processes are gone
    assert sessions.execute("bomb", "print('after')").logs == "after\n"


def test_the_group_of_a_session_that_died_is_removed_by_the_next_execution():
    sessions.execute("orphan", "x = 1")
    group, processes = group_of("orphan"), processes_of("orphan")
    os.kill(directories.read_state(directories.for_key("orphan"))["bwrap_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while running(processes) and time.monotonic() < deadline:
        time.sleep(0.01)
    after = sessions.execute("orphan", "'x' in globals()")
    assert after.fresh_session and after.logs == "False\n"
    assert not any(place.exists() for place in group.directories)


def test_the_sweep_removes_the_groups_of_the_sessions_it_ends(sandbox_settings):
    sessions.execute("idle", "x = 1")
    group = group_of("idle")
    sandbox_settings.SANDBOX_SESSION_IDLE_SECONDS = 0
    assert sessions.sweep() == 1
    assert not any(place.exists() for place in group.directories)
