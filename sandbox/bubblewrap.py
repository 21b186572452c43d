"""The bubblewrap command line of a sandbox session, whether bubblewrap can run here, and the host's
view of a sandbox's processes (to end them).

What the sandbox sees: the sandbox runtime (a venv of its own, `make sandbox`) read-only at
/opt/python, /usr and the /lib* links read-only, a private /proc and /dev; writable, and only
these, the size-limited tmpfs /mnt/data (the session's files, gone with it), /tmp and /dev/shm. New user, PID,
IPC, UTS, mount, cgroup and network namespaces (a loopback of its own, no network beyond it),
no environment of the host's, no capabilities, no further user namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings

# Where the sandbox runtime (the venv SANDBOX_PYTHON belongs to) appears inside.
RUNTIME = "/opt/python"
# When the host runs as root, bubblewrap runs as nobody: the kernel never applies RLIMIT_NPROC to
# root's processes, so a fork bomb would only be stopped by the wall clock. As nobody, each
# sandbox's user namespace counts its own processes (measured: 14 forks, then EAGAIN, at 16).
UNPRIVILEGED_UID = 65534
INSIDE_UID = 65534
ENVIRONMENT = {
    "PATH": "/opt/python/bin:/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "MPLBACKEND": "module://concierge_inline",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    # One thread per BLAS: a 2-core host shares its cores between sessions, and every thread's
    # stack and arena count against the address-space limit.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def runtime_dir(python: Path) -> Path:
    """The venv of the sandbox's interpreter (SANDBOX_PYTHON is its bin/python)."""
    return Path(os.path.abspath(python)).parent.parent


def base_prefix(runtime: Path) -> Path | None:
    """The installation a venv's python links to (pyvenv.cfg's home is its bin directory)."""
    try:
        lines = (runtime / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).resolve().parent
    return None


def options(*, python: Path, status_fd: int) -> list[str]:
    """bubblewrap's options for a session (given to it through a file descriptor, `--args`, so that
    no host path appears in the command line the sandbox can read in /proc/1/cmdline)."""
    runtime = runtime_dir(python)
    args = [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--uid",
        str(INSIDE_UID),
        "--gid",
        str(INSIDE_UID),
        "--hostname",
        "sandbox",
        "--json-status-fd",
        str(status_fd),
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    # Debian's /bin, /lib… are links into /usr; elsewhere they are directories of their own.
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    base = base_prefix(runtime)
    if base is not None and not str(base).startswith("/usr/"):
        args += ["--ro-bind", str(base), str(base)]  # e.g. a pyenv install the venv links to
    args += ["--ro-bind", str(runtime), RUNTIME]
    # /dev is a tmpfs of bubblewrap's, /dev/shm (multiprocessing's semaphores) one of ours: both
    # bounded, like every writable place, since a tmpfs fills memory, not a disk.
    tmp_size = str(settings.SANDBOX_TMP_BYTES)
    args += ["--proc", "/proc", "--dev", "/dev", "--size", tmp_size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    args += ["--size", tmp_size, "--tmpfs", "/tmp"]
    args += ["--size", str(settings.SANDBOX_DISK_BYTES), "--tmpfs", "/mnt/data", "--chdir", "/mnt/data"]
    for name, value in ENVIRONMENT.items():
        args += ["--setenv", name, value]
    # The root is bubblewrap's own tmpfs, writable until now: /etc or /mnt would fill memory.
    return [*args, "--remount-ro", "/"]


def options_file(arguments: list[str]) -> int:
    """A descriptor bubblewrap reads `--args` from (NUL-separated), positioned at its start."""
    fd = os.memfd_create("bwrap-args", os.MFD_CLOEXEC)
    os.write(fd, b"".join(os.fsencode(argument) + b"\0" for argument in arguments))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def command(*, options_fd: int, argv: Sequence[str]) -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    return [bwrap, "--args", str(options_fd), "--", f"{RUNTIME}/bin/python", "-s", *argv]


def spawn_options() -> dict:
    """How to start bubblewrap from this process: as nobody when we are root."""
    # No environment at all: bubblewrap's own PID 1 inside keeps the one it was started with, and
    # the sandbox can read it in /proc/1/environ (--clearenv clears only the command's).
    options: dict = {"cwd": "/", "start_new_session": True, "close_fds": True, "env": {}}
    if os.geteuid() == 0:
        options.update(user=UNPRIVILEGED_UID, group=UNPRIVILEGED_UID, extra_groups=[])
    return options


_probed: dict[tuple[str, str], tuple[bool, str]] = {}
_probe_lock = threading.Lock()


def availability() -> tuple[bool, str]:
    """Whether a sandbox can start here, tried once (per bwrap and runtime) by starting one."""
    python = Path(settings.SANDBOX_PYTHON)
    bwrap = shutil.which("bwrap")
    key = (str(bwrap), str(python))
    with _probe_lock:
        if key not in _probed:
            _probed[key] = _probe(bwrap, python)
        return _probed[key]


def forget_availability() -> None:
    with _probe_lock:
        _probed.clear()


def _probe(bwrap: str | None, python: Path) -> tuple[bool, str]:
    if bwrap is None:
        return False, "bubblewrap (bwrap) is not installed: `make sandbox` installs Debian's bubblewrap."
    if not python.exists():
        return False, f"The sandbox's Python runtime {python} is missing: `make sandbox` builds it (SANDBOX_PYTHON)."
    read, write = os.pipe()
    arguments = options_file(options(python=python, status_fd=write))
    try:
        completed = subprocess.run(
            command(options_fd=arguments, argv=["-c", "import numpy"]),
            pass_fds=(write, arguments),
            capture_output=True,
            timeout=30,
            **spawn_options(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"bubblewrap could not be started: {exc}"
    finally:
        for fd in (read, write, arguments):
            os.close(fd)
    if completed.returncode != 0:
        why = completed.stderr.decode(errors="replace").strip()[-500:] or f"exit status {completed.returncode}"
        return False, f"bubblewrap cannot run a sandbox here: {why}"
    return True, ""


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rpartition(b")")[2].split()
    except OSError:
        return None


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), to tell it from a later one with its pid."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def is_running(pid: int, started: int | None) -> bool:
    """Whether the process that started at `started` is still running (a zombie is not: it is gone
    but for its exit status, which its parent may be slow to collect)."""
    fields = _stat(pid)
    return fields is not None and int(fields[19]) == started and fields[0] not in (b"Z", b"X")


def kill(pid: int, started: int) -> None:
    """SIGKILL `pid` if it is still the process that started at `started` (never a reused pid)."""
    if is_running(pid, started):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    found = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as file:
                found += [int(child) for child in file.read().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """The living descendants of `pid` (zombies are dead already, waiting for their parent)."""
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop()):
            fields = _stat(child)
            if fields is not None and fields[0] not in (b"Z", b"X"):
                found.append(child)
            queue.append(child)
    return found


def sandbox_init(status_path: Path) -> int | None:
    """The host pid of the sandbox's PID 1 (bubblewrap's reaper), from its --json-status-fd."""
    try:
        first = status_path.read_text().split("\n", 1)[0]
        return int(json.loads(first)["child-pid"])
    except (OSError, ValueError, KeyError):
        return None


def exit_code(status_path: Path) -> int | None:
    try:
        lines = status_path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if "exit-code" in document:
            return int(document["exit-code"])
    return None
