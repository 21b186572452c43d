"""A shop's own functions whose arguments are not orders, called with the values the customer's words hold.

`lookup_parcel(tracking_number)` is called for "Tracking number 1Z999AA10123456784"; `get_ticket(ticket_id,
email)` for "ticket T-4821" once the email is given too. A function qualifies by a required parameter
the conversation's usual facts (an order, an email, an item, a reason) do not fill and whose value can
be told apart in a sentence (see `values`); a value still missing is asked for in the words of its
parameter's description.
"""

from __future__ import annotations

import re

from offline_model import phrasing
from offline_model.slots import emails_in, order_numbers_in
from offline_model.toolbox import OfferedTool, coerce, fill_arguments
from offline_model.turn import Call, Reply, Turn
from offline_model.values import is_findable, value_in


def call_with_values(turn: Turn) -> Reply | None:
    """The call of an offered function the customer's words fill, or the question for the values it
    still lacks; None when no function's own values are in the latest message.

    Its values come from the latest message, or from earlier ones (since it was last called) when the
    latest message gives another of its required facts (the email it was asked for).
    """
    conversation = turn.conversation
    for tool in turn.tools.tools:
        own = [prop for prop in tool.required if findable(turn, tool, prop)]
        if not own:
            continue
        latest = {prop: value_of(turn, tool, prop, [len(turn.texts) - 1]) for prop in own}
        values = {prop: latest[prop] or value_of(turn, tool, prop, since_called(turn, tool)) for prop in own}
        if not any(latest.values()) and not (all(values.values()) and gives_other_fact(turn, tool, own)):
            continue
        arguments, _ = fill_arguments(tool, turn.facts(conversation.latest_order()))
        for prop, value in values.items():
            coerced = coerce(value, tool.properties.get(prop, {})) if value else None
            if coerced is not None:
                arguments[prop] = coerced
        missing = [prop for prop in tool.required if prop not in arguments]
        return ask_described(tool, missing) if missing else Reply(calls=(Call(tool.name, arguments),))
    return None


def ask_described(tool: OfferedTool, missing: list[str]) -> Reply:
    """The question for a function's missing values, in the words of their descriptions."""
    return Reply(text=phrasing.ask_described([described(tool, prop) for prop in missing], purpose_of(tool)))


def findable(turn: Turn, tool: OfferedTool, prop: str) -> bool:
    return is_findable(prop, tool.properties.get(prop, {}), turn.slot(tool, prop))


def value_of(turn: Turn, tool: OfferedTool, prop: str, indices: list[int]) -> str | None:
    """The latest value for `prop` in the user turns at `indices` (an answer to our question for it
    may be the bare value)."""
    slot = turn.slot(tool, prop)
    for index in sorted(indices, reverse=True):
        prompt = phrasing.plain(turn.conversation.prompt_before(index))
        answering = phrasing.STILL_NEED in prompt and described(tool, prop).lower() in prompt
        value = value_in(turn.texts[index], prop, slot, answering=answering)
        if value:
            return value
    return None


def since_called(turn: Turn, tool: OfferedTool) -> list[int]:
    """The user turns since `tool` was last called in answer to an earlier message."""
    conversation = turn.conversation
    earlier = [e.after_user_turn for e in conversation.exchanges if e.name == tool.name]
    earlier = [after for after in earlier if after < conversation.turn]
    return list(range(max(earlier, default=0), len(turn.texts)))


def gives_other_fact(turn: Turn, tool: OfferedTool, own: list[str]) -> bool:
    """Whether the latest message gives a fact one of `tool`'s other required parameters takes."""
    slots = {turn.slot(tool, prop) for prop in tool.required if prop not in own}
    last = turn.last
    return bool(("email" in slots and emails_in(last)) or ("order_number" in slots and order_numbers_in(last)))


def described(tool: OfferedTool, prop: str) -> str:
    """A parameter in words: its description ("the carrier's tracking number"), else its name."""
    description = str(tool.properties.get(prop, {}).get("description") or "").strip().rstrip(".")
    if description:
        return description[:1].lower() + description[1:]
    return "the " + phrasing.humanize(prop).lower()


def purpose_of(tool: OfferedTool) -> str:
    """What a function does, for "To … I still need": its description's first clause, else its name."""
    first = re.split(r"[.:;(]|, ", tool.description.strip(), maxsplit=1)[0].strip()
    if first and len(first) <= 60:
        return first[:1].lower() + first[1:]
    return phrasing.humanize(tool.name).lower()
