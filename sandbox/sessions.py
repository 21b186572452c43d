"""Sandbox sessions: untrusted Python run in bubblewrap, one persistent interpreter per session key
(a thread's public id), reachable by every process of this host.

A session is a directory under SANDBOX_ROOT (named by a hash of its key) holding the listening
socket of its interpreter (sandbox/repl_server.py, inside the sandbox), a lock that serialises its
executions across threads and processes, bubblewrap's status (the sandbox's pids, its exit code)
and state.json (who started it, when; its mtime is the last use). The process that starts a
session is its bubblewrap's parent, and the session dies with that process (--die-with-parent).

A session lives on one host: an execution on another host, or after its process died, expired or
was evicted, finds no interpreter listening and starts a fresh session (`fresh_session=True`), and
the model is told so by the tool. Nothing here ever runs code outside bubblewrap.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings

from sandbox import bubblewrap
from sandbox.repl_server import LENGTH, MAX_FILES, MAX_IMAGES, send_message

log = logging.getLogger("concierge.sandbox")

REPL_SOURCE = (Path(__file__).with_name("repl_server.py")).read_text(encoding="utf-8")
# How long a fresh interpreter may take to start and copy the input files in, before it is given up.
START_SECONDS = 20.0
# Past the wall limit, how long the interpreter has to stop the cell itself (its own SIGALRM)
# before the host ends the session; then how long it may take to draw figures and read files.
STOP_GRACE_SECONDS = 2.0
COLLECT_SECONDS = 30.0
MAX_REPLY_HEADER = 1024 * 1024
CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


@dataclass(frozen=True)
class OutputFile:
    name: str  # path relative to /mnt/data, e.g. "report.csv" or "charts/a.png"
    content: bytes


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
    if len(os.fsencode(_directory("") / "control.sock")) >= 108:  # sun_path's size
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
    directory = _directory(session_key)
    inputs = [(safe_name(name), bytes(content)) for name, content in files]
    size, room = sum(len(content) for _, content in inputs), settings.SANDBOX_DISK_BYTES
    if size > room:
        error = f"The input files ({size} bytes) do not fit in /mnt/data ({room} bytes): no code ran."
        return Execution(logs="", error=error, images=[], files=[], fresh_session=False, duration_ms=0.0)
    with _locked(directory):
        _reap()
        for _ in range(2):
            connection = _connect(directory)
            fresh = connection is None
            if fresh:
                _end(directory)
                _start(directory)
                connection = _connect(directory)
                if connection is None:
                    _end(directory)
                    raise SandboxUnavailable(f"A sandbox session could not be started: {_startup_failure(directory)}")
            with connection:
                outcome = _Exchange(connection, directory).run(code, inputs, fresh=fresh)
            # Again after the interpreter's reply (which code of the cell's may have written).
            if outcome.ended or not _kill_strays(directory):
                _end(directory)
            else:
                _touch(directory)
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
    directory = _directory(session_key)
    if not directory.exists():
        return
    with _locked(directory):
        _end(directory, remove=True)


def sweep() -> int:
    """End the sessions of this host idle longer than SANDBOX_SESSION_IDLE_SECONDS, and clear the
    directories of sessions whose interpreter is gone. Returns how many were ended or cleared."""
    _reap()
    ended = 0
    cutoff = time.time() - settings.SANDBOX_SESSION_IDLE_SECONDS
    for directory in _session_directories():
        with _try_locked(directory) as locked:
            if not locked:
                continue  # executing right now: not idle
            if not _is_alive(directory) or _last_used(directory) < cutoff:
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


# --- Session directories and their locks ------------------------------------------------------


def _sessions_root() -> Path:
    return Path(settings.SANDBOX_ROOT) / "sessions"


def _directory(session_key: str) -> Path:
    return _sessions_root() / hashlib.sha256(session_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _session_directories() -> list[Path]:
    try:
        return [path for path in _sessions_root().iterdir() if path.is_dir()]
    except FileNotFoundError:
        return []


def _open_lock(path: Path, *, blocking: bool) -> int | None:
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
def _locked(directory: Path) -> Iterator[None]:
    fd = _open_lock(directory / "lock", blocking=True)
    try:
        yield
    finally:
        os.close(fd)


@contextmanager
def _try_locked(directory: Path) -> Iterator[bool]:
    fd = _open_lock(directory / "lock", blocking=False)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def _read_state(directory: Path) -> dict:
    try:
        return json.loads((directory / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_state(directory: Path, state: dict) -> None:
    partial = directory / "state.json.part"
    partial.write_text(json.dumps(state))
    os.replace(partial, directory / "state.json")


def _touch(directory: Path) -> None:
    with suppress(FileNotFoundError):
        os.utime(directory / "state.json")


def _last_used(directory: Path) -> float:
    try:
        return (directory / "state.json").stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _is_alive(directory: Path) -> bool:
    state = _read_state(directory)
    return bool(state) and bubblewrap.is_running(state["bwrap_pid"], state["bwrap_started"])


def _connect(directory: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(directory / "control.sock"))
    except OSError:
        connection.close()
        return None
    return connection


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
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(directory / "control.sock"))
        listener.listen(8)
        config = {
            "listen_fd": listener.fileno(),
            "limits": {
                "memory_bytes": settings.SANDBOX_MEMORY_BYTES,
                "processes": settings.SANDBOX_MAX_PROCESSES,
                "open_files": settings.SANDBOX_MAX_OPEN_FILES,
                "file_bytes": settings.SANDBOX_MAX_FILE_BYTES,
            },
        }
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
    _write_state(
        directory,
        {"bwrap_pid": child.pid, "bwrap_started": bubblewrap.start_time(child.pid), "owner_pid": os.getpid()},
    )


def _make_room(*, keep: Path) -> None:
    """Evict the least recently used idle sessions while this host has SANDBOX_MAX_SESSIONS."""
    host_lock = _open_lock(Path(settings.SANDBOX_ROOT) / "host.lock", blocking=True)
    try:
        live = sorted((path for path in _session_directories() if path != keep and _is_alive(path)), key=_last_used)
        excess = len(live) + 1 - settings.SANDBOX_MAX_SESSIONS
        for directory in live:
            if excess <= 0:
                break
            with _try_locked(directory) as locked:
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
    state = _read_state(directory)
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
    for name in ("control.sock", "status.json", "bwrap.log", "state.json"):
        with suppress(FileNotFoundError):
            (directory / name).unlink()
    if remove:
        with suppress(FileNotFoundError):
            (directory / "lock").unlink()
        shutil.rmtree(directory, ignore_errors=True)


def _startup_failure(directory: Path) -> str:
    try:
        text = (directory / "bwrap.log").read_text(errors="replace").strip()
    except OSError:
        text = ""
    return text[-500:] or "the interpreter did not start"


def _kill_strays(directory: Path) -> bool:
    """Every process a cell started ends with its execution: all but the interpreter are killed.
    False if they kept appearing (the caller then ends the session)."""
    state = _read_state(directory)
    init = bubblewrap.sandbox_init(directory / "status.json")
    repl = state.get("repl_pid")
    if not init or not repl:
        return True
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


def _record_interpreter(directory: Path) -> None:
    """Note the interpreter's host pid (bubblewrap's init has no other child before the first cell)."""
    init = bubblewrap.sandbox_init(directory / "status.json")
    found = bubblewrap.children(init) if init else []
    if len(found) == 1:
        _write_state(directory, {**_read_state(directory), "repl_pid": found[0]})


# --- One execution, host side -----------------------------------------------------------------------


class _Late(Exception):
    pass


class _Gone(Exception):
    pass


class _Malformed(Exception):
    pass


@dataclass
class _Outcome:
    logs: str = ""
    error: str | None = None
    images: list[OutputFile] = field(default_factory=list)
    files: list[OutputFile] = field(default_factory=list)
    ended: bool = False  # the session had to be ended
    gone_before_start: bool = False  # the interpreter was gone before the cell began


class _Output:
    """The cell's stdout and stderr: the first SANDBOX_MAX_OUTPUT_CHARS kept, the rest counted."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.kept = bytearray()
        self.limit = 4 * max_chars + 4  # a UTF-8 character is at most 4 bytes
        self.more_chars = 0

    def feed(self, data: bytes) -> None:
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += data[:room]
            data = data[room:]
        # UTF-8 characters past the limit: every byte but continuation bytes starts one.
        self.more_chars += len(data.translate(None, CONTINUATION_BYTES))

    def text(self) -> str:
        text = self.kept.decode("utf-8", "backslashreplace")
        more = self.more_chars + max(0, len(text) - self.max_chars)
        text = readable(text[: self.max_chars])
        if more:
            text += f"\n… [output truncated: {more} more characters]"
        return text


def readable(text: str) -> str:
    """Text any database and JSON encoder takes: no NUL, no lone surrogates."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


class _Exchange:
    """One execution over a connection to the interpreter: the request, the cell's output read as
    it comes, and the three replies, each with its own deadline."""

    def __init__(self, connection: socket.socket, directory: Path):
        self.connection = connection
        self.directory = directory
        self.buffer = bytearray()
        self.output = _Output(settings.SANDBOX_MAX_OUTPUT_CHARS)
        self.selector = selectors.DefaultSelector()
        self.started = False
        self.notes: list[str] = []  # the interpreter's, on what it did not return

    def run(self, code: str, inputs: list[tuple[str, bytes]], *, fresh: bool) -> _Outcome:
        wall = float(settings.SANDBOX_WALL_SECONDS)
        read_end, write_end = os.pipe()
        outcome = _Outcome()
        try:
            self.connection.settimeout(START_SECONDS)
            try:
                socket.send_fds(self.connection, [b"\0"], [write_end])
            finally:
                os.close(write_end)
            request = {
                "code": code,
                "files": [{"name": name, "sha256": hashlib.sha256(content).hexdigest()} for name, content in inputs],
                "wall_seconds": wall,
                "cpu_seconds": float(settings.SANDBOX_CPU_SECONDS),
                "max_file_bytes": settings.SANDBOX_MAX_OUTPUT_FILE_BYTES,
            }
            send_message(self.connection, request, [content for _, content in inputs])
            self.connection.setblocking(False)
            os.set_blocking(read_end, False)
            self.selector.register(self.connection, selectors.EVENT_READ, "reply")
            self.selector.register(read_end, selectors.EVENT_READ, "output")
            self._expect("start", START_SECONDS)
            self.started = True
            if fresh:
                _record_interpreter(self.directory)
            try:
                self._expect("ran", wall + STOP_GRACE_SECONDS)
                # The cell ended, and so do the processes it started, before its files are read.
                if not _kill_strays(self.directory):
                    outcome.error = (
                        "The processes this execution started could not all be stopped, so its session was ended: "
                        "the next execution starts in a fresh session, without this one's variables and files."
                    )
                    outcome.ended = True
                    return outcome
            except _Late:
                outcome.error = (
                    f"Execution timed out after {wall:g} s; the interpreter did not stop, so its session was "
                    "ended: the next execution starts in a fresh session, without this one's variables and files."
                )
                outcome.ended = True
                return outcome
            header, blobs = self._expect("result", COLLECT_SECONDS)
            self._drain(read_end)
            self._read_result(header, blobs, outcome)
        except _Late:
            outcome.error = "The sandbox's interpreter stopped answering, so its session was ended; try again."
            outcome.ended = True
        except (_Gone, OSError):
            outcome.ended = True
            outcome.gone_before_start = not self.started
            outcome.error = self._crash_message()
        except _Malformed as exc:
            log.warning("Sandbox %s: malformed reply (%s); session ended", self.directory.name, exc)
            outcome.error = "The sandbox's interpreter sent a malformed reply, so its session was ended; try again."
            outcome.ended = True
        finally:
            self._drain(read_end)
            self.selector.close()
            os.close(read_end)
            outcome.logs = self.output.text()
            if self.notes:
                outcome.logs += ("\n" if outcome.logs and not outcome.logs.endswith("\n") else "") + "".join(
                    f"[{note}]\n" for note in self.notes
                )
        return outcome

    def _expect(self, event: str, seconds: float) -> tuple[dict, list[bytes]]:
        header, blobs = self._message(time.monotonic() + seconds)
        if header.get("event") != event:
            raise _Malformed(f"expected {event!r}, got {header.get('event')!r}")
        return header, blobs

    def _message(self, deadline: float) -> tuple[dict, list[bytes]]:
        (length,) = LENGTH.unpack(self._take(LENGTH.size, deadline))
        if length > MAX_REPLY_HEADER:
            raise _Malformed(f"a header of {length} bytes")
        try:
            header = json.loads(self._take(length, deadline))
            count = int(header["blobs"])
        except (ValueError, KeyError, TypeError) as exc:
            raise _Malformed(str(exc)) from exc
        if not isinstance(header, dict) or not 0 <= count <= MAX_IMAGES + MAX_FILES:
            raise _Malformed("blob count out of bounds")
        blobs, total = [], 0
        for _ in range(count):
            (size,) = LENGTH.unpack(self._take(LENGTH.size, deadline))
            total += size
            if size > settings.SANDBOX_MAX_OUTPUT_FILE_BYTES or total > self._max_blobs():
                raise _Malformed("a blob past its size limit")
            blobs.append(self._take(size, deadline))
        return header, blobs

    def _max_blobs(self) -> int:
        return settings.SANDBOX_DISK_BYTES + MAX_IMAGES * settings.SANDBOX_MAX_OUTPUT_FILE_BYTES

    def _take(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Late
            for key, _ in self.selector.select(remaining):
                if key.data == "output":
                    self._read_output(key.fd)
                else:
                    try:
                        chunk = self.connection.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        raise _Gone
                    self.buffer += chunk
        taken = bytes(self.buffer[:size])
        del self.buffer[:size]
        return taken

    def _read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if data:
            self.output.feed(data)
        else:
            self.selector.unregister(fd)  # every writer closed it

    def _drain(self, fd: int) -> None:
        """What the cell printed before it ended, already in the pipe (no waiting for writers)."""
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.output.feed(data)

    def _read_result(self, header: dict, blobs: list[bytes], outcome: _Outcome) -> None:
        images, names, notes = header.get("images"), header.get("files"), header.get("notes")
        error = header.get("error")
        if (
            not isinstance(images, int)
            or images < 0
            or not isinstance(names, list)
            or not isinstance(notes, list)
            or not (error is None or isinstance(error, str))
            or images + len(names) != len(blobs)
        ):
            raise _Malformed("result fields")
        max_chars = settings.SANDBOX_MAX_OUTPUT_CHARS
        outcome.error = None if error is None else readable(error[:max_chars])
        outcome.images = [OutputFile(f"image-{index + 1}.png", blob) for index, blob in enumerate(blobs[:images])]
        for name, content in zip(names, blobs[images:], strict=True):
            clean = _output_name(name)
            if clean is not None and len(content) <= settings.SANDBOX_MAX_OUTPUT_FILE_BYTES:
                outcome.files.append(OutputFile(clean, content))
        self.notes = [readable(str(note))[:500] for note in notes[:20]]

    def _crash_message(self) -> str:
        code = None
        deadline = time.monotonic() + 2
        while code is None and time.monotonic() < deadline:
            code = bubblewrap.exit_code(self.directory / "status.json")
            if code is None:
                time.sleep(0.01)
        if code is not None and code > 128:
            try:
                how = f"signal {code - 128}, {signal.Signals(code - 128).name}"
            except ValueError:
                how = f"signal {code - 128}"
        elif code is not None:
            how = f"exit status {code}"
        else:
            how = "it ended"
        return (
            f"The interpreter crashed ({how}); its session was ended: the next execution starts in a fresh "
            "session, without this one's variables and files."
        )


def _output_name(name: object) -> str | None:
    """A path relative to /mnt/data from the interpreter (whom we do not trust), or None."""
    if not isinstance(name, str) or not name or "\x00" in name or len(name) > 1024:
        return None
    path = PurePosixPath(readable(name))
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        return None
    return str(path)
