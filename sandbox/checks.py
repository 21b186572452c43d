"""System check of the sandbox's deployment: whether bubblewrap can run code_interpreter here."""

from __future__ import annotations

from django.core.checks import Warning, register

from sandbox import sessions


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
