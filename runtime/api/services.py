"""The /v1 writes of assistants: their configuration, which no run depends on while it executes
(an assistant's settings are copied onto each run at creation). Threads, messages and runs change
only through runtime.runs.
"""

from __future__ import annotations

from django.db import transaction

from runtime import hooks, runs
from runtime.api.validation import check_no_overlap
from runtime.models import Assistant

# Request field → model field, for the nullable text fields stored as "" when unset.
_TEXT = ("name", "description", "instructions")


def _assistant_values(fields: dict) -> dict:
    values = {}
    for key, value in fields.items():
        if key in _TEXT:
            values[key] = value or ""
        elif key in ("tools", "server_tools"):
            values[key] = value or []
        elif key in ("tool_resources", "metadata"):
            values[key] = value or {}
        elif key == "response_format":
            values[key] = None if value in (None, "auto") else value
        elif key in ("model", "temperature", "top_p"):
            values[key] = value
        # reasoning_effort is accepted for compatibility and not used.
    return values


def assistant_create(*, owner, fields: dict) -> Assistant:
    values = _assistant_values(fields)
    check_no_overlap(values.get("tools", []), values.get("server_tools", []))
    with transaction.atomic():
        if "tool_resources" in values:
            values["tool_resources"] = hooks.resolve_tool_resources(owner, values["tool_resources"])
        return Assistant.objects.create(owner=owner, **values)


def assistant_modify(assistant: Assistant, *, fields: dict) -> Assistant:
    """Change the given fields; runs already created keep the settings they were created with."""
    values = _assistant_values(fields)
    with transaction.atomic():
        if "tool_resources" in values:
            values["tool_resources"] = hooks.resolve_tool_resources(assistant.owner, values["tool_resources"])
        locked = Assistant.objects.select_for_update().get(pk=assistant.pk)
        for key, value in values.items():
            setattr(locked, key, value)
        check_no_overlap(locked.tools, locked.server_tools)
        if values:
            locked.save(update_fields=list(values))
    return locked


def assistant_delete(assistant: Assistant) -> None:
    """Delete an assistant. Its finished runs stay (the audit trail) and keep its id; active ones are cancelled."""
    with transaction.atomic():
        for run in assistant.runs.active():
            runs.run_cancel(run)
        assistant.delete()
