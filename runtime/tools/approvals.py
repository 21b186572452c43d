"""Tool calls that need a person's approval before they act (risky actions, e.g. large refunds).

A handler raises NeedsApproval after checking every rule it can. The call does not wait for the
person: it answers at once with `awaiting_approval_result` (the model tells the customer a colleague
will decide, and the run ends its turn), and runtime.runs.approvals keeps the request as work of its
own. When a person approves, the handler runs again with `ctx.approved_by` set; what it returns may
carry a `message` for the customer, which the decision posts.
"""

from __future__ import annotations

from decimal import Decimal


class NeedsApproval(Exception):
    """`summary` is for the agent who decides (with the figures they need); `customer_summary` names the
    request in the customer's words ("the return of 1 × Kettle from order A1001 (refund 89.00 USD)")."""

    def __init__(
        self,
        *,
        kind: str,
        summary: str,
        customer_summary: str = "",
        amount: Decimal | None = None,
        currency: str = "",
        details: dict | None = None,
    ) -> None:
        super().__init__(summary)
        self.kind = kind
        self.summary = summary
        self.customer_summary = customer_summary or summary
        self.amount = amount
        self.currency = currency
        self.details = details or {}

    def request(self) -> dict:
        """The ToolApproval's fields."""
        return {
            "kind": self.kind,
            "summary": self.summary,
            "customer_summary": self.customer_summary,
            "amount": self.amount,
            "currency": self.currency,
            "details": self.details,
        }


def awaiting_approval_result(customer_summary: str) -> dict:
    """What a call that needs approval answers the model at once: nothing was done yet, a person decides,
    and the answer will come in this conversation. `message` is written for the customer."""
    return {
        "status": "awaiting_approval",
        "done": False,
        "message": (
            f"A colleague from our team has to approve {customer_summary}. I've passed the request on, and "
            "their answer will appear here in this chat. Nothing has been done yet; meanwhile you can keep "
            "writing, ask for a person, or withdraw the request."
        ),
    }
