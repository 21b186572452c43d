"""Who may do what in the console: agents handle conversations; supervisors also assign, pick and measure."""

from __future__ import annotations

from common.errors import PermissionDenied

AGENTS_GROUP = "Agents"
SUPERVISORS_GROUP = "Supervisors"


def is_supervisor(user) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.groups.filter(name=SUPERVISORS_GROUP).exists())
    )


def is_agent(user) -> bool:
    """Anyone who may work in the console (supervisors included)."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and (is_supervisor(user) or user.groups.filter(name=AGENTS_GROUP).exists())
    )


def check_agent(user) -> None:
    if not is_agent(user):
        raise PermissionDenied("Only support agents can do this.")


def check_supervisor(user) -> None:
    if not is_supervisor(user):
        raise PermissionDenied("Only supervisors can do this.")
