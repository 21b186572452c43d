"""The assistant's way to hand a conversation to a person."""

from __future__ import annotations

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
    from agents.services import escalate, open_escalation

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
