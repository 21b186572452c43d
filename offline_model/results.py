"""Answers phrased from tool results: Concierge's own result shapes, errors, and any other JSON.

Each answer names the order and its real status; an error relays the tool's customer-readable
message and suggests the next step. A result of unknown shape (a shop's own function) is rendered
from its status- and order-like keys, then a short list of the rest; nothing here may raise. A
document search's passages are quoted with their markers (see `documents`).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from offline_model.conversation import ToolExchange
from offline_model.documents import answer_from_passages, cites_passages, searched_text
from offline_model.phrasing import OFFER_HUMAN, TIMES, humanize, shorten

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def nice_date(value: Any) -> str:
    """'2026-11-28' or an ISO datetime as '28 Nov 2026'; anything else unchanged."""
    text = str(value)
    try:
        parsed: date = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return f"{parsed.day} {parsed:%b %Y}"


def money(amount: Any, currency: Any) -> str:
    symbol = CURRENCY_SYMBOLS.get(str(currency or "").upper())
    return f"{symbol}{amount}" if symbol else f"{amount} {currency or ''}".strip()


def phrase_result(exchange: ToolExchange, role: str | None, *, signed_in: bool = False) -> str:
    """The customer-facing answer for one tool result, from its shape (then its tool's role).
    `signed_in`: the shop vouches for the customer, whose own orders need no email."""
    if exchange.failed:
        return phrase_error(exchange, signed_in=signed_in)
    output = exchange.output
    if (
        isinstance(output, dict)
        and output.get("message")
        and (output.get("status") == "awaiting_approval" or role == "withdraw")
    ):
        # A request a colleague has to approve (nothing done yet), or its withdrawal: the tool words it.
        return str(output["message"])
    if isinstance(output, dict):
        if role == "cancel":
            number = output.get("order_number") or exchange.order_number
            return (
                f"Done — order **{number}** has been cancelled." if number else "Done — the order has been cancelled."
            )
        if "return_id" in output or (role == "return" and ("status" in output or "id" in output)):
            return phrase_return(output, exchange)
        if output.get("escalated") is not None or role == "human":
            return phrase_escalation(output)
        if isinstance(output.get("orders"), list):
            return phrase_orders(output["orders"])
        if output.get("tracking_number") and ("events" in output or "latest_event" in output or role == "tracking"):
            return phrase_tracking(output, exchange)
        if ("status" in output or "status_label" in output) and is_about_an_order(output, exchange):
            return phrase_status(output, exchange)
        if cites_passages(output):
            return answer_from_passages(output, searched_text(exchange.arguments))
        if role == "knowledge" or isinstance(output.get("results"), list):
            return phrase_knowledge(output.get("results", output))
    if role == "knowledge" and isinstance(output, list):
        return phrase_knowledge(output)
    return phrase_generic(output, exchange)


def phrase_error(exchange: ToolExchange, *, signed_in: bool = False) -> str:
    message = exchange.error_message or "Something went wrong."
    code = exchange.error_code
    missing = code == "not_found" or re.search(r"\bno order\b|not found|couldn'?t find", message, re.IGNORECASE)
    if missing and re.search(r"\b(item|product|article)s?\b", message, re.IGNORECASE):
        # The order was found; what the customer called the item was not in it.
        step = "Which item is it? Please tell me its name as it appears in your order."
    elif missing and signed_in:
        step = "Could you double-check the order number? It's in your order confirmation email."
    elif missing:
        step = (
            "Could you double-check the order number and the email address you used when ordering? "
            "The order number is in your confirmation email."
        )
    elif code == "not_verified" or re.search(r"not verified", message, re.IGNORECASE):
        return "I first need to confirm that order is yours. What's the email address you used to place it?"
    elif re.search(r"too_many|attempts|limit", code, re.IGNORECASE):
        step = OFFER_HUMAN
    elif re.search(r"forbidden|permission|unauthori[sz]ed|denied", code + message, re.IGNORECASE):
        step = "For your security I can only share orders that match the email address they were placed with."
    elif re.search(r"invalid|validation|required|missing", code, re.IGNORECASE):
        step = "Could you check those details for me?"
    elif re.search(r"timeout|unavailable|internal|server|rate", code, re.IGNORECASE):
        step = f"Please try again in a moment. {OFFER_HUMAN}"
    else:
        step = f"If you think this is a mistake, I can ask a person from our team to look at it. {OFFER_HUMAN}"
    return f"{message.rstrip('.')}. {step}"


def is_about_an_order(output: dict[str, Any], exchange: ToolExchange) -> bool:
    """Whether a result with a status is an order's (not a ticket's or a subscription's of a shop's own)."""
    return bool(exchange.order_number) or any(key in output for key in ("items", "placed_at", "total", "shipment"))


def phrase_status(output: dict[str, Any], exchange: ToolExchange) -> str:
    number = output.get("order_number") or exchange.order_number or "your order"
    status = output.get("status_label") or humanize(str(output.get("status") or "unknown"))
    details = []
    if output.get("placed_at"):
        details.append(f"placed {nice_date(output['placed_at'])}")
    if output.get("total") is not None:
        details.append(f"total {money(output['total'], output.get('currency'))}")
    lines = [f"Order **{number}** is **{status}**" + (f" ({', '.join(details)})." if details else ".")]
    items = [item for item in output.get("items") or () if isinstance(item, dict)]
    for item in items[:8]:
        name = item.get("name") or item.get("title") or item.get("sku") or "item"
        lines.append(f"- {item.get('quantity') or 1} {TIMES} {name}")
    shipment = output.get("shipment")
    if isinstance(shipment, dict) and shipment:
        lines.append("")
        lines.append(shipment_sentence(shipment))
    return "\n".join(lines)


def shipment_sentence(shipment: dict[str, Any]) -> str:
    carrier = shipment.get("carrier") or "the carrier"
    tracking = f" (tracking number **{shipment['tracking_number']}**)" if shipment.get("tracking_number") else ""
    if shipment.get("status") == "delivered":
        when = f" on **{nice_date(shipment['delivered_at'])}**" if shipment.get("delivered_at") else ""
        return f"It was delivered by {carrier}{when}{tracking}."
    state = shipment.get("status_label") or humanize(str(shipment.get("status") or "on its way"))
    sentence = f"It's with {carrier}{tracking}: **{state}**"
    if shipment.get("estimated_delivery") and shipment.get("status") != "delivered":
        sentence += f", estimated delivery **{nice_date(shipment['estimated_delivery'])}**"
    return sentence + "."


def phrase_tracking(output: dict[str, Any], exchange: ToolExchange) -> str:
    number = output.get("order_number") or exchange.order_number
    lead = (
        f"Here's the latest on your parcel for order **{number}**." if number else "Here's the latest on your parcel."
    )
    lines = [lead, shipment_sentence(output)]
    latest = output.get("latest_event")
    if isinstance(latest, dict) and latest.get("description"):
        where = f" in {latest['location']}" if latest.get("location") else ""
        when = f" ({nice_date(latest['occurred_at'])})" if latest.get("occurred_at") else ""
        lines.append(f"Latest update: {latest['description']}{where}{when}.")
    return " ".join(lines)


def phrase_return(output: dict[str, Any], exchange: ToolExchange) -> str:
    number = output.get("order_number") or exchange.order_number
    ident = (
        output.get("return_id")
        or output.get("id")
        or next(
            (value for key, value in output.items() if re.search(r"rma|return.?(id|number)", key, re.IGNORECASE)), None
        )
    )
    what = "your item"
    if output.get("item_name"):
        what = f"{output.get('quantity') or 1} {TIMES} {output['item_name']}"
    source = f" from order **{number}**" if number else ""
    if ident:
        label = f"#{ident}" if str(ident).isdigit() else str(ident)
        text = f"Done! I've opened return **{label}** for {what}{source}."
    else:
        text = f"Done! I've started the return for {what}{source}."
    if output.get("status"):
        text += f" Its status is **{humanize(str(output['status'])).lower()}**."
    if output.get("refund_amount") is not None:
        refund = money(output["refund_amount"], output.get("currency"))
        text += f" Once the return is approved and we receive the item, you'll be refunded **{refund}**."
    return text


def phrase_escalation(output: dict[str, Any]) -> str:
    if output.get("message"):
        return str(output["message"])
    return "I've passed your conversation to our support team. A person will reply here as soon as possible."


def phrase_orders(orders: list[Any]) -> str:
    rows = [order for order in orders if isinstance(order, dict)]
    if not rows:
        return "I couldn't find any orders on your account."
    lines = ["Here are your recent orders:"]
    for order in rows[:10]:
        parts = [humanize(str(order.get("status_label") or order.get("status") or "unknown"))]
        if order.get("placed_at"):
            parts.append(f"placed {nice_date(order['placed_at'])}")
        if order.get("total") is not None:
            parts.append(money(order["total"], order.get("currency")))
        lines.append(
            f"- **{order.get('order_number') or order.get('number') or order.get('id')}** — {', '.join(parts)}"
        )
    lines.append("")
    lines.append("Which one would you like to know more about?")
    return "\n".join(lines)


def phrase_knowledge(results: Any) -> str:
    rows = results if isinstance(results, list) else [results]
    found = []
    for row in rows[:2]:
        if isinstance(row, dict):
            text = row.get("text") or row.get("content") or row.get("snippet") or row.get("answer")
            source = row.get("title") or row.get("filename") or row.get("source")
            if text:
                found.append(f"> {shorten(str(text), 400)}" + (f"\n\n(Source: {source})" if source else ""))
        elif isinstance(row, str) and row:
            found.append(f"> {shorten(row, 400)}")
    if not found:
        return "I couldn't find anything about that in our help articles. " + OFFER_HUMAN
    return "Here's what I found:\n\n" + "\n\n".join(found)


STATUS_KEYS = ("status_label", "statusLabel", "status", "state", "orderStatus", "order_status")
ORDER_KEYS = ("order_number", "orderNumber", "orderId", "order_id", "number", "id")


def phrase_generic(output: Any, exchange: ToolExchange) -> str:
    """A readable rendering of a result whose shape is unknown (a shop's own function)."""
    if output is None or output == "":
        return "Done."
    if isinstance(output, str):
        return shorten(output, 600)
    if isinstance(output, list):
        if not output:
            return "I didn't find anything."
        return "\n".join(f"- {short_value(value)}" for value in output[:8])
    if not isinstance(output, dict):
        return str(output)
    status_key = next((key for key in STATUS_KEYS if output.get(key) not in (None, "")), None)
    order_key = next((key for key in ORDER_KEYS if output.get(key) not in (None, "")), None)
    number = output[order_key] if order_key else exchange.order_number
    named_key, subject = subject_of(output, exchange)
    if number or not subject:
        subject = f"Order **{number}**" if number else "Your order"
    lines = []
    if status_key:
        status = humanize(str(output[status_key])) if status_key in ("status", "state") else output[status_key]
        lines.append(f"{subject} is **{status}**.")
    shown = (status_key, order_key, named_key if status_key else None)
    rest = [(key, value) for key, value in output.items() if key not in shown and value not in (None, "")]
    for key, value in rest[:8]:
        lines.append(f"- {humanize(key)}: {short_value(value)}")
    return "\n".join(lines) if lines else "Done."


ID_KEY_RE = re.compile(r"^(?P<thing>[a-z][a-z ]*?) ?(id|number|no|ref|reference)$")


def subject_of(output: dict[str, Any], exchange: ToolExchange) -> tuple[str | None, str]:
    """(the key, "Ticket **T-4821**"): what a result of a shop's own function is about, from its first
    id-like key ("ticket_id", "subscriptionNumber") in the result or the call's arguments."""
    for source in (output, exchange.arguments):
        for key, value in source.items():
            found = ID_KEY_RE.match(humanize(key).lower())
            if found and isinstance(value, str | int) and str(value).strip():
                return key, f"{found.group('thing').strip().capitalize()} **{value}**"
    return None, ""


def short_value(value: Any) -> str:
    if isinstance(value, list):
        names = [short_value(element) for element in value[:5]]
        return ", ".join(names) if names else "none"
    if isinstance(value, dict):
        for key in ("name", "title", "description", "label", "id"):
            if value.get(key):
                return str(value[key])
        return shorten(json.dumps(value, ensure_ascii=False), 120)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value):
        return nice_date(value)
    return shorten(str(value), 120)
