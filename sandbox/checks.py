"""System checks of the sandbox's deployment: whether bubblewrap can run code_interpreter here, and
whether a session's memory is bounded as a whole (a cgroup per session) or per process only."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register

from sandbox import cgroups, sessions


@register()
def bubblewrap_can_run(app_configs, **kwargs) -> list[Warning]:
    ok, why = sessions.availability()
    if ok:
        return []
    return [
        Warning(
            f"code_interpreter is not offered: {why}",
            hint="`make sandbox` installs bubblewrap and builds the sandbox's Python runtime (as root or with "
            "sudo); user namespaces must be allowed (sysctl kernel.unprivileged_userns_clone=1 where it exists). "
            "Code is never run outside the sandbox.",
            id="sandbox.W001",
        )
    ]


@register()
def session_memory_is_bounded(app_configs, **kwargs) -> list[Warning]:
    if not sessions.availability()[0]:
        return []  # no sandbox at all: W001 says why
    layout, why = cgroups.availability()
    if layout is not None:
        return []
    processes, memory = settings.SANDBOX_MAX_PROCESSES, settings.SANDBOX_MEMORY_BYTES
    files = settings.SANDBOX_DISK_BYTES + 2 * settings.SANDBOX_TMP_BYTES  # /mnt/data, /tmp and /dev/shm
    size = cgroups.size_text
    return [
        Warning(
            f"Per-session memory is bounded only per process: {processes} processes × {size(memory)} = "
            f"{size(processes * memory)} a session, and {size(files)} of files in its tmpfs, with up to "
            f"{settings.SANDBOX_MAX_SESSIONS} sessions on this host. No cgroup can be used: {why}",
            hint="Let this process make cgroups: on cgroup v2, the memory and pids controllers delegated (systemd: "
            "Delegate=yes, with SANDBOX_CGROUP_PARENT naming a delegated group that holds no processes), on v1 the "
            "memory and pids hierarchies writable (as root). Then SANDBOX_SESSION_MEMORY_BYTES bounds a session "
            "(docs/architecture.md, 'The sandbox').",
            id="sandbox.W002",
        )
    ]
