"""A session's place on this host: its directory under SANDBOX_ROOT (named by a hash of its key),
holding the listening socket of its interpreter, a lock that serialises its executions across
threads and processes, bubblewrap's status (the sandbox's pids, its exit code), state.json (who
started it, when; its mtime is the last use) and the name of its cgroup, if any; and the sandbox's
processes, seen from the host."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings

from sandbox import bubblewrap, cgroups

log = logging.getLogger("concierge.sandbox")


def sessions_root() -> Path:
    return Path(settings.SANDBOX_ROOT) / "sessions"


def for_key(session_key: str) -> Path:
    return sessions_root() / hashlib.sha256(session_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def all_of_this_host() -> list[Path]:
    try:
        return [path for path in sessions_root().iterdir() if path.is_dir()]
    except FileNotFoundError:
        return []


def open_lock(path: Path, *, blocking: bool) -> int | None:
    """An flock on `path` (a directory's lock file), held through the returned descriptor.

    The lock file of an ended session is removed while its lock is held; whoever waited on it then
    holds a lock on a file no longer there, sees so, and takes the new one instead.
    """
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            continue  # the directory was removed between the two calls
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return fd
        os.close(fd)
        if not blocking:
            return None


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    fd = open_lock(directory / "lock", blocking=True)
    try:
        yield
    finally:
        os.close(fd)


@contextmanager
def try_locked(directory: Path) -> Iterator[bool]:
    fd = open_lock(directory / "lock", blocking=False)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def read_state(directory: Path) -> dict:
    try:
        return json.loads((directory / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def write_state(directory: Path, state: dict) -> None:
    partial = directory / "state.json.part"
    partial.write_text(json.dumps(state))
    os.replace(partial, directory / "state.json")


def touch(directory: Path) -> None:
    with suppress(FileNotFoundError):
        os.utime(directory / "state.json")


def last_used(directory: Path) -> float:
    try:
        return (directory / "state.json").stat().st_mtime
    except FileNotFoundError:
        return 0.0


def is_alive(directory: Path) -> bool:
    state = read_state(directory)
    return bool(state) and bubblewrap.is_running(state["bwrap_pid"], state["bwrap_started"])


def connect(directory: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(directory / "control.sock"))
    except OSError:
        connection.close()
        return None
    return connection


def startup_failure(directory: Path) -> str:
    try:
        text = (directory / "bwrap.log").read_text(errors="replace").strip()
    except OSError:
        text = ""
    return text[-500:] or "the interpreter did not start"


def kill_strays(directory: Path) -> bool:
    """Every process a cell started ends with its execution: all but the interpreter are killed.
    False if they kept appearing (the caller then ends the session)."""
    state = read_state(directory)
    init = bubblewrap.sandbox_init(directory / "status.json")
    repl = state.get("repl_pid")
    if not init or not repl:
        return True
    group = cgroups.of_session(directory)
    if group is not None and group.pids is not None:
        with suppress(OSError):
            return _kill_strays_in(group, keep={state["bwrap_pid"], init, repl}, name=directory.name)
    for _ in range(10):  # a fork bomb forks while it is killed; each pass kills what is left
        strays = [pid for pid in bubblewrap.descendants(init) if pid != repl]
        if not strays:
            return True
        for pid in strays:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)
    log.warning("Sandbox %s: processes kept appearing; the session is ended", directory.name)
    return False


def _kill_strays_in(group: cgroups.Group, *, keep: set[int], name: str) -> bool:
    """kill_strays with the session's cgroup: its processes read at once, and none can fork while
    they are killed (a fork bomb re-forks into every slot a kill frees, and on a loaded host it gets
    the CPU before the killer does). The interpreter cannot start a thread meanwhile either."""
    if not cgroups.members(group.pids) - keep:
        return True
    deadline = time.monotonic() + 5
    with group.forks_refused():
        while strays := cgroups.members(group.pids) - keep:
            if time.monotonic() > deadline:
                log.warning("Sandbox %s: processes outlived SIGKILL for 5 s; the session is ended", name)
                return False
            for pid in strays:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.002)
    return True


def record_interpreter(directory: Path) -> None:
    """Note the interpreter's host pid (bubblewrap's init has no other child before the first cell)."""
    init = bubblewrap.sandbox_init(directory / "status.json")
    found = bubblewrap.children(init) if init else []
    if len(found) == 1:
        write_state(directory, {**read_state(directory), "repl_pid": found[0]})
