"""How the offline model words its own lines: questions, confirmations, small talk.

Text is markdown-light (bold, short lists) for the chat widget. The questions carry fixed phrases
("email address …?", "which item", "shall I open a return") that `asked_in` reads back on the next
turn, so the model knows what the customer is answering. Tool results are worded in `results`.
"""

from __future__ import annotations

import re

from offline_model.languages import asked_markers, fallback_markers
from offline_model.slots import REASON_LABELS, Item

TIMES = "\N{MULTIPLICATION SIGN}"  # quantities read "2 TIMES Ceramic Mug"
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
    found = {slot for slot, marker in ASKED_MARKERS.items() if re.search(marker, lowered)}
    return found | {slot for slot, marker in asked_markers().items() if re.search(marker, lowered)}


def is_fallback(text: str) -> bool:
    lowered = plain(text)
    return any(marker in lowered for marker in (FALLBACK_MARKER, *fallback_markers()))


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


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


def unanswered() -> str:
    """A question about something the assistant has no tool or document for: say so rather than guess."""
    return (
        "I'm sorry, I don't know the answer to that, and I'd rather not guess: here I can help with "
        f"**order status**, **shipment tracking** and **returns**. {OFFER_HUMAN}"
    )


def not_covered() -> str:
    """A document search found nothing: say so rather than guess."""
    return (
        f"I'm sorry, our help articles and policies don't cover that question, so I'd rather not guess. {OFFER_HUMAN}"
    )


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


STILL_NEED = "i still need"  # how ask_for and ask_described word a question for missing values (plain)


def ask_described(wanted: list[str], purpose: str) -> str:
    """A question for a function's missing values, each in the words of its description."""
    listed = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " and " + wanted[-1]
    return f"To {purpose}, I still need {listed}. Could you tell me?"


FACT_WORDS = {
    "order_number": "your order number",
    "email": "the email address you used for the order",
    "item": "the item",
    "reason": "the reason",
    "quantity": "how many",
    "tracking_number": "the tracking number",
}


def ask_item(items: list[Item], order_number: str | None, *, unmatched: str | None = None) -> str:
    """Which item to return. `unmatched`: what the customer named that the order does not have ("" when
    their words named no item at all); None when nothing was named yet."""
    lead = ""
    if unmatched:
        lead = f'Sorry, I couldn\'t find "{unmatched}" in order **{order_number}**. '
    elif unmatched is not None:
        lead = f"Sorry, I couldn't match that to an item in order **{order_number}**. "
    if not items:
        return f"{lead}Which item would you like to return?"
    names = [f"**{item.name}**" + (" (not returnable)" if item.returnable is False else "") for item in items]
    choices = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"{lead}Which item would you like to return: {choices}?"


def ask_reason(item_name: str, *, again: bool = False) -> str:
    """The question for the reason; `again` when the answer to it gave none (a bare "yes")."""
    lead = "Before I open it: what's" if again else "What's"
    return (
        f"{lead} the reason for the return of the {item_name}? For example: it arrived damaged or doesn't work, "
        "it doesn't fit, it's the wrong item, or you no longer need it."
    )


def confirm_cancel(order_number: str) -> str:
    return f"Shall I cancel order **{order_number}**? This can't be undone."


def not_returnable(item_name: str, order_number: str) -> str:
    return f"I'm sorry, the **{item_name}** from order **{order_number}** isn't eligible for a return. {OFFER_HUMAN}"


def confirm_return(quantity: int, item_name: str, order_number: str | None, reason: str | None) -> str:
    source = f" from order **{order_number}**" if order_number else ""
    why = f" (reason: {REASON_LABELS.get(reason, reason)})" if reason else ""
    return f"Shall I open a return for **{quantity} {TIMES} {item_name}**{source}{why}?"


PHOTO_NOTED = "Thanks for the photo: I've added it to this conversation, so our team can see it."


def photo_noted(reply: str) -> str:
    """An answer to a message with a photo: the photo acknowledged first. A photo alone (the answer
    is the fallback) usually shows a damaged or wrong item, so a person is offered instead."""
    if reply == FALLBACK or not reply.strip():
        damaged = "If it shows a damaged or wrong item, a person from our team can sort it out."
        return f"{PHOTO_NOTED} {damaged} {OFFER_HUMAN}"
    return f"{PHOTO_NOTED}\n\n{reply}"
