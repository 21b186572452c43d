"""Sandbox sessions: untrusted Python run in bubblewrap, one persistent interpreter per session key
(a thread's public id), reachable by every process of this host.

A session is a directory under SANDBOX_ROOT (directories.py) holding the listening socket of its
interpreter (repl_server.py, inside the sandbox; one execution with it is exchange.py's). The
process that starts a session is its bubblewrap's parent, and the session dies with that process
(--die-with-parent). Where the host allows, a session's processes share one cgroup, made when it
starts and removed when it ends (cgroups.py): one memory and process limit for the session as a whole.

A session lives on one host: an execution on another host, or after its process died, expired or
was evicted, finds no interpreter listening and starts a fresh session (`fresh_session=True`), and
the model is told so by the tool. Nothing here ever runs code outside bubblewrap.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from sandbox import bubblewrap, cgroups, directories
from sandbox.exchange import COLLECT_SECONDS, START_SECONDS, STOP_GRACE_SECONDS, Exchange, OutputFile

# The interface others code against (OutputFile and the deadlines are exchange.py's).
__all__ = [
    "COLLECT_SECONDS",
    "START_SECONDS",
    "STOP_GRACE_SECONDS",
    "Execution",
    "OutputFile",
    "SandboxUnavailable",
    "availability",
    "close",
    "execute",
    "safe_name",
    "sweep",
]

log = logging.getLogger("concierge.sandbox")

REPL_SOURCE = (Path(__file__).with_name("repl_server.py")).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Execution:
    logs: str  # stdout and stderr as printed, then a trailing expression's value; truncated with a note
    error: str | None  # None if the cell ran; else what the model should read
    images: list[OutputFile]  # figures shown (or left open), as PNG, in order
    files: list[OutputFile]  # files the cell created or changed under /mnt/data
    fresh_session: bool  # this execution started a new session
    duration_ms: float


class SandboxUnavailable(Exception):
    """bubblewrap cannot run here (not installed, no user namespaces, no runtime); says why."""


def availability() -> tuple[bool, str]:
    """(True, "") when a sandbox can start here, else (False, why): tried once, then remembered."""
    root = Path(settings.SANDBOX_ROOT)
    if len(os.fsencode(directories.for_key("") / "control.sock")) >= 108:  # sun_path's size
        return False, f"SANDBOX_ROOT {root} is too long for the sessions' Unix sockets (≤ 50 bytes)."
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(root)
    except OSError as exc:
        return False, f"SANDBOX_ROOT {root} cannot be made: {exc}"
    # Under a shared /tmp, a directory someone else made (or a link to one) would hand them the
    # sessions' sockets.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        return False, f"SANDBOX_ROOT {root} must be a directory of this user's that no one else may write to."
    return bubblewrap.availability()


def execute(session_key: str, code: str, *, files: Sequence[tuple[str, bytes]] = ()) -> Execution:
    """Run `code` in the session of `session_key`, starting one if none lives on this host.

    `files` are copied into /mnt/data first (a file already there with the same bytes is left
    alone). Executions of one session run one at a time; different sessions run side by side.
    Raises SandboxUnavailable when code cannot be sandboxed; never runs it otherwise.
    """
    ok, why = availability()
    if not ok:
        raise SandboxUnavailable(why)
    began = time.monotonic()
    directory = directories.for_key(session_key)
    inputs = [(safe_name(name), bytes(content)) for name, content in files]
    size, room = sum(len(content) for _, content in inputs), settings.SANDBOX_DISK_BYTES
    if size > room:
        error = f"The input files ({size} bytes) do not fit in /mnt/data ({room} bytes): no code ran."
        return Execution(logs="", error=error, images=[], files=[], fresh_session=False, duration_ms=0.0)
    with directories.locked(directory):
        _reap()
        for _ in range(2):
            connection = directories.connect(directory)
            fresh = connection is None
            if fresh:
                _end(directory)
                _start(directory)
                connection = directories.connect(directory)
                if connection is None:
                    _end(directory)
                    raise SandboxUnavailable(
                        f"A sandbox session could not be started: {directories.startup_failure(directory)}"
                    )
            with connection:
                outcome = Exchange(connection, directory).run(code, inputs, fresh=fresh)
            # Again after the interpreter's reply (which code of the cell's may have written).
            if outcome.ended or not directories.kill_strays(directory):
                _end(directory)
            else:
                directories.touch(directory)
            # An interpreter that died before this execution (killed, evicted by another process) is
            # no session: the code did not run, and it runs once more in a fresh one.
            if fresh or not outcome.gone_before_start:
                break
    return Execution(
        logs=outcome.logs,
        error=outcome.error,
        images=outcome.images,
        files=outcome.files,
        fresh_session=fresh,
        duration_ms=(time.monotonic() - began) * 1000,
    )


def close(session_key: str) -> None:
    """End the session of `session_key` now (waiting for a running execution): every process and
    every file of it is gone when this returns."""
    directory = directories.for_key(session_key)
    if not directory.exists():
        return
    with directories.locked(directory):
        _end(directory, remove=True)


def sweep() -> int:
    """End the sessions of this host idle longer than SANDBOX_SESSION_IDLE_SECONDS, and clear the
    directories of sessions whose interpreter is gone. Returns how many were ended or cleared."""
    _reap()
    ended = 0
    cutoff = time.time() - settings.SANDBOX_SESSION_IDLE_SECONDS
    for directory in directories.all_of_this_host():
        with directories.try_locked(directory) as locked:
            if not locked:
                continue  # executing right now: not idle
            if not directories.is_alive(directory) or directories.last_used(directory) < cutoff:
                _end(directory, remove=True)
                ended += 1
    return ended


def safe_name(name: str) -> str:
    """A file name for /mnt/data from any name a caller gives: its last path segment, printable,
    never empty, `.` or `..`, at most 255 bytes."""
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    base = base.encode("utf-8", "ignore")[:255].decode("utf-8", "ignore")
    return "file" if base in ("", ".", "..") else base


# --- Starting and ending sessions ------------------------------------------------------------------

# bubblewrap's --die-with-parent is the parent *thread*'s death (PR_SET_PDEATHSIG): sessions are
# started from one long-lived thread of each process, never from a pool thread that may end.
_spawner: tuple[int, ThreadPoolExecutor] | None = None
_children: dict[Path, subprocess.Popen] = {}
_process_lock = threading.Lock()


def _spawn(argv: list[str], **options) -> subprocess.Popen:
    global _spawner
    with _process_lock:
        if _spawner is None or _spawner[0] != os.getpid():  # none yet, or inherited through a fork
            _spawner = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner"))
        spawner = _spawner[1]
    return spawner.submit(subprocess.Popen, argv, **options).result()


def _reap() -> None:
    """Wait for this process's bubblewraps that ended (evicted or swept by another process)."""
    with _process_lock:
        for directory, child in list(_children.items()):
            if child.poll() is not None:
                del _children[directory]


def _start(directory: Path) -> None:
    """Start a session's interpreter (call holding the directory's lock, with no session in it)."""
    # Idle sessions end here too, not only on the beat's sweep, which reaches one host of many.
    sweep()
    _make_room(keep=directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        group = cgroups.make_for(directory)
    except OSError as exc:
        cgroups.remove_for(directory)
        raise SandboxUnavailable(f"The session's cgroup could not be made: {exc}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(directory / "control.sock"))
        listener.listen(8)
        config = {"listen_fd": listener.fileno(), "limits": interpreter_limits()}
        with open(directory / "status.json", "wb") as status, open(directory / "bwrap.log", "wb") as errors:
            arguments = bubblewrap.options_file(
                bubblewrap.options(python=Path(settings.SANDBOX_PYTHON), status_fd=status.fileno())
            )
            try:
                child = _spawn(
                    bubblewrap.command(options_fd=arguments, argv=["-c", REPL_SOURCE, json.dumps(config)]),
                    pass_fds=(listener.fileno(), status.fileno(), arguments),
                    stdin=subprocess.DEVNULL,
                    stdout=errors,
                    stderr=errors,
                    **bubblewrap.spawn_options(),
                )
            finally:
                os.close(arguments)
    finally:
        listener.close()  # the interpreter holds it now
    with _process_lock:
        _children[directory] = child
    directories.write_state(
        directory,
        {"bwrap_pid": child.pid, "bwrap_started": bubblewrap.start_time(child.pid), "owner_pid": os.getpid()},
    )
    if group is not None:
        try:
            group.enter(child.pid)
        except OSError as exc:
            _end(directory)
            raise SandboxUnavailable(f"The sandbox could not be put in its session's cgroup: {exc}")


def interpreter_limits() -> dict[str, int]:
    """The rlimits the interpreter sets on itself before any cell runs (repl_server.py)."""
    return {
        "memory_bytes": settings.SANDBOX_MEMORY_BYTES,
        "processes": settings.SANDBOX_MAX_PROCESSES,
        "open_files": settings.SANDBOX_MAX_OPEN_FILES,
        "file_bytes": settings.SANDBOX_MAX_FILE_BYTES,
    }


def _make_room(*, keep: Path) -> None:
    """Evict the least recently used idle sessions while this host has SANDBOX_MAX_SESSIONS."""
    host_lock = directories.open_lock(Path(settings.SANDBOX_ROOT) / "host.lock", blocking=True)
    try:
        live = sorted(
            (path for path in directories.all_of_this_host() if path != keep and directories.is_alive(path)),
            key=directories.last_used,
        )
        excess = len(live) + 1 - settings.SANDBOX_MAX_SESSIONS
        for directory in live:
            if excess <= 0:
                break
            with directories.try_locked(directory) as locked:
                if locked:
                    log.info("Sandbox session %s evicted (SANDBOX_MAX_SESSIONS)", directory.name)
                    _end(directory, remove=True)
                    excess -= 1
        if excess > 0:
            log.warning("Sandbox sessions over SANDBOX_MAX_SESSIONS: all of them are executing")
    finally:
        os.close(host_lock)


def _end(directory: Path, *, remove: bool = False) -> None:
    """Kill a session's sandbox, wait until its processes are gone, and clear its directory (call
    holding its lock). With `remove`, the directory and its lock go too."""
    state = directories.read_state(directory)
    init = bubblewrap.sandbox_init(directory / "status.json")
    init_started = bubblewrap.start_time(init) if init else None
    if init and init_started is not None:
        # The PID namespace ends with its init: the kernel kills everything left in it, and
        # bubblewrap, init's parent, collects it and exits (killed first, it would leave init to
        # the host's PID 1 as a zombie).
        bubblewrap.kill(init, init_started)
    with _process_lock:
        child = _children.pop(directory, None)
    deadline = time.monotonic() + 2
    if child is not None:
        with suppress(subprocess.TimeoutExpired):
            child.wait(timeout=2)
    elif state:
        while bubblewrap.is_running(state["bwrap_pid"], state["bwrap_started"]) and time.monotonic() < deadline:
            time.sleep(0.002)
    if state:
        bubblewrap.kill(state["bwrap_pid"], state["bwrap_started"])
        if child is not None:
            child.wait()
    deadline = time.monotonic() + 5
    while init and bubblewrap.is_running(init, init_started):
        if time.monotonic() > deadline:
            log.warning("Sandbox %s: its processes outlived SIGKILL for 5 s", directory.name)
            break
        time.sleep(0.002)
    cgroups.remove_for(directory)
    for name in ("control.sock", "status.json", "bwrap.log", "state.json"):
        with suppress(FileNotFoundError):
            (directory / name).unlink()
    if remove:
        with suppress(FileNotFoundError):
            (directory / "lock").unlink()
        shutil.rmtree(directory, ignore_errors=True)
