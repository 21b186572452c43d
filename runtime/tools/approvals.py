"""Tool calls that need a person's approval before they act (risky actions, e.g. large refunds).

A handler raises NeedsApproval after checking every rule it can; the executor records a
ToolApproval and the run waits. When a person approves, the handler runs again with
`ctx.approved` set; when they decline, the model gets a structured "declined" result.
"""

from __future__ import annotations

from decimal import Decimal


class NeedsApproval(Exception):
    def __init__(
        self, *, kind: str, summary: str, amount: Decimal | None = None, currency: str = "", details: dict | None = None
    ) -> None:
        super().__init__(summary)
        self.kind = kind
        self.summary = summary
        self.amount = amount
        self.currency = currency
        self.details = details or {}
