"""One execution, seen from the host: the request to a session's interpreter, the cell's output
read from its pipe as it comes, and the interpreter's three replies ("start", "ran", "result"),
each under a deadline of the host's own. The interpreter runs beside the model's code, so nothing
it says is trusted: sizes are capped, names checked, and a late, malformed or missing reply ends
the session."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import selectors
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings

from sandbox import bubblewrap, cgroups, directories
from sandbox.repl_server import LENGTH, MAX_FILES, MAX_IMAGES, send_message

log = logging.getLogger("concierge.sandbox")

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


class _Late(Exception):
    pass


class _Gone(Exception):
    pass


class _Malformed(Exception):
    pass


class _OutOfMemory(Exception):
    pass


@dataclass
class Outcome:
    logs: str = ""
    error: str | None = None
    images: list[OutputFile] = field(default_factory=list)
    files: list[OutputFile] = field(default_factory=list)
    ended: bool = False  # the session had to be ended
    gone_before_start: bool = False  # the interpreter was gone before the cell began
    out_of_memory: bool = False  # the kernel said the session's cgroup ran out of memory


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


class Exchange:
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
        self.group = cgroups.of_session(directory)
        self.out_of_memory_notice: int | None = None

    def run(self, code: str, inputs: list[tuple[str, bytes]], *, fresh: bool) -> Outcome:
        """The execution; when the session's cgroup ran out of memory meanwhile, the session is ended
        and the outcome says so, whatever else happened."""
        if self.group is None:
            return self._run(code, inputs, fresh=fresh)
        killed_before = self.group.oom_kills()
        self.out_of_memory_notice = self.group.watch_out_of_memory()
        try:
            outcome = self._run(code, inputs, fresh=fresh)
        finally:
            if self.out_of_memory_notice is not None:
                os.close(self.out_of_memory_notice)
        if outcome.out_of_memory or self.group.oom_kills() > killed_before:
            limit = cgroups.size_text(settings.SANDBOX_SESSION_MEMORY_BYTES)
            outcome.error = (
                f"The session ran out of memory (limit {limit} for all its processes and its files in /mnt/data "
                "and /tmp), so it was ended: the next execution starts in a fresh session, without this one's "
                "variables and files."
            )
            outcome.ended, outcome.gone_before_start = True, False
        return outcome

    def _run(self, code: str, inputs: list[tuple[str, bytes]], *, fresh: bool) -> Outcome:
        wall = float(settings.SANDBOX_WALL_SECONDS)
        read_end, write_end = os.pipe()
        outcome = Outcome()
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
            if self.out_of_memory_notice is not None:
                self.selector.register(self.out_of_memory_notice, selectors.EVENT_READ, "out of memory")
            self._expect("start", START_SECONDS)
            self.started = True
            if fresh:
                directories.record_interpreter(self.directory)
            try:
                self._expect("ran", wall + STOP_GRACE_SECONDS)
                # The cell ended, and so do the processes it started, before its files are read.
                if not directories.kill_strays(self.directory):
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
        except _OutOfMemory:
            outcome.out_of_memory = True  # the message is run()'s
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
                elif key.data == "out of memory":
                    raise _OutOfMemory
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

    def _read_result(self, header: dict, blobs: list[bytes], outcome: Outcome) -> None:
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
