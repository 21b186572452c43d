"""Values in a customer's words that fit a function's parameters, found by each parameter's name.

A shop's own functions take more than orders: `lookup_parcel(tracking_number)`, `get_ticket(ticket_id,
email)`. A parameter is worth looking for when its name says what kind of value it holds: a tracking
number (by the carriers' formats, or after the words "tracking number"), or an id named by what it
identifies ("ticket_id": "ticket T-4821", "customer_number": "customer no. 5521"). Free text ("topic",
"code", "query") and bare "id"s say too little to be found in a sentence, and are not.
"""

from __future__ import annotations

import re
from typing import Any

from offline_model.slots import words

TRACKING_FORMATS = (
    re.compile(r"\b1Z[0-9A-Z]{16}\b", re.IGNORECASE),  # UPS
    re.compile(r"\b[A-Z]{2}\d{9}[A-Z]{2}\b", re.IGNORECASE),  # UPU S10: the postal services' own
    re.compile(r"\b(?:\d{12}|\d{15}|\d{20}|\d{22})\b"),  # FedEx, USPS: digits only
)
# Words of a parameter's name that say it identifies something, not what it identifies.
IDENTIFIER_WORDS = frozenset({"id", "ids", "number", "no", "num", "nr", "ref", "reference", "code", "key"})
VALUE_RE = r"#?\s*(?P<value>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
LINKING_RE = r"(?:'s)?(?:\s+(?:number|no\.?|num|nr|id|code|ref(?:erence)?|key))?\s*(?:is\s+|was\s+|:\s*|=\s*)?"
FREE_TYPES = {"string", "integer", None}


def identifying_words(prop: str) -> list[str] | None:
    """What a parameter identifies ("ticket_id" → ["ticket"]); None for one that is no identifier."""
    said = words(re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", prop).replace("_", " ").replace("-", " "))
    named = [word for word in said if word not in IDENTIFIER_WORDS]
    if len(named) == len(said) or not named:
        return None
    return named


def is_findable(prop: str, schema: dict[str, Any], slot: str | None) -> bool:
    """Whether a value for the parameter can be told apart in a sentence (see the module's docstring)."""
    kind = schema.get("type")
    if schema.get("enum") or (kind not in FREE_TYPES):
        return False
    return slot == "tracking_number" or (slot is None and identifying_words(prop) is not None)


def value_in(text: str, prop: str, slot: str | None, *, answering: bool = False) -> str | None:
    """The value `text` gives for the parameter, if any. `answering`: the text answers our question
    for it, so a lone value with a digit in it is the answer ("it's T-4821")."""
    if slot == "tracking_number":
        for pattern in TRACKING_FORMATS:
            found = pattern.search(text)
            if found:
                return found.group(0).upper()
        anchors = ["tracking", "shipment", "parcel"]
    else:
        anchors = identifying_words(prop) or []
    for anchor in anchors:
        pattern = rf"\b{re.escape(anchor)}s?\b{LINKING_RE}{VALUE_RE}"
        for found in re.finditer(pattern, text, re.IGNORECASE):
            if _looks_like_a_value(found.group("value")):
                return found.group("value")
    if answering:
        lone = [token for token in re.findall(VALUE_RE.removeprefix(r"#?\s*"), text) if _looks_like_a_value(token)]
        if len(lone) == 1:
            return lone[0].upper() if slot == "tracking_number" else lone[0]
    return None


def _looks_like_a_value(token: str) -> bool:
    return len(token) >= 3 and any(char.isdigit() for char in token)
