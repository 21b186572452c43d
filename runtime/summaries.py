"""AI summaries of a conversation, as structured output (a JSON schema) from the model.

Used to compact the older turns of a long thread, and by the agents app to brief the person who
takes a conversation over. With no provider key, the offline model writes them.
"""

from __future__ import annotations

import json
import logging

from runtime.engine.model import ModelCallFailed, call_model

log = logging.getLogger(__name__)

MOODS = ["calm", "confused", "frustrated", "angry", "happy"]

SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {
        "headline": {"type": "string", "description": "One line: who needs what."},
        "problem": {"type": "string", "description": "The customer's problem in their terms."},
        "customer": {"type": "string", "description": "Who the customer is, as far as verified."},
        "verified_orders": {"type": "array", "items": {"type": "string"}},
        "actions_taken": {
            "type": "array",
            "items": {"type": "string"},
            "description": "What the assistant did: tool calls and their results.",
        },
        "open_items": {"type": "array", "items": {"type": "string"}},
        "mood": {"type": "string", "enum": MOODS},
        "suggested_next_step": {"type": "string"},
    },
    "required": [
        "headline",
        "problem",
        "customer",
        "verified_orders",
        "actions_taken",
        "open_items",
        "mood",
        "suggested_next_step",
    ],
    "additionalProperties": False,
}

INSTRUCTIONS = (
    "You summarize a customer-support conversation for a colleague. Be factual and brief; only state "
    "what the conversation shows. Answer with JSON matching the schema."
)


def summarize(chat_messages: list[dict], *, model: str, facts: list[str] | None = None) -> dict | None:
    """Summarize chat-format messages, knowing `facts` the transcript does not show (who is signed
    in, which orders are proven); None if the model could not (the caller falls back)."""
    system = "\n\n".join([INSTRUCTIONS, *(["\n".join(facts)] if facts else [])])
    request = {
        "model": model,
        "messages": [{"role": "system", "content": system}, *chat_messages],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "conversation_summary", "schema": SUMMARY_SCHEMA, "strict": True},
        },
        "temperature": 0,
    }
    try:
        turn = call_model(request)
    except ModelCallFailed as error:
        log.warning("summary failed: %s", error.detail)
        return None
    try:
        data = json.loads(turn.text)
    except json.JSONDecodeError:
        log.warning("summary was not JSON (%s characters)", len(turn.text))  # the text is the customer's
        return None
    return data if isinstance(data, dict) else None


def render_summary(summary: dict) -> str:
    """A summary as a few plain lines (for the prompt of a compacted thread)."""
    lines = [summary.get("headline", "")]
    if summary.get("problem"):
        lines.append(f"Problem: {summary['problem']}")
    if summary.get("customer"):
        lines.append(f"Customer: {summary['customer']}")
    if summary.get("verified_orders"):
        lines.append("Verified orders: " + ", ".join(summary["verified_orders"]))
    for label, key in (("Done so far", "actions_taken"), ("Still open", "open_items")):
        if summary.get(key):
            lines.append(f"{label}: " + "; ".join(summary[key]))
    return "\n".join(line for line in lines if line)
