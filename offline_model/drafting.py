"""Drafting a human agent's next message: what the console's "Suggest a reply" gets offline.

A real model follows the drafting instruction; the offline model recognises it and writes a short,
concrete draft from the same facts as its conversation summary, for the agent to edit.
"""

from __future__ import annotations

import re

from offline_model.conversation import Conversation
from offline_model.summary import summary_facts

DRAFT_REQUEST = re.compile(r"\bdraft\b.{0,80}\b(agent|human|person)\b", re.IGNORECASE | re.DOTALL)


def is_draft_request(conversation: Conversation) -> bool:
    return bool(DRAFT_REQUEST.search(conversation.system or ""))


def draft_agent_reply(conversation: Conversation) -> str:
    facts = summary_facts(conversation)
    name = (facts.get("customer_name") or "").split(" ")[0]
    lines = [f"Hi {name}," if name else "Hi there,", "thanks for waiting — I've read through our conversation so far."]
    statuses = _order_statuses(conversation)
    if statuses:
        lines.append(" ".join(f"I can see order {number} is {status}." for number, status in statuses.items()))
    open_items = [item for item in facts["open_items"] if not item.startswith("The customer is waiting")]
    if any(item.startswith("Return") for item in open_items):
        lines.append("To open the return, could you tell me which item it is and what went wrong with it?")
    elif open_items:
        lines.append(f"I'm looking into this now: {open_items[0][0].lower()}{open_items[0][1:]}.")
    elif not statuses:
        lines.append("Could you tell me your order number and the email address you used, so I can look into it?")
    lines.append("Is there anything else I can help you with in the meantime?")
    return " ".join(lines)


def _order_statuses(conversation: Conversation) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for exchange in conversation.successful():
        output = exchange.output if isinstance(exchange.output, dict) else {}
        number = output.get("order_number") or exchange.order_number
        status = output.get("status_label") or output.get("status")
        if number and status:
            statuses[str(number)] = str(status).lower().replace("_", " ")
    return statuses
