"""The interpreter that lives inside a sandbox session: sandbox.sessions runs this file's source as
`python -c` in bubblewrap, and it executes one cell per connection on the listening socket it
inherited, keeping its globals between cells like a notebook kernel.

Only the standard library, and nothing at import but definitions: the host imports the framing
(`send_message`) from here too. Everything else runs beside the model's code, which can change any
of it after the first cell, so the host trusts nothing this process says: it caps every size it
reads, keeps its own clock, and kills the whole sandbox when a reply is late or malformed. The
limits that matter are set here before any cell runs (hard rlimits cannot be raised again) or are
the kernel's (namespaces, tmpfs sizes).

One execution, as the host sees it: it connects, passes the write end of a pipe (the cell's
stdout and stderr, interleaved as printed, read by the host while the cell runs), sends the code
and the input files, and reads three messages: "start" (files copied, the cell begins), "ran"
(the cell ended) and "result" (the error, the captured figures and the files the cell wrote).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import importlib.util
import io
import json
import linecache
import math
import os
import resource
import shutil
import signal
import socket
import stat
import struct
import sys
import traceback
import types

DATA = "/mnt/data"
LENGTH = struct.Struct("!Q")
BACKEND = "concierge_inline"
INCOMING = ".concierge-incoming"  # an input file being copied in, renamed into place when whole
# A request's header is the code and the input files' names; the files follow as blobs.
MAX_REQUEST_HEADER = 16 * 1024 * 1024
# Figures and files returned by one execution, at most (the rest are named in a note).
MAX_IMAGES = 50
MAX_FILES = 200
CHUNK = 1 << 20


def send_message(sock: socket.socket, header: dict, blobs: list[bytes] | tuple = ()) -> None:
    """One message: an 8-byte length and a JSON header saying how many blobs follow, then each
    blob as an 8-byte length and its bytes."""
    body = json.dumps({**header, "blobs": len(blobs)}).encode()
    sock.sendall(LENGTH.pack(len(body)) + body)
    for blob in blobs:
        send_blob(sock, blob)


def send_blob(sock: socket.socket, blob: bytes) -> None:
    sock.sendall(LENGTH.pack(len(blob)))
    sock.sendall(blob)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, CHUNK))
        if not chunk:
            raise EOFError("the host went away")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _recv_header(sock: socket.socket) -> dict:
    (size,) = LENGTH.unpack(_recv_exactly(sock, LENGTH.size))
    if size > MAX_REQUEST_HEADER:
        raise ValueError("request header too large")
    return json.loads(_recv_exactly(sock, size))


class ExecutionTimeout(BaseException):
    """Raised into the cell by SIGALRM; a BaseException, so `except Exception` does not swallow it."""


class CpuTimeExceeded(BaseException):
    """Raised into the cell by SIGXCPU (the soft CPU limit of this execution)."""


class _Backend:
    """matplotlib's backend `module://concierge_inline`: Agg, whose show() captures each open figure
    as a PNG (as Jupyter's inline backend does). Built only when matplotlib asks for it. A finder
    and loader by protocol (importlib.abc would cost a fresh session 25 ms of imports)."""

    def __init__(self, figures: list[bytes]):
        self.figures = figures

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name == BACKEND else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        from matplotlib.backend_bases import FigureManagerBase
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        module.FigureCanvas = FigureCanvasAgg
        module.FigureManager = FigureManagerBase
        module.show = lambda *args, **kwargs: self.capture_open_figures()

    def capture_open_figures(self) -> None:
        pylab_helpers = sys.modules.get("matplotlib._pylab_helpers")
        if pylab_helpers is None:
            return
        for manager in pylab_helpers.Gcf.get_all_fig_managers():
            buffer = io.BytesIO()
            manager.canvas.figure.savefig(buffer, format="png", bbox_inches="tight")
            self.figures.append(buffer.getvalue())
        pylab_helpers.Gcf.destroy_all()


class Kernel:
    def __init__(self, config: dict):
        self.config = config
        self.figures: list[bytes] = []
        self.backend = _Backend(self.figures)
        self.cells = 0
        self.pid = os.getpid()
        # The cells' globals are a module of their own named __main__ (pickle and dataclasses look
        # for it there), not this file's.
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        self.namespace = main.__dict__
        self.devnull = os.open(os.devnull, os.O_RDWR)

    def start(self) -> None:
        limits = self.config["limits"]
        for name, value in (
            ("RLIMIT_AS", limits["memory_bytes"]),
            ("RLIMIT_NPROC", limits["processes"]),
            ("RLIMIT_NOFILE", limits["open_files"]),
            ("RLIMIT_FSIZE", limits["file_bytes"]),
            ("RLIMIT_CORE", 0),
        ):
            resource.setrlimit(getattr(resource, name), (value, value))
        # A write past RLIMIT_FSIZE fails with EFBIG (an OSError the cell sees) instead of killing us.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        signal.signal(signal.SIGALRM, self._on_alarm)
        sys.meta_path.insert(0, self.backend)
        # matplotlib's font cache, built with the runtime, copied where matplotlib may write.
        os.makedirs(os.environ["MPLCONFIGDIR"], exist_ok=True)
        prebuilt = os.path.join(sys.prefix, "mplconfig")
        if os.path.isdir(prebuilt):
            for name in os.listdir(prebuilt):
                shutil.copy(os.path.join(prebuilt, name), os.environ["MPLCONFIGDIR"])
        # Written through, so stdout and stderr interleave in the pipe as they were printed.
        self.stdout, self.stderr = (
            io.TextIOWrapper(
                io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
            )
            for fd in (1, 2)
        )
        self._silence()

    def _on_alarm(self, signum, frame):
        raise ExecutionTimeout

    def _on_cpu(self, signum, frame):
        raise CpuTimeExceeded

    def _silence(self) -> None:
        os.dup2(self.devnull, 1)
        os.dup2(self.devnull, 2)

    def serve(self, listener: socket.socket) -> None:
        while True:
            connection, _ = listener.accept()
            try:
                self.handle(connection)
            except (OSError, EOFError, ValueError):
                pass  # the host gave up on this execution (and will kill us if it must)
            finally:
                if os.getpid() != self.pid:
                    os._exit(0)
                self._silence()
                connection.close()

    def handle(self, connection: socket.socket) -> None:
        self.reap()
        _, fds, _, _ = socket.recv_fds(connection, 1, 1)
        if len(fds) != 1:
            raise ValueError("expected the output pipe")
        request = _recv_header(connection)
        error = self.copy_in(connection, request["files"])
        before = snapshot()
        send_message(connection, {"event": "start"})
        os.dup2(fds[0], 1)
        os.dup2(fds[0], 2)
        os.close(fds[0])
        if error is None:
            error = self.run(request["code"], request["wall_seconds"], request["cpu_seconds"])
        if os.getpid() != self.pid:
            os._exit(0)  # a process the cell forked, leaving the cell: the interpreter answers, not it
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        self._silence()
        send_message(connection, {"event": "ran"})  # the host now ends the processes the cell started
        try:
            self.backend.capture_open_figures()
        except Exception as exc:  # a figure that cannot be drawn is the cell's error, not ours
            error = error or "".join(traceback.format_exception_only(exc))
        max_bytes = request["max_file_bytes"]
        images, self.figures[:] = list(self.figures), []
        notes = [
            f"Figure {n} ({len(png)} bytes) is larger than {max_bytes} bytes and was not returned."
            for n, png in enumerate(images, 1)
            if len(png) > max_bytes
        ]
        images = [png for png in images if len(png) <= max_bytes]
        if len(images) > MAX_IMAGES:
            notes.append(f"Only the first {MAX_IMAGES} of {len(images)} figures were returned.")
            del images[MAX_IMAGES:]
        files, more_notes = changed_files(before, max_bytes)
        header = {"event": "result", "error": error, "images": len(images), "files": files, "notes": notes + more_notes}
        body = json.dumps({**header, "blobs": len(images) + len(files)}).encode()
        connection.sendall(LENGTH.pack(len(body)) + body)
        for png in images:
            send_blob(connection, png)
        for name in files:  # one file in memory at a time, read as it is sent
            send_blob(connection, read_file(name, max_bytes))

    def reap(self) -> None:
        """Collect the processes of earlier cells, which the host killed when their cell ended (a
        zombie still counts against RLIMIT_NPROC)."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def copy_in(self, connection: socket.socket, files: list[dict]) -> str | None:
        """Write the input files that follow the request into /mnt/data, streamed (a file may be
        as large as the disk), leaving alone one already there with the same bytes."""
        error = None
        for file in files:
            name, digest = file["name"], bytes.fromhex(file["sha256"])
            (size,) = LENGTH.unpack(_recv_exactly(connection, LENGTH.size))
            path = os.path.join(DATA, name)
            if error is not None or same_file(path, size, digest):
                _discard(connection, size)
                continue
            remaining = size
            try:
                with open(os.path.join(DATA, INCOMING), "wb") as part:
                    while remaining:
                        chunk = connection.recv(min(remaining, CHUNK))
                        if not chunk:
                            raise EOFError("the host went away")
                        remaining -= len(chunk)
                        part.write(chunk)
                os.replace(os.path.join(DATA, INCOMING), path)
            except OSError as exc:
                _discard(connection, remaining)
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(DATA, INCOMING))
                error = f"The input file {name} could not be copied into {DATA}: {exc}"
        return error

    def run(self, code: str, wall_seconds: float, cpu_seconds: float) -> str | None:
        self.cells += 1
        filename = f"<cell {self.cells}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        sys.stdout, sys.stderr = self.stdout, self.stderr  # a cell may have replaced them
        used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used + cpu_seconds), cpu_hard))
            signal.setitimer(signal.ITIMER_REAL, wall_seconds)
            signal.signal(signal.SIGXCPU, self._on_cpu)
            try:
                tree = ast.parse(code, filename, "exec")
                last = None
                if tree.body and isinstance(tree.body[-1], ast.Expr):
                    last = ast.Expression(tree.body.pop().value)
                exec(compile(tree, filename, "exec"), self.namespace)
                if last is not None:
                    value = eval(compile(last, filename, "eval"), self.namespace)
                    if value is not None:
                        sys.displayhook(value)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                # Until the next cell, threads a cell left running get as much CPU again, no more:
                # past it the kernel's SIGXCPU ends this interpreter (whichever thread it reaches;
                # a Python handler would wait for the main thread, blocked in accept()), and the
                # next execution starts a fresh one.
                signal.signal(signal.SIGXCPU, signal.SIG_DFL)
                used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
                resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used + cpu_seconds), cpu_hard))
        except ExecutionTimeout:
            return f"Execution timed out after {wall_seconds:g} s (the limit for one execution)."
        except CpuTimeExceeded:
            return f"CPU time limit exceeded: {cpu_seconds:g} s of CPU for one execution."
        except BaseException as exc:  # the cell's own exception: its traceback is the answer
            return describe(exc, self.config["limits"]["memory_bytes"])
        return None


def describe(exc: BaseException, memory_bytes: int) -> str:
    # The first frame is run()'s own; the model needs its cell's frames only.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if isinstance(exc, MemoryError):
        return f"Memory limit exceeded (MemoryError): a process may use {memory_bytes / 2**30:.3g} GiB.\n{text}"
    if isinstance(exc, OSError) and exc.errno == 28:
        return f"{text}(/mnt/data and /tmp are size-limited; the sandbox's disk is full.)"
    return text


def snapshot() -> dict[str, tuple[int, int, int]]:
    found = {}
    for directory, _, names in os.walk(DATA):
        for name in names:
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and path != os.path.join(DATA, INCOMING):
                found[os.path.relpath(path, DATA)] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return found


def same_file(path: str, size: int, digest: bytes) -> bool:
    try:
        if not os.path.isfile(path) or os.path.getsize(path) != size:
            return False
        with open(path, "rb") as existing:
            return hashlib.file_digest(existing, "sha256").digest() == digest
    except OSError:
        return False


def _discard(sock: socket.socket, size: int) -> None:
    while size:
        chunk = sock.recv(min(size, CHUNK))
        if not chunk:
            raise EOFError("the host went away")
        size -= len(chunk)


def changed_files(before: dict, max_file_bytes: int) -> tuple[list[str], list[str]]:
    """The files under /mnt/data the cell created or changed that can be returned, and notes on
    those that cannot."""
    files, notes = [], []
    for name, entry in sorted(snapshot().items()):
        if before.get(name) == entry:
            continue
        if entry[1] > max_file_bytes:
            notes.append(
                f"{DATA}/{name} ({entry[1]} bytes) is larger than {max_file_bytes} bytes and was not returned."
            )
        elif not os.access(os.path.join(DATA, name), os.R_OK):
            notes.append(f"{DATA}/{name} cannot be read and was not returned.")
        elif len(files) == MAX_FILES:
            notes.append(f"{DATA}/{name} was not returned: at most {MAX_FILES} files are returned at once.")
        else:
            files.append(name)
    return files, notes


def read_file(name: str, max_file_bytes: int) -> bytes:
    try:
        with open(os.path.join(DATA, name), "rb") as file:
            return file.read(max_file_bytes)
    except OSError:
        return b""


def main() -> None:
    config = json.loads(sys.argv[1])
    listener = socket.socket(fileno=config["listen_fd"])
    kernel = Kernel(config)
    kernel.start()
    kernel.serve(listener)


if __name__ == "__main__":
    main()
