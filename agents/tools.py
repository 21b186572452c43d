"""The assistant's ways to involve a person: hand the conversation over now, book a callback for a
premium customer, or withdraw a request that waits for a colleague's approval."""

from __future__ import annotations

from agents.services import escalate, open_escalation
from orders.models import Customer
from runtime import runs
from runtime.tools.context import ToolContext
from runtime.tools.registry import tool

PRIORITIES = ["low", "normal", "high", "urgent"]


@tool(
    "escalate_to_human",
    "Hand the conversation to a human support agent: when the customer asks for a person, is upset, "
    "or you cannot solve the problem. Say that a person will join.",
    {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "description": "Why a person is needed, in one sentence.", "maxLength": 500},
            "priority": {"type": "string", "enum": list(PRIORITIES), "default": "normal"},
        },
        "required": ["reason"],
    },
    activity=lambda args: "Asking a person from our team to join…",
)
def escalate_to_human(ctx: ToolContext, args: dict) -> dict:
    already_waiting = open_escalation(ctx.thread) is not None
    escalation = escalate(
        thread=ctx.thread, trigger="model_tool", reason=args["reason"], priority=args.get("priority", "normal")
    )
    return {
        "escalated": True,
        "already_waiting": already_waiting,
        "priority": escalation.priority,
        "message": "A person from our support team will join this conversation shortly.",
    }


@tool(
    "request_callback",
    "Premium customers only: ask a person from the team to call the customer back about a topic.",
    {
        "type": "object",
        "properties": {
            "topic": {"type": "string", "maxLength": 500},
            "preferred_time": {"type": "string", "maxLength": 100},
        },
        "required": ["topic"],
    },
    available=lambda ctx: ctx.customer is not None and ctx.customer.tier == Customer.Tier.PREMIUM,
    activity=lambda args: "Booking a callback from our team…",
)
def request_callback(ctx: ToolContext, args: dict) -> dict:
    when = args.get("preferred_time") or "as soon as possible"
    escalate(
        thread=ctx.thread,
        trigger="model_tool",
        reason=f"Premium callback requested ({when}): {args['topic']}",
        priority="high",
    )
    return {"callback_requested": True, "preferred_time": when}


@tool(
    "withdraw_request",
    "Withdraw the customer's request that waits for a colleague's approval (a large refund, say) when the "
    "customer no longer wants it. Nothing of it was done; say so.",
    {"type": "object", "properties": {}, "additionalProperties": False},
    activity=lambda args: "Withdrawing your request…",
)
def withdraw_request(ctx: ToolContext, args: dict) -> dict:
    withdrawn = runs.withdraw_approvals(thread=ctx.thread)
    if not withdrawn:
        return {
            "withdrawn": 0,
            "message": "No request of yours is waiting for approval in this conversation, so there was nothing "
            "to withdraw.",
        }
    what = "; ".join(approval.customer_summary for approval in withdrawn)
    return {"withdrawn": len(withdrawn), "message": f"I've withdrawn your request ({what}); nothing was changed."}
