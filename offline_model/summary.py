"""Structured output: a conversation summary as one JSON object, valid against the requested schema.

The facts (headline, problem, customer, verified orders, actions, open items, mood, next step) come
from the transcript by rules; `fit_schema` then shapes them to whatever JSON schema was asked for,
giving any property it does not know a type-appropriate value.
"""

from __future__ import annotations

import re
from typing import Any

from offline_model import phrasing
from offline_model.conversation import Conversation, ToolExchange
from offline_model.intents import SMALL_TALK, Intent, detect, is_shouting, task_of
from offline_model.slots import emails_in, order_numbers_in, words
from offline_model.toolbox import OfferedTool

GOAL_LABELS = {
    Intent.RETURN: "Return request",
    Intent.CANCEL: "Cancellation request",
    Intent.TRACKING: "Where is my parcel",
    Intent.STATUS: "Order status question",
    Intent.LIST_ORDERS: "Order history question",
}
MOOD_PREFERENCES = {
    "angry": ("angry", "furious", "upset", "frustrated", "negative", "annoyed"),
    "frustrated": ("frustrated", "annoyed", "upset", "angry", "negative", "impatient"),
    "confused": ("confused", "uncertain", "unsure", "neutral"),
    "calm": ("calm", "neutral", "satisfied", "positive", "happy", "friendly"),
}
# Property names (lower-case, without separators) that mean one of the summary's facts.
SYNONYMS = {
    "headline": ("headline", "title", "subject", "oneliner", "tldr"),
    "problem": ("problem", "issue", "summary", "description", "overview", "request", "customerrequest", "reason"),
    "customer": ("customer", "customerinfo", "who", "contact"),
    "customer_name": ("name", "customername", "fullname"),
    "customer_email": ("email", "customeremail", "emailaddress"),
    "verified_orders": ("verifiedorders", "orders", "ordernumbers", "orderids", "relatedorders"),
    "actions_taken": ("actionstaken", "actions", "toolcalls", "stepstaken", "history"),
    "open_items": ("openitems", "openquestions", "pending", "todo", "todos", "unresolved", "followups"),
    "mood": ("mood", "sentiment", "emotion", "tone", "customermood"),
    "suggested_next_step": ("suggestednextstep", "nextstep", "nextsteps", "recommendation", "recommendedaction"),
    "category": ("category", "topic", "intent", "type"),
    "priority": ("priority", "urgency", "severity"),
    "needs_human": ("needshuman", "escalate", "handoff", "escalationneeded"),
    "language": ("language", "lang", "locale"),
    "message_count": ("messagecount", "turns", "messages", "usermessages"),
    "tags": ("tags", "labels", "keywords"),
}


def summarise(conversation: Conversation, schema: dict[str, Any] | None) -> dict[str, Any]:
    facts = summary_facts(conversation)
    if not schema or not isinstance(schema.get("properties"), dict):
        return facts
    value = fit_schema(schema, facts, root=schema, facts=facts)
    return value if isinstance(value, dict) else facts


def summary_facts(conversation: Conversation) -> dict[str, Any]:
    texts = conversation.user_texts
    intents = [detect(text) for text in texts]
    tasks = [task for task in (task_of(found) for found in intents) if task]
    goal = tasks[-1] if tasks else None
    wants_human = any(Intent.HUMAN in found for found in intents) or any(
        OfferedTool(name=e.name).role == "human" for e in conversation.exchanges
    )
    orders = list(dict.fromkeys(number for text in texts for number in order_numbers_in(text)))
    order = orders[-1] if orders else None
    verified = sorted(conversation.verified_orders())
    failures = [e for e in conversation.exchanges if e.failed]
    returned = any(
        OfferedTool(name=e.name).role == "return" and e.answered and not e.failed for e in conversation.exchanges
    )

    feeling = mood(conversation, intents, len(failures))
    label = GOAL_LABELS.get(goal) if goal else ("Asked to talk to a person" if wants_human else "General question")
    headline = label + (f" — order {order}" if order else "") + (", asked for a person" if wants_human and goal else "")
    quote = next((t for t, found in zip(texts, intents, strict=True) if found - SMALL_TALK - {Intent.YES}), "")
    problem = f'{label}: "{phrasing.shorten(quote, 200)}"' if quote else "The customer has not described a problem yet."

    open_items = []
    if goal == Intent.RETURN and not returned:
        open_items.append(f"Return for order {order or '(order not given)'} not opened yet")
    for failure in failures:
        later_success = any(
            e.name == failure.name and e.answered and not e.failed and e.after_user_turn > failure.after_user_turn
            for e in conversation.exchanges
        )
        if not later_success:
            open_items.append(f"Unresolved {failure.name}: {failure.error_message}")
    replied = person_replied_last(conversation)
    if wants_human and not replied:
        open_items.append("The customer is waiting for a person to reply")
    elif replied:
        open_items.append(f"{replied} replied; waiting for the customer's answer")

    return {
        "headline": phrasing.shorten(headline, 120),
        "problem": problem,
        "customer": describe_customer(conversation),
        "customer_name": conversation.signed_in.name if conversation.signed_in else None,
        "customer_email": (conversation.signed_in.email if conversation.signed_in else None)
        or next((email for text in texts for email in emails_in(text)), None),
        "verified_orders": verified,
        "actions_taken": without_repeats([describe_action(e) for e in conversation.exchanges]),
        "open_items": open_items,
        "mood": feeling,
        "suggested_next_step": next_step(wants_human and not replied, open_items, failures, order),
        "category": goal.value if goal else ("human" if wants_human else "other"),
        "priority": "high" if feeling in ("angry", "frustrated") else "normal",
        "needs_human": wants_human,
        "language": "en",
        "message_count": len(texts),
        "tags": [tag for tag in (goal.value if goal else None, feeling, "needs_human" if wants_human else None) if tag],
    }


def describe_customer(conversation: Conversation) -> str:
    if conversation.signed_in:
        who = conversation.signed_in
        return f"{who.name} <{who.email}> (signed in)" if who.name else f"{who.email} (signed in)"
    emails = list(dict.fromkeys(email for text in conversation.user_texts for email in emails_in(text)))
    if emails:
        return "Visitor who gave the email " + ", ".join(emails)
    return "Anonymous visitor (no email given)"


def describe_action(exchange: ToolExchange) -> str:
    """One line of a handover note for a tool call: what was done and what came of it, in words (no
    raw call, no e-mail addresses)."""
    arguments = exchange.arguments if isinstance(exchange.arguments, dict) else {}
    order = next((n for value in arguments.values() if isinstance(value, str) for n in order_numbers_in(value)), None)
    role = OfferedTool(name=exchange.name).role
    subject = _action_subject(role, exchange.name, arguments, order)
    if not exchange.answered:
        return f"{subject}: no result yet"
    if exchange.failed:
        return f"{subject}: failed ({exchange.error_message})"
    output = exchange.output if isinstance(exchange.output, dict) else {}
    if output.get("return_id"):
        state = output.get("status_label") or output.get("status") or "opened"
        return f"Return #{output['return_id']}" + (f" for order {order}" if order else "") + f": {state}"
    if output.get("escalated") or role == "human":
        return "Handed the conversation to a person"
    if isinstance(output.get("orders"), list):
        return f"Listed the customer's orders ({len(output['orders'])})"
    if isinstance(output.get("results"), list):
        found = len(output["results"])
        return f"{subject}: " + (f"{found} passage{'s' if found != 1 else ''} found" if found else "nothing found")
    status = output.get("status_label") or output.get("status")
    return f"{subject}: {status}" if status else f"{subject}: done"


ACTION_SUBJECTS = {
    "status": "Looked up order {order}",
    "tracking": "Tracked the parcel of order {order}",
    "return": "Return for order {order}",
    "cancel": "Cancellation of order {order}",
    "withdraw": "Withdrawal of the return for order {order}",
    "list_orders": "Listed the customer's orders",
}


def _action_subject(role: str | None, name: str, arguments: dict[str, Any], order: str | None) -> str:
    if role in ACTION_SUBJECTS and (order or "{order}" not in ACTION_SUBJECTS[role]):
        return ACTION_SUBJECTS[role].format(order=order)
    if role == "knowledge":
        query = next((v for v in arguments.values() if isinstance(v, str) and v.strip()), "")
        return f'Searched the help articles for "{phrasing.shorten(query, 60)}"'
    label = " ".join(re.findall(r"[A-Za-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name))).capitalize()
    shown = [
        str(value)
        for key, value in arguments.items()
        if isinstance(value, str | int) and "email" not in key.lower() and not emails_in(str(value))
    ][:2]
    return label + (f" ({', '.join(phrasing.shorten(v, 40) for v in shown)})" if shown else "")


def without_repeats(lines: list[str]) -> list[str]:
    """Consecutive identical lines once, with how many times ("… (3 times)")."""
    kept: list[tuple[str, int]] = []
    for line in lines:
        if kept and kept[-1][0] == line:
            kept[-1] = (line, kept[-1][1] + 1)
        else:
            kept.append((line, 1))
    return [line if times == 1 else f"{line} ({'twice' if times == 2 else f'{times} times'})" for line, times in kept]


HUMAN_REPLY_RE = re.compile(r"^\[(?P<who>[^\]\n]{1,80}), a human support agent, wrote:\]")


def person_replied_last(conversation: Conversation) -> str | None:
    """The name of the person from the shop who wrote after the customer's last message, if one did
    (runtime.engine.prompt marks a human agent's message that way)."""
    last_turn = len(conversation.user_texts)
    for turn, text in reversed(conversation.assistant_texts):
        if turn < last_turn:
            return None
        found = HUMAN_REPLY_RE.match(text)
        if found:
            return found.group("who")
    return None


def mood(conversation: Conversation, intents: list[set[Intent]], failures: int) -> str:
    frustrated = sum(Intent.FRUSTRATION in found for found in intents)
    if frustrated >= 2 or any(is_shouting(text) for text in conversation.user_texts):
        return "angry"
    if frustrated or failures >= 2:
        return "frustrated"
    fallbacks = sum(phrasing.is_fallback(text) for _, text in conversation.assistant_texts)
    if fallbacks or any(Intent.CONFUSION in found for found in intents):
        return "confused"
    return "calm"


def next_step(wants_human: bool, open_items: list[str], failures: list[ToolExchange], order: str | None) -> str:
    detail = next((item for item in open_items if item.startswith(("Return", "Unresolved"))), None)
    if wants_human:
        return "Take over the conversation and reply to the customer" + (
            f"; {detail[0].lower()}{detail[1:]}." if detail else "."
        )
    if detail and detail.startswith("Return"):
        return f"Confirm the item and reason with the customer and open the return for order {order}."
    if failures:
        return f"Check the details with the customer: {failures[-1].error_message}"
    return "No action needed; make sure the customer has everything they need."


# --- fitting a JSON schema ------------------------------------------------------------------------


def key_of(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def known_value(name: str | None, facts: dict[str, Any]) -> Any:
    if name is None:
        return None
    key = key_of(name)
    for fact, names in SYNONYMS.items():
        if key == key_of(fact) or key in names:
            return facts.get(fact)
    return None


def resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return resolve(target, root)
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = [resolve(option, root) for option in schema.get(combinator) or ()]
        options = [option for option in options if option.get("type") != "null"]
        if options:
            merged = {key: value for key, value in schema.items() if key != combinator}
            return {**options[0], **merged}
    return schema


def schema_type(schema: dict[str, Any], value: Any) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else "null"
    if kind:
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return {dict: "object", list: "array", bool: "boolean", int: "integer", float: "number"}.get(type(value), "string")


def fit_schema(schema: Any, value: Any, *, root: dict[str, Any], facts: dict[str, Any], name: str | None = None) -> Any:
    """`value` shaped to `schema`; with no value, the known fact for the property's name or a neutral default."""
    schema = resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    kind = schema_type(schema, value)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return pick_enum(enum, value, name)
    if kind == "object":
        # A nested object the facts have no dict for (e.g. "customer": {name, email}) draws on the facts.
        source = value if isinstance(value, dict) else facts
        properties = schema.get("properties") or {}
        return {
            prop: fit_schema(sub, source.get(prop, known_value(prop, facts)), root=root, facts=facts, name=prop)
            for prop, sub in properties.items()
        }
    if kind == "array":
        items = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        item_schema = schema.get("items") or {}
        fitted = [fit_schema(item_schema, element, root=root, facts=facts) for element in items]
        while len(fitted) < int(schema.get("minItems") or 0):
            fitted.append(fit_schema(item_schema, None, root=root, facts=facts))
        return fitted[: schema["maxItems"]] if isinstance(schema.get("maxItems"), int) else fitted
    if kind in ("integer", "number"):
        number = len(value) if isinstance(value, list) else value if isinstance(value, int | float) else 0
        number = max(number, schema.get("minimum", number))
        number = min(number, schema.get("maximum", number))
        return int(number) if kind == "integer" else float(number)
    if kind == "boolean":
        return bool(value)
    if kind == "null":
        return None
    text = "; ".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value)
    if not text and "null" in (schema.get("type") if isinstance(schema.get("type"), list) else ()):
        return None
    text = text or "n/a"
    text = text.ljust(int(schema.get("minLength") or 0), ".")
    return text[: schema["maxLength"]] if isinstance(schema.get("maxLength"), int) else text


def pick_enum(enum: list[Any], value: Any, name: str | None) -> Any:
    if value in enum:
        return value
    if name and key_of(name) in SYNONYMS["mood"] + ("mood",) and isinstance(value, str):
        lowered = {str(option).lower(): option for option in enum}
        for wanted in MOOD_PREFERENCES.get(value, ()):
            if wanted in lowered:
                return lowered[wanted]
    said = set(words(str(value or "")))
    return max(enum, key=lambda option: len(said & set(words(str(option)))))
