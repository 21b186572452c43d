"""Supervisors edit the shop assistant's instructions and tools from the console; every change is audited.

The assistant is the one that answers the chat widget (orders.assistant.persona.default_assistant).
Its tools are those registered in code (runtime.tools.registry): server tools go to `server_tools`,
built-ins (file_search, code_interpreter) to `tools` as {"type": name}; the caller's own client-side
functions in `tools`, if any, are kept as they are. The write goes through the same service as /v1's
"modify assistant" (runtime.api.services.assistant_modify); runs already created keep the settings
they were created with.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from agents.models import AssistantChange
from agents.permissions import check_supervisor
from common.errors import InvalidInput, InvalidState
from orders.assistant.persona import default_assistant
from runtime.api.services import assistant_modify
from runtime.models import Assistant
from runtime.tools import registry

MAX_INSTRUCTIONS_CHARS = 256_000  # the Assistants API's limit
AUDIT_SHOWN = 50


@dataclass(frozen=True)
class ToolChoice:
    name: str
    description: str
    builtin: bool
    enabled: bool


def editable_assistant() -> Assistant | None:
    return default_assistant()


def enabled_tools(assistant: Assistant) -> list[str]:
    """The registered tools the assistant may use, server tools and built-ins together, sorted."""
    return sorted(set(assistant.server_tools) | set(registry.builtins_in(assistant.tools)))


def tool_choices(assistant: Assistant) -> list[ToolChoice]:
    enabled = set(enabled_tools(assistant))
    return [
        ToolChoice(name=name, description=tool.description, builtin=tool.builtin, enabled=name in enabled)
        for name in registry.names()
        if (tool := registry.get(name)) is not None
    ]


def version_of(assistant: Assistant) -> str:
    """A fingerprint of what the settings page edits: a save made on an older page is refused, not merged."""
    edited = [assistant.instructions, enabled_tools(assistant)]
    return hashlib.sha256(json.dumps(edited).encode()).hexdigest()[:16]


def _check_tools(names: list[str]) -> list[str]:
    known = set(registry.names())
    unknown = sorted(set(names) - known)
    if unknown:
        raise InvalidInput(f"There is no tool named {unknown[0]!r}.", param="tools")
    return sorted(set(names))


def assistant_settings_update(*, assistant: Assistant, supervisor, instructions: str, tools: list[str], version: str):
    """Set the assistant's instructions and tools as a supervisor chose them on the settings page,
    writing an AssistantChange (before and after) for each of the two that changed. Returns the
    changes written (none when nothing changed)."""
    check_supervisor(supervisor)
    instructions = instructions.replace("\r\n", "\n").strip()
    if len(instructions) > MAX_INSTRUCTIONS_CHARS:
        raise InvalidInput(f"Keep the instructions to {MAX_INSTRUCTIONS_CHARS:,} characters.", param="instructions")
    wanted = _check_tools(tools)
    with transaction.atomic():
        locked = Assistant.objects.select_for_update().get(pk=assistant.pk)
        if version != version_of(locked):
            raise InvalidState(
                "Someone changed the assistant since you opened this page. Reload it to see their change.",
                code="stale_settings",
            )
        before = {"instructions": locked.instructions, "tools": enabled_tools(locked)}
        after = {"instructions": instructions, "tools": wanted}
        fields = {}
        if after["instructions"] != before["instructions"]:
            fields["instructions"] = instructions
        if after["tools"] != before["tools"]:
            builtins = [name for name in wanted if registry.get(name).builtin]
            # The caller's own entries in `tools` (client-side functions) stay; built-ins follow the choice.
            kept = [t for t in locked.tools if not (isinstance(t, dict) and t.get("type") in registry.names())]
            fields["tools"] = [*kept, *({"type": name} for name in builtins)]
            fields["server_tools"] = [name for name in wanted if not registry.get(name).builtin]
        if not fields:
            return []
        assistant_modify(locked, fields=fields)
        name = supervisor.get_full_name() or supervisor.get_username()
        return [
            AssistantChange.objects.create(
                assistant=locked,
                assistant_public_id=locked.public_id,
                changed_by=supervisor,
                changed_by_name=name,
                field=field,
                before=before[field],
                after=after[field],
            )
            for field in ("instructions", "tools")
            if after[field] != before[field]
        ]


def assistant_changes(assistant: Assistant, limit: int = AUDIT_SHOWN) -> QuerySet[AssistantChange]:
    """The audit, newest first."""
    return AssistantChange.objects.filter(assistant_public_id=assistant.public_id).order_by("-changed_at", "-id")[
        :limit
    ]
