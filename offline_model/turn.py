"""What the offline model knows at one turn, and the shapes of its reply.

The conversation, the intents of the customer's latest message, what the assistant last asked,
and the facts that fill tool arguments (order, email, urgency, a summary for a hand-off).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from offline_model import phrasing
from offline_model.conversation import Conversation
from offline_model.documents import search_words
from offline_model.intents import SMALL_TALK, Intent, detect
from offline_model.slots import emails_in
from offline_model.toolbox import Facts, OfferedTool, Toolbox, slot_for


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        return signature(self.name, self.arguments)


@dataclass(frozen=True)
class Reply:
    text: str = ""
    calls: tuple[Call, ...] = ()


def signature(name: str, arguments: dict[str, Any]) -> str:
    return name + json.dumps(arguments, sort_keys=True, default=str)


class Turn:
    def __init__(self, conversation: Conversation, toolbox: Toolbox):
        self.conversation = conversation
        self.tools = toolbox
        self.texts = conversation.user_texts
        self.last = conversation.last_user_text
        self.intents = detect(self.last)
        self.asked = phrasing.asked_in(conversation.previous_prompt)
        self.customer = conversation.signed_in
        self.prefix = conversation.order_prefix

    def facts(self, order: str | None = None) -> Facts:
        return Facts(
            order_number=order,
            email=self.conversation.latest_email(),
            name=self.customer.name if self.customer and self.customer.name else None,
            tracking_number=self.conversation.tracking_number(order),
            urgent=self.urgent,
            summary=self.escalation_summary(order),
            query=self.last.strip(),
            keywords=search_words(self.last) or None,
        )

    def slot(self, tool: OfferedTool, prop: str) -> str | None:
        return slot_for(prop, tool.properties.get(prop, {}), tool.role)

    def missing_facts(self, tool: OfferedTool, arguments: dict[str, Any], missing: list[str]) -> list[str]:
        """The missing required properties, in fact words; plus the email when the customer is not signed in.

        An anonymous visitor proves an order is theirs with its email, even where a tool leaves it optional.
        """
        wanted = [self.slot(tool, prop) or prop for prop in missing]
        asks_email = any(self.slot(tool, prop) == "email" and prop not in arguments for prop in tool.properties)
        if asks_email and not self.customer:
            wanted.append("email")
        return list(dict.fromkeys(wanted))

    @cached_property
    def failures(self) -> int:
        """Earlier tool errors and fallback answers: repeated failure is a reason to offer a person."""
        errors = sum(1 for e in self.conversation.exchanges if e.failed and e.after_user_turn < len(self.texts))
        fallbacks = sum(1 for _, text in self.conversation.assistant_texts if phrasing.is_fallback(text))
        return errors + fallbacks

    @cached_property
    def urgent(self) -> bool:
        recent = [detect(text) for text in self.texts[-3:]]
        return any(Intent.FRUSTRATION in intents for intents in recent) or self.failures >= 2

    def escalation_summary(self, order: str | None) -> str:
        """A line for the person who takes over: why the customer needs one, and what they said."""
        plain = {Intent.HUMAN, Intent.YES, Intent.NO} | SMALL_TALK
        # A question the shop's documents were searched for says what the customer needs, whatever its words.
        searched = {
            e.after_user_turn - 1 for e in self.conversation.exchanges if self.tools.role_of(e.name) == "knowledge"
        }
        # Quoted as the customer wrote it, not as the model read it (offline_model.languages.gloss).
        written = self.conversation.written_texts or self.texts
        quote = next(
            (
                written[index]
                for index, text in reversed(list(enumerate(self.texts)))
                if index in searched or detect(text) - plain or len(text.split()) > 12
            ),
            written[-1] if written else self.last,
        )
        if any(Intent.HUMAN in detect(text) for text in self.texts[-2:]):
            lead = "Customer asked to talk to a person"
        elif self.urgent:
            lead = "Customer is frustrated"
        else:
            lead = "Customer needs help"
        summary = f'{lead}: "{phrasing.shorten(quote, 160)}"' if quote.strip() else lead
        return summary + (f" (order {order})." if order else ".")

    def team_contact(self) -> str | None:
        own = self.customer.email if self.customer else None
        return next((email for email in emails_in(self.conversation.system) if email != own), None)
