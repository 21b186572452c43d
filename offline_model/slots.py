"""The facts a dialogue collects from free text: order numbers, emails, items, quantities, reasons."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A1001, #A1001, SO-20931 (one to three letters, then at least three digits); "#1001" and
# "order 1001" / "order no. 1001" for shops whose numbers are digits only.
ORDER_RE = re.compile(
    r"(?<![\w@.-])#?(?P<code>[A-Za-z]{1,3}-?\d{3,12})\b"
    r"|(?<![\w@])#(?P<hash>\d{3,12})\b"
    r"|\border(?:\s+(?:number|no\.?|num|id|ref))?\s*(?:is\s+)?[#:]?\s*(?P<digits>\d{3,12})\b",
    re.IGNORECASE,
)
HOUSE_STYLE_RE = re.compile(r"\b([A-Z]{1,3}-?)\d{3,12}\b")
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
NUMBER_WORDS |= {"eight": 8, "nine": 9, "ten": 10, "single": 1, "pair": 2, "couple": 2}
# Words that name no item ("I want to return the ... please").
_STOP_WORDS = (
    "a an the my me i it its is are was were of in on at to for from with and or this that these those one ones "
    "want would like please return returning send back refund item items order orders get got can could you your "
    "just also some any both all them they be been do does did not no yes"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())

# Reason rules, first match wins. A fit problem comes before "wrong" (a wrong size is no wrong item),
# damage before "not needed" ("it doesn't work, I don't want it").
REASON_RULES: tuple[tuple[str, str], ...] = (
    (
        "wrong_size",
        r"wrong size|(doesn'?t|does not|don'?t|do not|didn'?t|did not) fit|too (big|small|large|tight|loose|long|"
        r"short|narrow|wide)|(size|sizing|fit) (is|was) (off|wrong|bad)|runs? (small|large|big)|not my size",
    ),
    (
        "defective",
        r"broke|damag|defect|faulty|crack|smash|shatter|(doesn'?t|does not|don'?t|do not|won'?t) work|not working|"
        r"stopped working|dead on arrival|\bdead\b|torn|ripped|leak|scratch|dent|chipped|missing part",
    ),
    ("wrong_item", r"wrong|incorrect|different|not what i (ordered|bought)|mix(ed)?[- ]?up|someone else"),
    (
        "not_needed",
        r"(don'?t|do not|no longer|didn'?t) (need|want|like)|changed? my mind|change of mind|not needed|unwanted|"
        r"by mistake|by accident|accidentally|duplicate|cheaper|no longer",
    ),
)
# The words a shop's own reason values use for each canonical reason (a tool's enum may say "doesnt_fit").
REASON_SYNONYMS = {
    "wrong_size": {"size", "sizing", "fit", "fits", "fitting", "small", "big", "large", "tight", "loose"},
    "defective": {"defective", "damaged", "broken", "faulty", "defect", "damage", "doa"},
    "wrong_item": {"wrong", "incorrect", "item", "different", "mistake"},
    "not_needed": {"not", "needed", "unwanted", "changed", "mind", "no", "longer", "need"},
    "other": {"other", "else", "misc"},
}
REASON_LABELS = {
    "wrong_size": "wrong size",
    "defective": "defective",
    "wrong_item": "wrong item",
    "not_needed": "not needed",
    "other": "other",
}


@dataclass(frozen=True)
class Item:
    """An order item as a tool result described it."""

    name: str
    id: Any = None
    sku: str | None = None
    quantity: int | None = None
    order_number: str | None = None
    returnable: bool | None = None


def emails_in(text: str) -> list[str]:
    return [email.lower().rstrip(".") for email in EMAIL_RE.findall(text)]


def house_style(texts: Iterable[str]) -> str | None:
    """The letter prefix the shop writes before its order numbers (e.g. "A"), if it uses exactly one."""
    prefixes = {match.group(1).upper() for text in texts for match in HOUSE_STYLE_RE.finditer(text)}
    return prefixes.pop() if len(prefixes) == 1 else None


def normalise_order_number(raw: str, prefix: str | None = None) -> str:
    number = raw.strip().lstrip("#").replace(" ", "").upper()
    if prefix and number.isdigit():
        return prefix + number
    return number


def order_numbers_in(text: str, prefix: str | None = None) -> list[str]:
    """Order numbers in `text`, normalised the way the shop writes them, in order of mention."""
    text = EMAIL_RE.sub(" ", text)
    found: list[str] = []
    for match in ORDER_RE.finditer(text):
        raw = match.group("code") or match.group("hash") or match.group("digits")
        number = normalise_order_number(raw, prefix)
        if number not in found:
            found.append(number)
    return found


def reason_in(text: str) -> str | None:
    """The canonical return reason (defective, wrong_item, not_needed) the text gives, if any."""
    lowered = text.lower()
    for reason, pattern in REASON_RULES:
        if re.search(pattern, lowered):
            return reason
    return None


def reason_clause(text: str) -> str:
    """The clause of `text` that gives the reason ("it's broken" out of a longer message)."""
    clauses = [clause.strip() for clause in re.split(r"[.,;!?\n]+|\b(?:and|but|because|since)\b", text)]
    return next((clause for clause in clauses if clause and reason_in(clause)), text.strip())


def words(text: str) -> list[str]:
    return [singular(word) for word in re.findall(r"[a-z0-9]+", text.lower())]


def singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def choose_enum(enum: list[Any], canonical: str, text: str = "") -> Any:
    """The enum value that names `canonical`, with the customer's own words as a tie-breaker only.

    Words alone never choose ("wrong size" is no "wrong_item"): without a value for the reason, it is
    "other" where the enum has one (the customer's words then go in a note, when the tool takes one).
    """
    if canonical in enum:
        return canonical
    text_words = set(words(text))
    synonyms = REASON_SYNONYMS.get(canonical, {canonical})

    def score(value: Any) -> tuple[int, int]:
        value_words = set(words(str(value).replace("_", " ")))
        return len(value_words & synonyms), len(value_words & text_words)

    best = max(enum, key=score)
    if score(best)[0] > 0:
        return best
    return "other" if "other" in enum else enum[-1]


def items_in(value: Any, order_number: str | None = None) -> Iterator[Item]:
    """Items found anywhere in a tool result: lists of objects under keys like items/products/lines."""
    if isinstance(value, dict):
        number = value.get("order_number") or value.get("orderId") or value.get("order_id") or order_number
        for key, child in value.items():
            if isinstance(child, list) and re.search(r"item|product|line|article", key, re.IGNORECASE):
                for element in child:
                    item = _item_from(element, str(number).upper() if number else None)
                    if item:
                        yield item
            elif isinstance(child, dict | list):
                yield from items_in(child, str(number).upper() if number else None)
    elif isinstance(value, list):
        for element in value:
            yield from items_in(element, order_number)


def _item_from(element: Any, order_number: str | None) -> Item | None:
    if not isinstance(element, dict):
        return None
    name = next(
        (element[key] for key in ("name", "title", "product_name", "productName", "product") if key in element), None
    )
    item_id = next((element[key] for key in ("id", "item_id", "itemId", "line_id", "lineId") if key in element), None)
    sku = next((element[key] for key in ("sku", "product_sku", "code") if key in element), None)
    if not isinstance(name, str):
        name = str(sku or item_id or "") if (sku or item_id) else None
    if not name:
        return None
    quantity = element.get("quantity") or element.get("qty")
    returnable = element.get("returnable")
    return Item(
        name=name,
        id=item_id,
        sku=str(sku) if sku is not None else None,
        quantity=quantity if isinstance(quantity, int) else None,
        order_number=order_number,
        returnable=returnable if isinstance(returnable, bool) else None,
    )


def match_items(text: str, items: list[Item]) -> list[Item]:
    """The items `text` names: by SKU or id (exactly), else by the most words of their names."""
    lowered = text.lower()
    for item in items:
        if item.sku and re.search(rf"(?<![\w-]){re.escape(item.sku.lower())}(?![\w-])", lowered):
            return [item]
        if item.id is not None and re.search(rf"\b(item|id|#)\s*#?{re.escape(str(item.id).lower())}\b", lowered):
            return [item]
    said = set(words(text)) - STOP_WORDS
    scores = [(len(said & (set(words(item.name)) - STOP_WORDS)), item) for item in items]
    best = max((score for score, _ in scores), default=0)
    return [item for score, item in scores if best and score == best]


FREE_ITEM_RE = re.compile(
    r"\b(?:return|send back|refund(?: for)?|exchange)\s+(?:the|my|a|an|this|these|those|\d+|one|two)?\s*"
    r"(?P<item>[a-z][a-z' -]{1,40}?)(?=\s+(?:from|in|of|on|for|because|since|as|that|which|it|order|back|"
    r"please|i|we)\b|[.,!?;]|$)",
    re.IGNORECASE,
)
_VAGUE_ITEMS = "it them this that something stuff everything item items order thing things one"
VAGUE_ITEMS = frozenset(_VAGUE_ITEMS.split())


def free_item_in(text: str, *, answer: bool = False) -> str | None:
    """An item named in free text ("return the blue shirt") when no tool result lists the items.

    With `answer`, the whole message is the customer's answer to "which item?".
    """
    if answer:
        candidate = re.sub(r"^(the|my|a|an|it'?s|its|it is)\s+", "", text.strip(" .!?"), flags=re.IGNORECASE)
        if not candidate or candidate.lower() in VAGUE_ITEMS:
            return None
        return candidate[:60]
    match = FREE_ITEM_RE.search(text)
    if not match:
        return None
    candidate = match.group("item").strip()
    return None if candidate.lower() in VAGUE_ITEMS or not candidate else candidate


ORDINALS = {"first": 0, "1st": 0, "former": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3}
ORDINALS |= {"last": -1, "latter": -1, "final": -1}


def ordinal_in(text: str) -> int | None:
    """The position a customer picks from a list ("the first one" → 0, "the last" → -1, a bare "2" → 1)."""
    lowered = text.lower()
    bare = re.fullmatch(r"\W*(?:number|no\.?|#)?\s*(\d)\W*", lowered)
    if bare:
        return int(bare.group(1)) - 1
    found = re.search(r"\b(" + "|".join(ORDINALS) + r")\b", lowered)
    return ORDINALS[found.group(1)] if found else None


# "both", "all of them", "all the mugs", "they're all chipped": every unit of the item.
EVERY_UNIT_RE = re.compile(r"\b(both|all( of)? (them|those|these|the \w+|my \w+)|they(?:'?re| are) all|each of them)\b")


def quantity_in(text: str, item: Item | None) -> int | None:
    """A quantity the customer states for the item: "2 mugs", "one of the mugs", "both", "the mugs"
    (the item's name in the plural: every unit ordered)."""
    lowered = EMAIL_RE.sub(" ", ORDER_RE.sub(" ", text.lower()))
    if EVERY_UNIT_RE.search(lowered) and item and item.quantity:
        return item.quantity
    name_words = set(words(item.name)) if item else set()
    pattern = (
        r"\b(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")\s*(?:[x\N{MULTIPLICATION SIGN}]\s*)?"
        r"(?:of\s+(?:the|them|those|these|my)\s*)?([a-z]+)?"
    )
    for match in re.finditer(pattern, lowered):
        amount, following = match.group(1), singular(match.group(2) or "")
        value = int(amount) if amount.isdigit() else NUMBER_WORDS[amount]
        counted = following in name_words or following in {"item", "piece", "unit", "pc", "them", "those", "these"}
        if counted or re.search(
            r"\s(of|[x\N{MULTIPLICATION SIGN}])(\s|$)|\d[x\N{MULTIPLICATION SIGN}]", match.group(0) + " "
        ):
            return value
    if item and item.quantity and names_in_plural(lowered, item):
        return item.quantity
    return None


def names_in_plural(text: str, item: Item) -> bool:
    """Whether `text` names the item in the plural where its own name is singular ("the mugs" for a
    Ceramic Mug); a name that is plural already ("Linen Napkins") says nothing about how many."""
    own = set(re.findall(r"[a-z0-9]+", item.name.lower()))
    said = re.findall(r"[a-z0-9]+", text)
    return any(word not in own and singular(word) != word and singular(word) in own for word in said)
