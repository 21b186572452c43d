"""A cgroup per sandbox session, where the host lets this process make one: one memory limit for the
session as a whole (all its processes, and the pages of its tmpfs /mnt/data, /tmp and /dev/shm,
which the kernel charges to the group of the process that writes them), no swap, and a limit on
its processes. The rlimits the interpreter sets (repl_server.py) stay: they bound each process.

Detected once per process (and per SANDBOX_CGROUP_PARENT): cgroup v2 when its hierarchy has the
memory controller (memory.max, memory.swap.max, memory.oom.group, pids.max), else cgroup v1
(memory.limit_in_bytes, memory.memsw.limit_in_bytes, pids.max). Without either, sessions are bounded
per process only, and `manage.py check` says so (sandbox.W002).

A session's group is named in its directory (the file `cgroup`, written before the group is made),
so that whichever process of the host ends the session removes it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from sandbox import bubblewrap

log = logging.getLogger("concierge.sandbox")

AUTO_NAME = "concierge-sandbox"
SESSION_FILE = "cgroup"


@dataclass(frozen=True)
class Group:
    """A session's cgroup: one directory on v2; on v1 one in the memory hierarchy and one in the
    pids hierarchy (the same one when the two controllers are mounted together)."""

    version: int
    memory: Path
    pids: Path | None

    @property
    def directories(self) -> list[Path]:
        return list(dict.fromkeys(path for path in (self.memory, self.pids) if path is not None))

    def create(self) -> None:
        """Make the group and set its limits (the processes come later: `enter`)."""
        for directory in self.directories:
            directory.mkdir()
        memory = str(settings.SANDBOX_SESSION_MEMORY_BYTES)
        if self.version == 2:
            _write(self.memory / "memory.max", memory)
            _write_if_there(self.memory / "memory.swap.max", "0")
            # One process out of memory and the kernel kills all of them: the interpreter's death ends
            # the execution at once, where a killed child could leave the cell waiting for it.
            _write_if_there(self.memory / "memory.oom.group", "1")
        else:
            _write(self.memory / "memory.limit_in_bytes", memory)
            if not _write_if_there(self.memory / "memory.memsw.limit_in_bytes", memory):
                _write(self.memory / "memory.swappiness", "0")  # no swap accounting: swap as little as it can
        if self.pids is not None:
            _write(self.pids / "pids.max", _pids_limit())

    def enter(self, pid: int) -> None:
        """Move bubblewrap (`pid`) and whatever it has started so far into the group.

        A process forks into its parent's group; bubblewrap may have forked its init (and the init
        the interpreter) before it was moved, so the processes left outside are moved until none is.
        Call before the interpreter is sent a cell: until then nothing of the model's runs, and none
        of these processes forks but to start the next.
        """
        for _ in range(100):
            tree = [process for process in (pid, *bubblewrap.descendants(pid)) if _alive(process)]
            moved = False
            for directory in self.directories:
                inside = members(directory)
                for process in tree:
                    if process not in inside:
                        try:
                            _write(directory / "cgroup.procs", str(process))
                        except ProcessLookupError:
                            continue  # ended meanwhile (a failed start: the session says why)
                        moved = True
            if not moved:
                return
        if _alive(pid):
            raise OSError(errno.EAGAIN, f"the sandbox's processes kept appearing outside {self.memory}")

    @contextlib.contextmanager
    def forks_refused(self) -> Iterator[None]:
        """No process of the group can fork (or start a thread) meanwhile: pids.max is 0, then the limit."""
        if self.pids is None:
            raise OSError(errno.ENOENT, "no pids controller")
        _write(self.pids / "pids.max", "0")
        try:
            yield
        finally:
            _write(self.pids / "pids.max", _pids_limit())

    def oom_kills(self) -> int:
        """How many of the group's processes the kernel killed for lack of memory."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            lines = (self.memory / name).read_text().splitlines()
        except OSError:
            return 0
        for line in lines:
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def watch_out_of_memory(self) -> int | None:
        """A descriptor that becomes readable when the group runs out of memory (the caller closes it),
        or None. On v1 the kernel kills one process of the group, maybe a child the cell waits for;
        the host ends the session when it reads this. On v2 it kills all of them (memory.oom.group)."""
        if self.version != 1:
            return None
        notice = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            control = os.open(self.memory / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _write(self.memory / "cgroup.event_control", f"{notice} {control}")
            finally:
                os.close(control)
        except OSError as exc:
            os.close(notice)
            log.warning("Sandbox cgroup %s: no out-of-memory notice (%s)", self.memory, exc)
            return None
        return notice

    def remove(self) -> None:
        """Remove the group; any process still in it is killed first (the session's own, and only
        they ever enter it)."""
        for directory in self.directories:
            deadline = time.monotonic() + 5
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        log.warning("Sandbox cgroup %s could not be removed: %s", directory, exc)
                        break
                for pid in members(directory):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.005)


@dataclass(frozen=True)
class Layout:
    """Where the sessions' groups are made: a parent group in each hierarchy used."""

    version: int
    memory: Path
    pids: Path | None

    def group(self, name: str) -> Group:
        return Group(self.version, self.memory / name, self.pids / name if self.pids is not None else None)

    def describe(self) -> str:
        places = ", ".join(str(path) for path in dict.fromkeys(p for p in (self.memory, self.pids) if p))
        return f"cgroup v{self.version} under {places}"


# --- A session's group ---------------------------------------------------------------------------


def make_for(directory: Path) -> Group | None:
    """A new group for the session starting in `directory` (call holding its lock), or None when
    cgroups cannot be used here. Raises OSError if the group cannot be made though they could."""
    layout, _ = availability()
    if layout is None:
        return None
    group = layout.group(f"{directory.name[:16]}-{secrets.token_hex(4)}")
    # Named first: a process that dies between the two leaves a name whose group is not there,
    # never a group nobody knows of.
    (directory / SESSION_FILE).write_text(
        json.dumps({"version": group.version, "memory": str(group.memory), "pids": group.pids and str(group.pids)})
    )
    group.create()
    return group


def of_session(directory: Path) -> Group | None:
    try:
        named = json.loads((directory / SESSION_FILE).read_text())
        return Group(int(named["version"]), Path(named["memory"]), named["pids"] and Path(named["pids"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_for(directory: Path) -> None:
    """Remove the group of the session in `directory` (call once its processes are gone)."""
    group = of_session(directory)
    if group is not None:
        group.remove()
    with contextlib.suppress(FileNotFoundError):
        (directory / SESSION_FILE).unlink()


def members(directory: Path) -> set[int]:
    try:
        return {int(pid) for pid in (directory / "cgroup.procs").read_text().split()}
    except OSError:
        return set()


def size_text(size: int) -> str:
    """2 GiB, 300 MiB: a byte count as the messages and the check say it."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


# --- Detection -------------------------------------------------------------------------------------

_detected: dict[str, tuple[Layout | None, str]] = {}
_detect_lock = threading.Lock()


def availability() -> tuple[Layout | None, str]:
    """(the layout, "") when sessions get a cgroup here, else (None, why); tried once per process
    and SANDBOX_CGROUP_PARENT by making (and removing) a group with the limits."""
    parent = str(settings.SANDBOX_CGROUP_PARENT).strip()
    with _detect_lock:
        if parent not in _detected:
            layout, why = _detected[parent] = _detect(parent)
            if layout is not None:
                log.debug("Sandbox sessions get a %s", layout.describe())
            else:
                log.debug("Sandbox sessions get no cgroup: %s", why)
        return _detected[parent]


def forget_availability() -> None:
    with _detect_lock:
        _detected.clear()


def _detect(parent: str) -> tuple[Layout | None, str]:
    if parent.lower() == "none":
        return None, "SANDBOX_CGROUP_PARENT is none."
    unified, legacy = _mounts()
    reasons = []
    if unified is not None:
        try:
            return _unified(*unified, parent), ""
        except (_Unusable, OSError) as why:
            reasons.append(f"cgroup v2 ({unified[0]}): {why}")
    if "memory" in legacy:
        try:
            return _legacy(legacy, parent), ""
        except (_Unusable, OSError) as why:
            reasons.append(f"cgroup v1: {why}")
    return None, "; ".join(reasons) or "no cgroup hierarchy with a memory controller is mounted."


class _Unusable(Exception):
    pass


def _mounts() -> tuple[tuple[Path, str] | None, dict[str, tuple[Path, str]]]:
    """The cgroup2 mount and the cgroup v1 mounts by controller, each as (mount point, the cgroup
    it shows), from /proc/self/mountinfo."""
    unified, legacy = None, {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None, {}
    for line in lines:
        fields = line.split()
        try:
            separator = fields.index("-")
            kind, options = fields[separator + 1], fields[separator + 3].split(",")
        except (ValueError, IndexError):
            continue
        mount = (Path(_unescape(fields[4])), _unescape(fields[3]))
        if kind == "cgroup2" and unified is None:
            unified = mount
        elif kind == "cgroup":
            for controller in ("memory", "pids"):
                if controller in options:
                    legacy.setdefault(controller, mount)
    return unified, legacy


def _unescape(field: str) -> str:
    """mountinfo's octal escapes (a space is \\040)."""
    return field.encode().decode("unicode_escape")


def _inside(mount: Path, shown: str, cgroup: str) -> Path:
    """The directory of `cgroup` (a path as /proc/self/cgroup gives it) under a mount showing `shown`."""
    relative = os.path.relpath(os.path.normpath("/" + cgroup), shown)
    if relative.startswith(".."):
        raise _Unusable(f"{cgroup} is outside the part of the hierarchy mounted at {mount}")
    return mount if relative == "." else mount / relative


def _own_cgroup_v2() -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    raise _Unusable("this process has no cgroup v2 path")


def _unified(mount: Path, shown: str, parent: str) -> Layout:
    available = (mount / "cgroup.controllers").read_text().split()
    if "memory" not in available:
        raise _Unusable("no memory controller (it is given to a cgroup v1 hierarchy)")
    wanted = ["memory"] + (["pids"] if "pids" in available else [])
    own = _own_cgroup_v2()
    where = _inside(mount, shown, parent or f"{own.rstrip('/')}/{AUTO_NAME}")
    # Each level from the root down passes the controllers on to the groups below it (cgroup v2
    # gives a group only what its parent enabled), the parent to the sessions' groups. A level is
    # made once the one above it gives them.
    parts = where.relative_to(mount).parts
    for level in (mount.joinpath(*parts[:depth]) for depth in range(len(parts) + 1)):
        try:
            if not level.is_dir():
                level.mkdir()
        except OSError as exc:
            raise _Unusable(f"{level} cannot be made: {exc}")
        enabled = (level / "cgroup.subtree_control").read_text().split()
        missing = [name for name in wanted if name not in enabled]
        if not missing:
            continue
        try:
            _write(level / "cgroup.subtree_control", " ".join(f"+{name}" for name in missing))
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise _Unusable(
                    f"{level} holds processes, so it cannot give {' and '.join(missing)} to groups below it "
                    "(cgroup v2 keeps processes in leaves): set SANDBOX_CGROUP_PARENT to a delegated group "
                    "without processes of its own"
                )
            raise _Unusable(f"{' and '.join(missing)} cannot be enabled in {level}: {exc}")
    # Moving bubblewrap from this process's group into the session's needs write access to the
    # procs file of the group both are under.
    common = Path(os.path.commonpath([_inside(mount, shown, own), where]))
    if not os.access(common / "cgroup.procs", os.W_OK):
        raise _Unusable(f"{common}/cgroup.procs is not writable by this user, so sandboxes cannot be moved")
    layout = Layout(2, where, where if "pids" in wanted else None)
    _try(layout)
    return layout


def _legacy(mounts: dict[str, tuple[Path, str]], parent: str) -> Layout:
    places = {}
    for controller, (mount, shown) in mounts.items():
        where = _inside(mount, shown, parent) if parent else mount / AUTO_NAME
        try:
            where.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if controller == "memory":
                raise _Unusable(f"{where} cannot be made: {exc}")
            continue  # without the pids controller, the interpreter's RLIMIT_NPROC alone counts
        places[controller] = where
    layout = Layout(1, places["memory"], places.get("pids"))
    _try(layout)
    return layout


def _try(layout: Layout) -> None:
    group = layout.group(f"probe-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        group.create()
    except OSError as exc:
        raise _Unusable(f"a session's group cannot be made with its limits: {exc}")
    finally:
        group.remove()


def _pids_limit() -> str:
    # The interpreter's RLIMIT_NPROC counts bubblewrap's init, the interpreter and what it starts;
    # the group holds bubblewrap too.
    return str(settings.SANDBOX_MAX_PROCESSES + 1)


def _alive(pid: int) -> bool:
    # An exiting process is not moved (the kernel skips it) and is not listed: not worth a retry.
    return bubblewrap.is_running(pid, bubblewrap.start_time(pid))


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _write_if_there(path: Path, value: str) -> bool:
    try:
        _write(path, value)
    except FileNotFoundError:
        return False
    return True
