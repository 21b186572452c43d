"""What a tool knows about who it acts for: the thread (and the customer the shop's signed identity
bound it to), never the model's word."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from runtime.models import Run, Thread


@dataclass
class ToolContext:
    thread: Thread
    run: Run | None = None
    call_id: str = ""
    # The person (a user) who approved this very call, when it runs on their decision
    # (runtime.tools.approvals); the tool acts as that approval allows.
    approved_by: Any = None
    # What tools keep for the length of a run (say, the orders proven in its thread, read once), shared
    # by every call's copy of the context (`for_call`); a plug-in keys it by its own name.
    shared: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def approved(self) -> bool:
        return self.approved_by is not None

    @property
    def customer(self):
        """The customer the shop's signed identity bound this thread to, if any."""
        return self.thread.customer

    def for_call(self, call_id: str) -> ToolContext:
        """The context of one tool call of this run (the same `shared` state)."""
        return replace(self, call_id=call_id)
