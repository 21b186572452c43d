"""How the offline model words things: questions, small talk, and answers built from tool results.

Answers are markdown-light (bold, short lists) for the chat widget. The questions carry fixed
phrases ("email address …?", "which item", "shall I open a return") that `asked_in` reads back on
the next turn, so the model knows what the customer is answering.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from support.llm.offline.conversation import ToolExchange
from support.llm.offline.slots import REASON_LABELS, Item

TIMES = "\N{MULTIPLICATION SIGN}"  # quantities read "2 TIMES Ceramic Mug"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
OFFER_HUMAN = "Would you like me to connect you with a person from our team?"
FALLBACK = (
    "Sorry, I didn't quite catch that. I can help with **order status**, **shipment tracking** and **returns** "
    "— just tell me what you need and your order number. I can also connect you with a person from our team."
)
CAPABILITIES = (
    "I can check the **status of an order**, **track a parcel** and **start a return**. "
    "I can also connect you with a person from our team."
)
ASKED_MARKERS = {
    "email": r"email address[^?]*\?",
    "order_number": r"order number[^?]*\?",
    "item": r"which item",
    "reason": r"reason for the return",
    "confirm_return": r"shall i open a return",
    "confirm_cancel": r"shall i cancel order",
    "offer_human": r"like me to connect you with a person",
}
FALLBACK_MARKER = "didn't quite catch that"


def plain(text: str) -> str:
    return text.replace("*", "").lower()


def asked_in(text: str) -> set[str]:
    """What an earlier assistant message asked the customer for."""
    lowered = plain(text)
    return {slot for slot, marker in ASKED_MARKERS.items() if re.search(marker, lowered)}


def is_fallback(text: str) -> bool:
    return FALLBACK_MARKER in plain(text)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


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


def humanize(key: str) -> str:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key).replace("_", " ").replace("-", " ")
    return spaced[:1].upper() + spaced[1:].lower()


# --- small talk -------------------------------------------------------------------------------


def greeting(name: str | None) -> str:
    hello = f"Hi {name.split()[0]}!" if name else "Hi there!"
    return f"{hello} I'm the shop's virtual assistant. {CAPABILITIES} How can I help you today?"


def thanks(goodbye: bool) -> str:
    if goodbye:
        return "You're welcome — thanks for getting in touch, and have a great day!"
    return "You're welcome! Is there anything else I can help you with?"


def goodbye() -> str:
    return "Thanks for getting in touch — have a great day!"


def apology_with_offer() -> str:
    return f"I'm really sorry this has been frustrating. {OFFER_HUMAN}"


def declined_human() -> str:
    return "No problem — I'll keep helping you here. What would you like to do next?"


def declined_return() -> str:
    return "Okay, I haven't opened a return. Is there anything else I can help you with?"


def declined_cancel() -> str:
    return "Okay, I've left the order as it is. Is there anything else I can help you with?"


def noted_email(email: str) -> str:
    return (
        f"Thanks, I've noted **{email}**. What can I help you with — an order's status, tracking a parcel, or a return?"
    )


def no_handoff(contact: str | None) -> str:
    where = (
        f"email **{contact}**" if contact else "reply to your order confirmation email or use the shop's contact page"
    )
    return f"I can't hand this chat over to a person myself, but our support team will be glad to help: please {where}."


def cannot(task: str) -> str:
    return f"I'm sorry, I can't {task} from this chat. {OFFER_HUMAN}"


# --- questions --------------------------------------------------------------------------------


def ask_for(missing: list[str], order_number: str | None, *, purpose: str = "look that up") -> str:
    """A plain question for the facts still missing (order_number, email, item, reason, or a property name)."""
    if missing == ["email"]:
        about = f"order **{order_number}**" if order_number else "the order"
        return f"Thanks! To {purpose}, what's the email address you used for {about}?"
    if missing == ["order_number"]:
        return (
            f"Sure, I can {purpose}. Which order is it about? Please send me the order number "
            "(you'll find it in your order confirmation email)."
        )
    if set(missing) == {"order_number", "email"}:
        return (
            f"I can {purpose}. Could you send me your order number and the email address you used to place the order?"
        )
    wanted = [FACT_WORDS.get(name, humanize(name).lower()) for name in missing]
    listed = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " and " + wanted[-1]
    return f"To {purpose} I still need {listed}. Could you tell me?"


FACT_WORDS = {
    "order_number": "your order number",
    "email": "the email address you used for the order",
    "item": "the item",
    "reason": "the reason",
    "quantity": "how many",
}


def ask_item(items: list[Item], order_number: str | None, *, unmatched: bool = False) -> str:
    lead = f"Sorry, I couldn't match that to an item in order **{order_number}**. " if unmatched else ""
    if not items:
        return f"{lead}Which item would you like to return?"
    names = [f"**{item.name}**" for item in items]
    choices = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"{lead}Which item would you like to return: {choices}?"


def ask_reason(item_name: str) -> str:
    return (
        f"What's the reason for the return of the {item_name}? For example: it arrived damaged or doesn't work, "
        "it's the wrong item, or you no longer need it."
    )


def confirm_cancel(order_number: str) -> str:
    return f"Shall I cancel order **{order_number}**? This can't be undone."


def not_returnable(item_name: str, order_number: str) -> str:
    return f"I'm sorry, the **{item_name}** from order **{order_number}** isn't eligible for a return. {OFFER_HUMAN}"


def confirm_return(quantity: int, item_name: str, order_number: str | None, reason: str | None) -> str:
    source = f" from order **{order_number}**" if order_number else ""
    why = f" (reason: {REASON_LABELS.get(reason, reason)})" if reason else ""
    return f"Shall I open a return for **{quantity} {TIMES} {item_name}**{source}{why}?"


# --- tool results -----------------------------------------------------------------------------


def phrase_result(exchange: ToolExchange, role: str | None) -> str:
    """The customer-facing answer for one tool result, from its shape (then its tool's role)."""
    if exchange.failed:
        return phrase_error(exchange)
    output = exchange.output
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
        if "status" in output or "status_label" in output:
            return phrase_status(output, exchange)
        if role == "knowledge" or isinstance(output.get("results"), list):
            return phrase_knowledge(output.get("results", output))
    if role == "knowledge" and isinstance(output, list):
        return phrase_knowledge(output)
    return phrase_generic(output, exchange)


def phrase_error(exchange: ToolExchange) -> str:
    message = exchange.error_message or "Something went wrong."
    code = exchange.error_code
    if code == "not_found" or re.search(r"\bno order\b|not found|couldn'?t find", message, re.IGNORECASE):
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
    lines = []
    if status_key:
        status = humanize(str(output[status_key])) if status_key in ("status", "state") else output[status_key]
        subject = f"Order **{number}**" if number else "Your order"
        lines.append(f"{subject} is **{status}**.")
    rest = [
        (key, value) for key, value in output.items() if key not in (status_key, order_key) and value not in (None, "")
    ]
    for key, value in rest[:8]:
        lines.append(f"- {humanize(key)}: {short_value(value)}")
    return "\n".join(lines) if lines else "Done."


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
