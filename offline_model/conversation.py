"""A chat transcript read into what the offline model reasons about.

Chat Completions messages (system/developer, user, assistant with tool calls, tool results) become
user turns, the assistant's own earlier words, and tool exchanges (each call paired with its result).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from common.tokens import content_text
from offline_model.languages import gloss, language_in
from offline_model.slots import (
    Item,
    emails_in,
    house_style,
    items_in,
    normalise_order_number,
    order_numbers_in,
)

VERIFIED_LINE_RE = re.compile(r"orders? verified[^:\n]*:(?P<numbers>[^\n]+)", re.IGNORECASE)
SIGNED_IN_RE = re.compile(r"signed[- ]in (?:customer|user|as)\b[^\n:]*[:\s]\s*(?P<rest>[^\n]+)", re.IGNORECASE)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ORDER_KEYS = ("order_number", "orderNumber", "orderId", "order_id", "order_no", "orderNo", "order")
# The runtime's note for images the model is not given: "[Attached: 2 images, which this model cannot see.]"
IMAGE_NOTE_RE = re.compile(r"\[Attached: (\d+) images?\b[^\]]*\]")
ERROR_FLAGS = (("found", False), ("success", False), ("ok", False))


@dataclass(frozen=True)
class Customer:
    name: str
    email: str


@dataclass(frozen=True)
class ToolExchange:
    """One tool call the assistant made and the result it got back (None while unanswered)."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    output: Any
    after_user_turn: int  # how many user messages came before the call
    answered: bool = True

    @cached_property
    def error_message(self) -> str | None:
        """The customer-readable error of a failed call; None when it succeeded."""
        output = self.output
        if isinstance(output, str):
            return output if re.match(r"\s*(error|failed|exception)\b", output, re.IGNORECASE) else None
        if not isinstance(output, dict):
            return None
        error = output.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or "Something went wrong.")
        if isinstance(error, str) and error:
            return error
        if any(output.get(key, object()) is flag for key, flag in ERROR_FLAGS):
            return str(output.get("message") or "Nothing was found for those details.")
        return None

    @property
    def failed(self) -> bool:
        return self.answered and self.error_message is not None

    @property
    def error_code(self) -> str:
        error = self.output.get("error") if isinstance(self.output, dict) else None
        if isinstance(error, dict) and error.get("code"):
            return str(error["code"])
        return "not_found" if isinstance(self.output, dict) and self.output.get("found") is False else ""

    @cached_property
    def order_number(self) -> str | None:
        """The order this exchange was about: from its result, else from its arguments."""
        for source in (self.output, self.arguments):
            if isinstance(source, dict):
                for key in ORDER_KEYS:
                    value = source.get(key)
                    if isinstance(value, str | int) and str(value).strip():
                        return str(value).strip().lstrip("#").upper()
        return None


@dataclass
class Conversation:
    system: str = ""
    user_texts: list[str] = field(default_factory=list)
    # (number of user turns before it, text) for each assistant message with text
    assistant_texts: list[tuple[int, str]] = field(default_factory=list)
    exchanges: list[ToolExchange] = field(default_factory=list)
    language: str = "en"  # the customer's, as the system prompt names it (offline_model.languages)
    # The customer's messages as they wrote them; user_texts reads their words as English (gloss).
    written_texts: list[str] = field(default_factory=list)
    # how many images each user message carried (image parts, or the runtime's note of ones it can't pass)
    user_images: list[int] = field(default_factory=list)

    @property
    def last_user_images(self) -> int:
        return self.user_images[-1] if self.user_images else 0

    @property
    def last_user_text(self) -> str:
        return self.user_texts[-1] if self.user_texts else ""

    @property
    def turn(self) -> int:
        return len(self.user_texts)

    @property
    def since_last_user(self) -> list[ToolExchange]:
        """Tool exchanges made in answer to the latest user message."""
        return [exchange for exchange in self.exchanges if exchange.after_user_turn == self.turn]

    @property
    def previous_prompt(self) -> str:
        """What the assistant last said before the latest user message (what the customer answers)."""
        return self.prompt_before(self.turn - 1)

    def prompt_before(self, index: int) -> str:
        """What the assistant last said before user message `index`."""
        texts = [text for turn, text in self.assistant_texts if turn <= index]
        return texts[-1] if texts else ""

    @property
    def answered_exchanges(self) -> list[ToolExchange]:
        return [exchange for exchange in self.exchanges if exchange.answered]

    @cached_property
    def signed_in(self) -> Customer | None:
        """The customer the system message says is signed in ("Signed-in customer: Name <email>")."""
        match = SIGNED_IN_RE.search(self.system)
        if not match:
            return None
        rest = match.group("rest")
        email = EMAIL_RE.search(rest)
        if not email:
            return None
        name = rest[: email.start()].strip(" <(\t,-")
        return Customer(name=name, email=email.group(0).lower())

    # --- what the transcript has established ---------------------------------------------------

    @cached_property
    def order_prefix(self) -> str | None:
        """The letter prefix of the shop's order numbers ("A" in A1001), when the transcript shows one."""
        known = [exchange.order_number or "" for exchange in self.exchanges]
        return house_style([self.system, *self.user_texts, *known])

    def orders_mentioned(self, start: int = 0) -> list[str]:
        """Order numbers the customer gave from user turn `start` on, in order of mention."""
        found: list[str] = []
        for text in self.user_texts[max(start, 0) :]:
            found += [number for number in order_numbers_in(text, self.order_prefix) if number not in found]
        return found

    def latest_order(self) -> str | None:
        """The order most recently mentioned by the customer, else the last one a tool result was about."""
        for text in reversed(self.user_texts):
            numbers = order_numbers_in(text, self.order_prefix)
            if numbers:
                return numbers[-1]
        for exchange in reversed(self.successful()):
            if exchange.order_number:
                return exchange.order_number
        stated = self.stated_verified_orders
        return stated[-1] if stated else None

    @cached_property
    def stated_verified_orders(self) -> list[str]:
        """Orders the system message says were verified earlier ("Orders verified in this conversation: A1001.").

        The engine states them because the tool results that proved them may have been cut from the prompt.
        """
        match = VERIFIED_LINE_RE.search(self.system)
        if not match:
            return []
        tokens = re.findall(r"[A-Za-z0-9#-]+", match.group("numbers"))
        return [normalise_order_number(token) for token in tokens if any(char.isdigit() for char in token)]

    def latest_email(self) -> str | None:
        emails = [email for text in self.user_texts for email in emails_in(text)]
        if emails:
            return emails[-1]
        return self.signed_in.email if self.signed_in else None

    def successful(self) -> list[ToolExchange]:
        return [exchange for exchange in self.exchanges if exchange.answered and not exchange.failed]

    def verified_orders(self) -> set[str]:
        """Orders shown to belong to this customer: by a successful tool result, or as the system says."""
        numbers: set[str] = set(self.stated_verified_orders)
        for exchange in self.successful():
            if exchange.order_number:
                numbers.add(exchange.order_number)
            output = exchange.output if isinstance(exchange.output, dict) else {}
            for order in output.get("orders") or ():
                if isinstance(order, dict) and (order.get("order_number") or order.get("number")):
                    numbers.add(str(order.get("order_number") or order.get("number")).upper())
        return numbers

    def known_items(self, order: str | None) -> list[Item]:
        """Items of `order` (or of any order) that tool results have listed."""
        items: dict[tuple[Any, ...], Item] = {}
        for exchange in self.successful():
            for item in items_in(exchange.output, exchange.order_number):
                if order is None or item.order_number in (None, order):
                    items.setdefault((item.name, str(item.id), item.sku), item)
        return list(items.values())

    def tracking_number(self, order: str | None) -> str | None:
        for exchange in reversed(self.successful()):
            output = exchange.output if isinstance(exchange.output, dict) else {}
            shipment = output.get("shipment") if isinstance(output.get("shipment"), dict) else output
            if shipment.get("tracking_number") and (order is None or exchange.order_number == order):
                return str(shipment["tracking_number"])
        return None


def parse_output(content: str) -> Any:
    """A tool result as JSON when it is JSON, else the raw text."""
    try:
        return json.loads(content)
    except (ValueError, TypeError):
        return content


def parse_arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = json.loads(arguments or "{}")
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def images_in(text: str, content: Any) -> tuple[str, int]:
    """A user message's text without the runtime's note of attached images, and how many it carried."""
    parts = 0
    if isinstance(content, list):
        parts = sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")
    noted = sum(int(match.group(1)) for match in IMAGE_NOTE_RE.finditer(text)) if "[Attached:" in text else 0
    return (IMAGE_NOTE_RE.sub("", text).strip() if noted else text), parts + noted


def read_conversation(messages: list[dict]) -> Conversation:
    conversation = Conversation()
    system_parts: list[str] = []
    calls: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for message in messages:
        role = message.get("role")
        text = content_text(message.get("content"))
        if role in ("system", "developer"):
            system_parts.append(text)
        elif role == "user":
            text, images = images_in(text, message.get("content"))
            conversation.user_texts.append(text)
            conversation.user_images.append(images)
        elif role == "assistant":
            if text.strip():
                conversation.assistant_texts.append((conversation.turn, text))
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                call_id = str(call.get("id") or f"call_{len(order)}")
                calls[call_id] = {
                    "name": str(function.get("name") or ""),
                    "arguments": parse_arguments(function.get("arguments")),
                    "turn": conversation.turn,
                }
                order.append(call_id)
        elif role in ("tool", "function"):
            call_id = str(message.get("tool_call_id") or message.get("name") or f"result_{len(order)}")
            if call_id not in calls:
                calls[call_id] = {"name": str(message.get("name") or ""), "arguments": {}, "turn": conversation.turn}
                order.append(call_id)
            calls[call_id]["output"] = parse_output(text)
    conversation.system = "\n".join(system_parts)
    conversation.language = language_in(conversation.system)
    conversation.written_texts = list(conversation.user_texts)
    if conversation.language != "en":  # the words it knows in the customer's language, read as English
        conversation.user_texts = [gloss(text, conversation.language) for text in conversation.user_texts]
    conversation.exchanges = [
        ToolExchange(
            call_id=call_id,
            name=calls[call_id]["name"],
            arguments=calls[call_id]["arguments"],
            output=calls[call_id].get("output"),
            after_user_turn=calls[call_id]["turn"],
            answered="output" in calls[call_id],
        )
        for call_id in order
    ]
    return conversation
