"""The tools a request offers, read from their names, descriptions and JSON schemas.

The offline model knows no fixed tool names. It gives each offered function a role (status,
tracking, return, human, list_orders, knowledge, withdraw) from the words of its name and description, and
fills its arguments from the conversation's facts by each property's name, description, type and enum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from offline_model.slots import Item, choose_enum

ROLE_WORDS: dict[str, frozenset[str]] = {
    "withdraw": frozenset({"withdraw", "withdrawal", "withdraws"}),
    "return": frozenset({"return", "returns", "refund", "rma"}),
    "cancel": frozenset({"cancel", "cancellation", "cancels"}),
    "human": frozenset(
        {"escalate", "escalation", "human", "agent", "handoff", "handover", "transfer", "person", "operator"}
    ),
    "tracking": frozenset({"track", "tracking", "shipment", "shipments", "shipping", "parcel", "package", "delivery"}),
    "list_orders": frozenset({"list", "orders", "history", "recent", "my"}),
    "knowledge": frozenset({"search", "knowledge", "faq", "faqs", "policy", "policies", "docs", "articles", "kb"}),
    "status": frozenset({"status", "order", "lookup", "look", "get", "details", "check", "find", "fetch", "info"}),
}
# Ties go to the more specific role: a "get_return_status" tool is about returns.
ROLE_PRIORITY = ("withdraw", "return", "cancel", "human", "tracking", "list_orders", "knowledge", "status")
NAME_WEIGHT = 3
# A search property that wants a few words rather than the customer's whole message.
KEYWORDS_HINT_RE = re.compile(r"\b(few|key) ?words\b|\bkeywords?\b|\bsearch terms\b")


def name_words(name: str) -> list[str]:
    """ "getOrderStatus" and "get_order_status" both read as get, order, status."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [word.lower() for word in re.findall(r"[A-Za-z0-9]+", spaced)]


@dataclass(frozen=True)
class OfferedTool:
    name: str
    description: str = ""
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    @classmethod
    def from_definition(cls, definition: dict[str, Any]) -> OfferedTool | None:
        function = definition.get("function") if definition.get("type", "function") == "function" else None
        if not isinstance(function, dict) or not function.get("name"):
            return None
        parameters = function.get("parameters") or {}
        properties = parameters.get("properties") if isinstance(parameters, dict) else None
        required = parameters.get("required") if isinstance(parameters, dict) else None
        return cls(
            name=str(function["name"]),
            description=str(function.get("description") or ""),
            properties={k: v for k, v in (properties or {}).items() if isinstance(v, dict)},
            required=tuple(r for r in (required or ()) if isinstance(r, str)),
        )

    def role_scores(self) -> dict[str, int]:
        in_name = name_words(self.name)
        in_description = name_words(self.description)
        return {
            role: NAME_WEIGHT * sum(w in vocabulary for w in in_name) + sum(w in vocabulary for w in in_description)
            for role, vocabulary in ROLE_WORDS.items()
        }

    @property
    def role(self) -> str | None:
        scores = self.role_scores()
        best = max(ROLE_PRIORITY, key=lambda role: (scores[role], -ROLE_PRIORITY.index(role)))
        return best if scores[best] > 0 else None


class Toolbox:
    """The offered function tools, each reachable by its role."""

    def __init__(self, tools: list[OfferedTool]):
        self.tools = tools

    @classmethod
    def from_request(cls, tools: Any, tool_choice: Any = None) -> Toolbox:
        offered = [t for t in (OfferedTool.from_definition(d) for d in tools or () if isinstance(d, dict)) if t]
        if tool_choice == "none":
            return cls([])
        if isinstance(tool_choice, dict):
            forced = (tool_choice.get("function") or {}).get("name")
            offered = [tool for tool in offered if tool.name == forced] or offered
        return cls(offered)

    def for_role(self, role: str) -> OfferedTool | None:
        candidates = [tool for tool in self.tools if tool.role == role]
        return max(candidates, key=lambda tool: tool.role_scores()[role], default=None)

    def role_of(self, name: str) -> str | None:
        tool = next((tool for tool in self.tools if tool.name == name), None)
        return (tool or OfferedTool(name=name)).role


@dataclass
class Facts:
    """What the conversation has established, for filling any tool's arguments."""

    order_number: str | None = None
    email: str | None = None
    item: Item | None = None
    item_text: str | None = None
    quantity: int | None = None
    reason: str | None = None  # canonical: defective, wrong_item, not_needed, other
    reason_text: str = ""
    urgent: bool = False
    summary: str = ""
    query: str = ""
    keywords: str | None = None  # the query in a few words, for a search that asks for them
    name: str | None = None
    tracking_number: str | None = None


def slot_for(prop: str, schema: dict[str, Any], role: str | None) -> str | None:
    """Which fact a property asks for, judged by its name, then its description."""
    key = re.sub(r"[^a-z0-9]", "", prop.lower())
    description = str(schema.get("description") or "").lower()
    if "email" in key or key == "mail":
        return "email"
    if "tracking" in key:
        return "tracking_number"
    if key.startswith("order") or (key in ("number", "id", "ref", "reference") and "order" in description):
        return "order_number"
    if any(word in key for word in ("item", "sku", "product", "article", "line")):
        return "item"
    if key in ("quantity", "qty", "count", "units"):
        return "quantity"
    if "priority" in key or "urgency" in key or "severity" in key:
        return "priority"
    if "reason" in key:
        return "summary" if role == "human" else "reason"
    if any(word in key for word in ("summary", "note", "comment", "detail", "message", "description", "context")):
        return "summary" if role == "human" else "reason_text"
    if key in ("query", "question", "q", "search", "searchterm", "text", "keywords", "topic"):
        return "keywords" if KEYWORDS_HINT_RE.search(description) else "query"
    if key in ("name", "customername", "fullname"):
        return "name"
    if "order number" in description or "order id" in description:
        return "order_number"
    if "email" in description:
        return "email"
    return None


def fill_arguments(tool: OfferedTool, facts: Facts) -> tuple[dict[str, Any], list[str]]:
    """Arguments for `tool` from `facts`, and the required properties still missing."""
    arguments: dict[str, Any] = {}
    for prop, schema in tool.properties.items():
        value = _value_for(prop, schema, slot_for(prop, schema, tool.role), facts)
        if value is not None:
            arguments[prop] = value
    missing = [prop for prop in tool.required if prop not in arguments]
    return arguments, missing


def _value_for(prop: str, schema: dict[str, Any], slot: str | None, facts: Facts) -> Any:
    enum = schema.get("enum") if isinstance(schema.get("enum"), list) and schema.get("enum") else None
    if slot == "reason":
        if facts.reason is None:
            return None
        return choose_enum(enum, facts.reason, facts.reason_text) if enum else (facts.reason_text or facts.reason)
    if slot == "priority":
        wanted = ("high", "urgent", "p1", "critical") if facts.urgent else ("normal", "medium", "standard", "low")
        if not enum:
            return "high" if facts.urgent else "normal"
        return next((value for value in wanted if value in enum), enum[0] if not facts.urgent else enum[-1])
    if slot == "item":
        value = _item_value(prop, schema, facts)
    elif slot == "quantity":
        value = (facts.quantity or 1) if (facts.item or facts.item_text) else None
    elif slot == "summary":
        value = facts.summary or None
    elif slot == "reason_text":
        value = facts.reason_text or None
    else:
        value = getattr(facts, slot) if slot else None
    if value is None:
        return None
    value = coerce(value, schema)
    if enum and value not in enum:
        return None
    return value


def _item_value(prop: str, schema: dict[str, Any], facts: Facts) -> Any:
    item = facts.item
    if item is None:
        return facts.item_text
    key = prop.lower()
    description = str(schema.get("description") or "").lower()
    if "sku" in key:
        return item.sku or item.id or item.name
    if key.endswith("id") or "_id" in key or schema.get("type") == "integer":
        return item.id if item.id is not None else item.sku or item.name
    if "name" in key:
        return item.name
    if "sku" in description:
        return item.sku or item.id or item.name
    if re.search(r"\bid\b|identifier", description):
        return item.id if item.id is not None else item.sku or item.name
    return item.sku or (item.id if item.id is not None else item.name)


def coerce(value: Any, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "integer":
        digits = re.sub(r"\D", "", str(value))
        return int(digits) if digits else None
    if kind == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if kind == "string":
        return str(value)
    return value
