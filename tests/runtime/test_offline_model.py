"""The offline model's behaviour, driven through the real openai SDK.

Every test runs twice: in-process (OfflineTransport handed to the SDK) and over the loopback HTTP
server. Tool results come from a tiny fake shop that answers in the shapes Concierge's own tools
use (and, for the classic client-side functions of the Assistants API, in a shop developer's own shape).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx2
import jsonschema
import openai
import pytest

import offline_model as offline
from offline_model.server import start_server
from offline_model.transport import OfflineTransport

MODEL = "gpt-4o-mini"

# Concierge's own tools, as orders/assistant/tools.py and agents/tools.py offer them to an
# anonymous visitor (the email is required until the customer is signed in).
ORDER_NUMBER = {"type": "string", "description": "The order number, e.g. A1001.", "minLength": 2, "maxLength": 20}
EMAIL = {"type": "string", "description": "The email address the order was placed with.", "maxLength": 254}


def function(name: str, description: str, properties: dict, required: list[str]) -> dict:
    parameters = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


CONCIERGE_TOOLS = [
    function(
        "get_order_status",
        "Look up an order's status, items and shipment. The customer must give the order number and the email.",
        {"order_number": ORDER_NUMBER, "email": EMAIL},
        ["order_number", "email"],
    ),
    function(
        "track_shipment",
        "Track the shipment of an order verified in this conversation: carrier, tracking number, events.",
        {"order_number": ORDER_NUMBER},
        ["order_number"],
    ),
    function(
        "initiate_return",
        "Open a return for one item of a delivered order verified in this conversation. Confirm first.",
        {
            "order_number": ORDER_NUMBER,
            "item": {"type": "string", "description": "The item's id, SKU or name as listed in the order."},
            "reason": {"type": "string", "enum": ["defective", "wrong_item", "not_needed", "other"]},
            "quantity": {"type": "integer", "minimum": 1, "default": 1},
        },
        ["order_number", "item", "reason"],
    ),
    function(
        "cancel_order",
        "Cancel an order verified in this conversation that has not left the warehouse yet. Confirm first.",
        {"order_number": ORDER_NUMBER},
        ["order_number"],
    ),
    function(
        "escalate_to_human",
        "Hand the conversation to a human support agent when the customer asks for a person or is upset.",
        {
            "reason": {"type": "string", "description": "Why a person is needed, in one sentence.", "maxLength": 500},
            "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"], "default": "normal"},
        },
        ["reason"],
    ),
]
# A shop developer's client-side functions, as in the classic Assistants API tutorial.
SEED_TOOLS = [
    function(
        "get_order_status",
        "Get the current status of an order by order ID",
        {
            "orderId": {"type": "string", "description": "The order ID to look up"},
            "email": {"type": "string", "description": "Customer email for verification"},
        },
        ["orderId", "email"],
    ),
    function(
        "initiate_return",
        "Start a return process for an order item",
        {
            "orderId": {"type": "string"},
            "itemId": {"type": "string"},
            "reason": {"type": "string", "enum": ["defective", "wrong_item", "not_needed", "other"]},
        },
        ["orderId", "itemId", "reason"],
    ),
]
SIGNED_IN = "You are the shop's assistant.\nSigned-in customer: Alice Martin <alice@example.com> (identity verified)."

ORDERS = {
    "A1001": {
        "email": "alice@example.com",
        "status": "delivered",
        "items": [
            {"id": 12, "sku": "MUG-1", "name": "Ceramic Mug", "quantity": 2, "returnable": True},
            {"id": 13, "sku": "NAP-4", "name": "Linen Napkins", "quantity": 1, "returnable": True},
        ],
    },
    "A1002": {
        "email": "alice@example.com",
        "status": "paid",
        "items": [{"id": 14, "sku": "TEA-9", "name": "Green Tea Tin", "quantity": 1, "returnable": True}],
    },
}


def concierge_shop(name: str, args: dict) -> dict:
    """Answers like Concierge's tools (orders/assistant/tools.py)."""
    number = str(args.get("order_number", "")).upper()
    order = ORDERS.get(number)
    if name == "get_order_status":
        if order is None or args.get("email", "").lower() != order["email"]:
            message = f"No order {number} was found for that email address."
            return {"found": False, "error": {"code": "not_found", "message": message}}
        shipment = {
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "status": "in_transit",
            "status_label": "In transit",
            "estimated_delivery": "2026-11-28",
        }
        return {
            "found": True,
            "order_number": number,
            "status": order["status"],
            "status_label": order["status"].title(),
            "placed_at": "2026-11-20T10:00:00+00:00",
            "total": "37.50",
            "currency": "USD",
            "items": order["items"],
            "shipment": shipment if order["status"] != "paid" else None,
        }
    if name == "track_shipment":
        event = {"occurred_at": "2026-11-25T08:00:00+00:00", "location": "Louisville, KY", "description": "Departed"}
        return {
            "order_number": number,
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "status": "in_transit",
            "status_label": "In transit",
            "estimated_delivery": "2026-11-28",
            "latest_event": event,
            "events": [event],
        }
    if name == "initiate_return":
        item = next(i for i in order["items"] if args["item"] in (str(i["id"]), i["sku"], i["name"]))
        return {
            "return_id": 5,
            "status": "requested",
            "order_number": number,
            "item_name": item["name"],
            "quantity": args.get("quantity", 1),
            "refund_amount": "12.50",
            "currency": "USD",
        }
    if name == "cancel_order":
        return {"order_number": number, "status": "cancelled", "status_label": "Cancelled"}
    if name == "escalate_to_human":
        return {"escalated": True, "message": "A person from our team will join this conversation shortly."}
    return {"error": {"code": "unknown_tool", "message": f"There is no tool named {name!r}."}}


def seed_shop(name: str, args: dict) -> Any:
    """A shop developer's own functions: their own result shapes."""
    if name == "get_order_status":
        if args == {"orderId": "12345", "email": "bob@example.com"}:
            items = [{"itemId": "SKU-BLUE-M", "name": "Blue Shirt"}, {"itemId": "SKU-SOCK", "name": "Wool Socks"}]
            return {"orderId": "12345", "status": "delivered", "deliveredAt": "2026-11-20", "items": items}
        return {"error": "Order not found"}
    if name == "initiate_return":
        return {"rmaNumber": "RMA-77", "status": "pending", "orderId": args["orderId"], "itemId": args["itemId"]}
    raise AssertionError(f"unexpected call {name}")


# --- driving the model through the SDK ------------------------------------------------------------


@dataclass
class Streamed:
    chunks: list = field(default_factory=list)
    text: str = ""
    calls: list[dict] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Any = None


def stream(client: openai.OpenAI, messages: list[dict], **options: Any) -> Streamed:
    """One streamed completion, reassembled the way the engine does it."""
    result = Streamed()
    calls: dict[int, dict] = {}
    response = client.chat.completions.create(
        model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}, **options
    )
    for chunk in response:
        result.chunks.append(chunk)
        if chunk.usage is not None:
            result.usage = chunk.usage
        for choice in chunk.choices:
            result.text += choice.delta.content or ""
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
                call["id"] = call["id"] or delta.id
                call["name"] += (delta.function.name or "") if delta.function else ""
                call["arguments"] += (delta.function.arguments or "") if delta.function else ""
            result.finish_reason = choice.finish_reason or result.finish_reason
    result.calls = [calls[index] for index in sorted(calls)]
    return result


@dataclass
class Said:
    text: str
    calls: list[tuple[str, dict]]  # every tool call made while answering, in order
    batches: list[list[str]]  # the tool names of each model response that called tools


class Chat:
    """A conversation run like the engine runs it: model, tools, model… until the model answers in text."""

    def __init__(self, client, tools: list[dict], shop, *, system: str | None = None, parallel: bool = True):
        self.client, self.tools, self.shop, self.parallel = client, tools, shop, parallel
        self.messages: list[dict] = [{"role": "system", "content": system}] if system else []

    def say(self, text: str) -> Said:
        self.messages.append({"role": "user", "content": text})
        said = Said(text="", calls=[], batches=[])
        for _ in range(6):
            answer = stream(self.client, self.messages, tools=self.tools, parallel_tool_calls=self.parallel)
            if not answer.calls:
                assert answer.finish_reason == "stop"
                self.messages.append({"role": "assistant", "content": answer.text})
                said.text = answer.text
                return said
            assert answer.finish_reason == "tool_calls"
            self.messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {"name": c["name"], "arguments": c["arguments"]},
                        }
                        for c in answer.calls
                    ],
                }
            )
            said.batches.append([c["name"] for c in answer.calls])
            for call in answer.calls:
                arguments = json.loads(call["arguments"])
                said.calls.append((call["name"], arguments))
                output = json.dumps(self.shop(call["name"], arguments))
                self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
        raise AssertionError("the model kept calling tools")


@pytest.fixture(scope="module")
def loopback():
    server, thread = start_server(model_names=[MODEL])
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(params=["in-process", "loopback"])
def client(request):
    if request.param == "in-process":
        http_client = httpx2.Client(transport=OfflineTransport(model_names=[MODEL]))
        sdk = openai.OpenAI(api_key="offline", base_url="http://offline.concierge/v1", http_client=http_client)
    else:
        sdk = openai.OpenAI(api_key="offline", base_url=request.getfixturevalue("loopback").url, max_retries=0)
    yield sdk
    sdk.close()


def concierge_chat(client, **options) -> Chat:
    return Chat(client, CONCIERGE_TOOLS, concierge_shop, **options)


# --- conversations ----------------------------------------------------------------------------


def test_a_greeting_is_answered_with_what_the_assistant_can_do(client):
    said = concierge_chat(client).say("Hello there!")

    assert said.calls == []
    assert said.text.startswith("Hi")
    assert "status" in said.text and "return" in said.text


def test_order_status_asks_for_the_missing_email_then_calls_the_tool_with_both(client):
    chat = concierge_chat(client)

    first = chat.say("Hi, what's the status of my order #a1001?")
    assert first.calls == []
    assert "email" in first.text and "A1001" in first.text

    second = chat.say("It's alice@example.com")
    assert second.calls == [("get_order_status", {"order_number": "A1001", "email": "alice@example.com"})]
    assert "A1001" in second.text and "Delivered" in second.text
    assert "Ceramic Mug" in second.text


def test_order_status_asks_for_the_order_number_when_only_the_email_was_given(client):
    chat = concierge_chat(client)

    first = chat.say("Can you check my order status? My email is alice@example.com")
    assert first.calls == [] and "order number" in first.text

    second = chat.say("order A1001")
    assert second.calls == [("get_order_status", {"order_number": "A1001", "email": "alice@example.com"})]


def test_digits_only_order_numbers_take_the_shops_prefix(client):
    chat = concierge_chat(client, system="Order numbers look like A1001.")

    said = chat.say("status of order 1001 please, alice@example.com")

    assert said.calls == [("get_order_status", {"order_number": "A1001", "email": "alice@example.com"})]


def test_a_wrong_order_answer_relays_not_found_and_suggests_checking_the_details(client):
    said = concierge_chat(client).say("Where is order A9999? My email is alice@example.com")

    assert said.calls == [("get_order_status", {"order_number": "A9999", "email": "alice@example.com"})]
    assert "No order A9999 was found" in said.text
    assert "double-check" in said.text


def test_tracking_verifies_the_order_first_then_tracks_the_parcel(client):
    chat = concierge_chat(client)

    assert chat.say("Where is my parcel? It's order A1001").calls == []
    said = chat.say("alice@example.com")

    assert [name for name, _ in said.calls] == ["get_order_status", "track_shipment"]
    assert said.calls[1] == ("track_shipment", {"order_number": "A1001"})
    assert "1Z999AA10123456784" in said.text and "In transit" in said.text and "28 Nov 2026" in said.text

    again = chat.say("and when will it arrive?")
    assert again.calls == [("track_shipment", {"order_number": "A1001"})]


def test_a_signed_in_customer_is_not_asked_for_an_email(client):
    tools = [CONCIERGE_TOOLS[1]]  # track_shipment alone: a signed-in customer's own orders need no proof
    said = Chat(client, tools, concierge_shop, system=SIGNED_IN).say("When will order A1001 arrive?")

    assert said.calls == [("track_shipment", {"order_number": "A1001"})]
    assert "Here's the latest on your parcel for order **A1001**" in said.text


def test_orders_the_system_message_states_as_verified_need_no_new_lookup(client):
    system = "Orders verified in this conversation: A1001."
    said = concierge_chat(client, system=system).say("When will my parcel arrive?")

    assert said.calls == [("track_shipment", {"order_number": "A1001"})]


def test_with_only_a_status_function_tracking_questions_are_answered_from_the_status(client):
    chat = Chat(client, SEED_TOOLS, seed_shop)

    chat.say("When will my package #12345 arrive?")
    said = chat.say("bob@example.com")

    assert said.calls == [("get_order_status", {"orderId": "12345", "email": "bob@example.com"})]
    assert "12345" in said.text and "Delivered" in said.text


def test_a_return_asks_for_the_item_then_the_reason_and_confirms_before_calling(client):
    chat = concierge_chat(client)

    verify = chat.say("I want to return something from order A1001, my email is alice@example.com")
    assert verify.calls == [("get_order_status", {"order_number": "A1001", "email": "alice@example.com"})]
    assert "Which item" in verify.text and "Ceramic Mug" in verify.text and "Linen Napkins" in verify.text

    reason = chat.say("the mugs")
    assert reason.calls == [] and "reason for the return" in reason.text

    confirm = chat.say("one of them arrived cracked")
    assert confirm.calls == []
    assert (
        "Shall I open a return for **1 \N{MULTIPLICATION SIGN} Ceramic Mug** from order **A1001** (reason: defective)?"
        in confirm.text
    )

    done = chat.say("yes please")
    assert done.calls == [
        ("initiate_return", {"order_number": "A1001", "item": "MUG-1", "reason": "defective", "quantity": 1})
    ]
    assert "return **#5**" in done.text and "$12.50" in done.text


def test_the_item_to_return_can_be_picked_by_its_place_in_the_list(client):
    chat = concierge_chat(client)
    chat.say("I want to return something from A1001, alice@example.com")

    assert "reason for the return of the Linen Napkins" in chat.say("the second one").text
    confirm = chat.say("I changed my mind")

    assert "Linen Napkins** from order **A1001** (reason: not needed)?" in confirm.text
    assert [args["item"] for _, args in chat.say("yes").calls] == ["NAP-4"]


def test_a_reason_in_the_customers_own_words_reads_as_other(client):
    chat = concierge_chat(client)
    chat.say("I'd like to return the napkins from A1001, alice@example.com")

    confirm = chat.say("my aunt gave me the same ones")
    assert "(reason: other)" in confirm.text

    done = chat.say("yes")
    assert done.calls == [
        ("initiate_return", {"order_number": "A1001", "item": "NAP-4", "reason": "other", "quantity": 1})
    ]


def test_a_return_first_verifies_the_order_and_asks_for_the_email(client):
    said = concierge_chat(client).say("I'd like to return the ceramic mug from A1001, it's broken")

    assert said.calls == []
    assert "email address" in said.text and "A1001" in said.text


def test_a_return_with_everything_in_one_message_still_waits_for_a_yes(client):
    chat = concierge_chat(client)

    said = chat.say("Return both mugs from A1001 please, wrong colour. alice@example.com")
    assert [name for name, _ in said.calls] == ["get_order_status"]
    assert "**2 \N{MULTIPLICATION SIGN} Ceramic Mug**" in said.text and "(reason: wrong item)" in said.text

    declined = chat.say("no")
    assert declined.calls == [] and "haven't opened a return" in declined.text


def test_the_seeds_initiate_return_gets_an_item_id_and_an_enum_reason(client):
    chat = Chat(client, SEED_TOOLS, seed_shop)

    assert "email" in chat.say("I want to return something from order #12345").text
    items = chat.say("bob@example.com")
    assert items.calls == [("get_order_status", {"orderId": "12345", "email": "bob@example.com"})]
    assert "Blue Shirt" in items.text and "Wool Socks" in items.text
    assert "reason" in chat.say("the blue shirt").text
    confirm = chat.say("it's the wrong size")
    assert confirm.calls == []
    assert (
        "Shall I open a return for **1 \N{MULTIPLICATION SIGN} Blue Shirt** from order **12345** (reason: wrong size)?"
        in confirm.text
    )

    done = chat.say("yes")
    # A wrong size is neither a wrong item nor unwanted: the enum's "other" (it has no fit reason).
    assert done.calls == [("initiate_return", {"orderId": "12345", "itemId": "SKU-BLUE-M", "reason": "other"})]
    assert "RMA-77" in done.text and "pending" in done.text


def test_an_item_a_shops_order_does_not_have_is_asked_about_again_not_blamed_on_the_email(client):
    def shop(name, args):
        if name == "get_order_status":  # a shop whose lookup lists no items
            return {"orderId": args["orderId"], "status": "delivered"}
        return {"error": {"code": "not_found", "message": f"Order {args['orderId']} has no item '{args['itemId']}'."}}

    chat = Chat(client, SEED_TOOLS, shop, system=SIGNED_IN)
    chat.say("I want to return the teapot from order #12345, it's broken")

    said = chat.say("yes")

    assert [name for name, _ in said.calls] == ["initiate_return"]
    assert "Order 12345 has no item 'teapot'" in said.text
    assert "Which item is it?" in said.text
    assert "double-check" not in said.text and "email" not in said.text


def test_cancelling_an_order_is_confirmed_before_the_tool_is_called(client):
    chat = concierge_chat(client)

    said = chat.say("Please cancel order A1002, alice@example.com")
    assert [name for name, _ in said.calls] == ["get_order_status"]
    assert "Shall I cancel order **A1002**?" in said.text

    done = chat.say("yes")
    assert done.calls == [("cancel_order", {"order_number": "A1002"})]
    assert "cancelled" in done.text


def test_asking_for_a_person_calls_the_escalation_tool(client):
    said = concierge_chat(client).say("Can I talk to a real person please?")

    assert len(said.calls) == 1
    name, arguments = said.calls[0]
    assert name == "escalate_to_human"
    assert arguments["priority"] == "normal"
    assert "Customer asked to talk to a person" in arguments["reason"]
    assert "will join" in said.text


def test_without_an_escalation_tool_the_customer_is_told_how_to_reach_the_team(client):
    chat = Chat(client, SEED_TOOLS, seed_shop, system="Support team: help@shop.example")

    said = chat.say("I want to speak to an agent")

    assert said.calls == []
    assert "help@shop.example" in said.text


def test_frustration_gets_an_apology_and_an_offer_and_yes_escalates_with_high_priority(client):
    chat = concierge_chat(client)

    offer = chat.say("This is useless, honestly ridiculous")
    assert offer.calls == []
    assert "sorry" in offer.text.lower() and "connect you with a person" in offer.text

    escalated = chat.say("yes")
    assert [name for name, _ in escalated.calls] == ["escalate_to_human"]
    arguments = escalated.calls[0][1]
    assert arguments["priority"] == "high"
    assert "useless" in arguments["reason"]


def test_shouting_with_a_question_answers_it_and_offers_a_person(client):
    said = concierge_chat(client).say("WHERE IS MY ORDER A1001 I AM WAITING alice@example.com")

    assert [name for name, _ in said.calls] == ["get_order_status"]
    assert said.text.startswith("I'm sorry")
    assert "A1001" in said.text and "connect you with a person" in said.text


def test_a_second_failed_lookup_offers_a_person(client):
    chat = concierge_chat(client)
    first = chat.say("status of A1001, alice@example.org")
    assert "connect you with a person" not in first.text

    second = chat.say("sorry, try alice@example.net")

    assert "No order A1001 was found" in second.text
    assert "Would you like me to connect you with a person" in second.text
    assert [name for name, _ in chat.say("yes").calls] == ["escalate_to_human"]


def test_repeated_failures_make_the_model_offer_a_person(client):
    chat = concierge_chat(client)
    assert "didn't quite catch that" in chat.say("blorp").text
    assert "didn't quite catch that" in chat.say("zzz qqq").text

    third = chat.say("hmm banana")

    assert "didn't quite catch that" not in third.text
    assert "Would you like me to connect you with a person" in third.text


def test_anything_else_gets_an_honest_fallback(client):
    said = concierge_chat(client).say("Can you recommend a good red wine?")

    assert said.calls == []
    assert "order status" in said.text and "returns" in said.text and "person" in said.text


def test_thanks_and_goodbye_are_answered_politely(client):
    said = concierge_chat(client).say("Thanks a lot, bye!")

    assert said.calls == [] and "welcome" in said.text


def test_results_of_an_unknown_shape_are_phrased_from_their_keys(client):
    def shop(name, args):
        return {"orderRef": "55555", "state": "on_hold", "note": "Payment pending", "lines": [{"title": "Lamp"}]}

    said = Chat(client, SEED_TOOLS, shop).say("status of order #55555, bob@example.com")

    assert "Order **55555** is **On hold**" in said.text
    assert "Payment pending" in said.text and "Lamp" in said.text


def test_a_policy_question_searches_the_help_articles_when_a_search_tool_is_offered(client):
    search = function(
        "search_knowledge_base",
        "Search the shop's help articles and policies",
        {"query": {"type": "string"}},
        ["query"],
    )

    def shop(name, args):
        return {"results": [{"title": "Returns policy", "text": "Most items can be returned within 30 days."}]}

    said = Chat(client, [search, *CONCIERGE_TOOLS], shop).say("How long do I have to return something?")

    assert said.calls == [("search_knowledge_base", {"query": "How long do I have to return something?"})]
    assert "within 30 days" in said.text and "Returns policy" in said.text


def test_tools_are_chosen_by_what_they_do_not_by_their_names(client):
    tools = [
        function(
            "lookupPurchase",
            "Fetch details and status of a purchase",
            {"orderNo": {"type": "string", "description": "order number"}, "customerEmail": {"type": "string"}},
            ["orderNo", "customerEmail"],
        ),
        function("handoffToAgent", "Transfer the chat to a human", {"note": {"type": "string"}}, ["note"]),
    ]
    chat = Chat(client, tools, lambda name, args: {"status": "shipped"})

    status = chat.say("status of A1001 for carol@example.com")
    human = chat.say("let me talk to a human")

    assert status.calls == [("lookupPurchase", {"orderNo": "A1001", "customerEmail": "carol@example.com"})]
    assert [name for name, _ in human.calls] == ["handoffToAgent"]


# --- protocol details -------------------------------------------------------------------------


def test_two_lookups_in_one_message_are_parallel_tool_calls_with_indices_0_and_1(client):
    messages = [{"role": "user", "content": "Status of A1001 and A1002 please? alice@example.com"}]

    answer = stream(client, messages, tools=CONCIERGE_TOOLS)

    indices = {d.index for c in answer.chunks for ch in c.choices for d in ch.delta.tool_calls or ()}
    assert indices == {0, 1}
    assert [json.loads(c["arguments"])["order_number"] for c in answer.calls] == ["A1001", "A1002"]
    assert answer.calls[0]["id"] != answer.calls[1]["id"]
    assert answer.finish_reason == "tool_calls"


def test_without_parallel_tool_calls_the_lookups_come_one_at_a_time(client):
    chat = concierge_chat(client, parallel=False)

    said = chat.say("Status of A1001 and A1002 please? alice@example.com")

    assert said.batches == [["get_order_status"], ["get_order_status"]]
    assert "A1001" in said.text and "A1002" in said.text


def test_streamed_tool_call_arguments_reassemble_to_valid_json(client):
    messages = [{"role": "user", "content": "status of A1001, alice@example.com"}]

    answer = stream(client, messages, tools=CONCIERGE_TOOLS)

    deltas = [d for c in answer.chunks for ch in c.choices for d in ch.delta.tool_calls or ()]
    first, rest = deltas[0], deltas[1:]
    assert first.id.startswith("call_") and first.type == "function"
    assert first.function.name == "get_order_status" and first.function.arguments == ""
    assert len(rest) > 1 and all(d.id is None and d.function.name is None for d in rest)
    assert json.loads(answer.calls[0]["arguments"]) == {"order_number": "A1001", "email": "alice@example.com"}


def test_text_streams_a_word_at_a_time(client):
    answer = stream(client, [{"role": "user", "content": "hello"}])

    pieces = [ch.delta.content for c in answer.chunks for ch in c.choices if ch.delta.content]
    assert len(pieces) > 10
    assert "".join(pieces) == answer.text


def test_max_completion_tokens_cuts_the_text_and_finishes_with_length(client):
    answer = stream(client, [{"role": "user", "content": "hello"}], max_completion_tokens=5)

    assert answer.finish_reason == "length"
    assert 0 < len(answer.text.split()) <= 5
    assert answer.usage.completion_tokens <= 5


def test_the_last_chunk_carries_the_usage(client):
    answer = stream(client, [{"role": "user", "content": "hello"}])

    last = answer.chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens > 0 and last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(chunk.usage is None for chunk in answer.chunks[:-1])


def test_a_non_streamed_completion_carries_the_same_answer(client):
    messages = [{"role": "user", "content": "status of A1001, alice@example.com"}]

    completion = client.chat.completions.create(model=MODEL, messages=messages, tools=CONCIERGE_TOOLS)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == "get_order_status"
    assert completion.usage.total_tokens > 0


def test_the_same_request_gives_the_same_answer(client):
    messages = [{"role": "user", "content": "Status of A1001 and A1002 please? alice@example.com"}]

    first = stream(client, messages, tools=CONCIERGE_TOOLS)
    second = stream(client, messages, tools=CONCIERGE_TOOLS)

    assert first.calls == second.calls
    assert [c.id for c in first.chunks] == [c.id for c in second.chunks]
    text = [{"role": "user", "content": "hello"}]
    assert stream(client, text).text == stream(client, text).text


def test_tool_choice_none_answers_in_text(client):
    messages = [{"role": "user", "content": "status of A1001, alice@example.com"}]

    answer = stream(client, messages, tools=CONCIERGE_TOOLS, tool_choice="none")

    assert answer.calls == [] and answer.finish_reason == "stop" and answer.text


def test_any_model_name_is_accepted(client):
    completion = client.chat.completions.create(model="llama-3-70b", messages=[{"role": "user", "content": "hi"}])

    assert completion.model == "llama-3-70b"


# --- summaries --------------------------------------------------------------------------------

SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {
        "headline": {"type": "string"},
        "problem": {"type": "string"},
        "customer": {"type": "string"},
        "verified_orders": {"type": "array", "items": {"type": "string"}},
        "actions_taken": {"type": "array", "items": {"type": "string"}},
        "open_items": {"type": "array", "items": {"type": "string"}},
        "mood": {"type": "string", "enum": ["calm", "confused", "frustrated", "angry", "happy"]},
        "suggested_next_step": {"type": "string"},
    },
    "required": [
        "headline",
        "problem",
        "customer",
        "verified_orders",
        "actions_taken",
        "open_items",
        "mood",
        "suggested_next_step",
    ],
    "additionalProperties": False,
}


def summary_of(client, messages: list[dict], schema: dict) -> dict:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Summarize the conversation for a colleague."}, *messages],
        response_format={"type": "json_schema", "json_schema": {"name": "summary", "schema": schema, "strict": True}},
    )
    summary = json.loads(completion.choices[0].message.content)
    jsonschema.validate(summary, schema)
    return summary


def test_a_summary_is_valid_against_the_schema_and_tells_what_happened(client):
    chat = concierge_chat(client)
    chat.say("I want to return the mug from A1001, it arrived broken. alice@example.com")
    chat.say("this is ridiculous, I want a human")

    summary = summary_of(client, chat.messages, SUMMARY_SCHEMA)

    assert "Return" in summary["headline"] and "A1001" in summary["headline"]
    assert "broken" in summary["problem"]
    assert "alice@example.com" in summary["customer"]
    assert summary["verified_orders"] == ["A1001"]
    # A handover note in words: what was done and what came of it, no raw calls, no addresses.
    assert any(action.startswith("Looked up order A1001: ") for action in summary["actions_taken"])
    assert "Handed the conversation to a person" in summary["actions_taken"]
    assert not any("(" in action and "=" in action for action in summary["actions_taken"])
    assert not any("@" in action for action in summary["actions_taken"])
    assert any("not opened" in item for item in summary["open_items"])
    assert summary["mood"] == "frustrated"
    assert summary["suggested_next_step"]


def test_a_repeated_failed_lookup_is_one_line_of_the_summary(client):
    failed = {"error": {"code": "not_found", "message": "No order A1122 with that email."}}
    messages = [{"role": "user", "content": "Where is A1122? alice@example.com"}]
    for n in range(3):
        call = {"id": f"call_{n}", "type": "function"}
        call["function"] = {
            "name": "get_order_status",
            "arguments": '{"order_number": "A1122", "email": "alice@example.com"}',
        }
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{n}", "content": json.dumps(failed)},
        ]

    summary = summary_of(client, messages, SUMMARY_SCHEMA)

    assert summary["actions_taken"] == ["Looked up order A1122: failed (No order A1122 with that email.) (3 times)"]


def test_a_conversation_about_cancelling_is_summarised(client):
    messages = [{"role": "user", "content": "Please cancel order A1005, my email is alice@example.com"}]

    summary = summary_of(client, messages, SUMMARY_SCHEMA)

    assert summary["headline"].startswith("Cancellation request — order A1005")


def test_a_summary_fills_any_schema_with_valid_values(client):
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 40},
            "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            "order_numbers": {"type": "array", "items": {"type": "string"}},
            "confidence": {"type": "number", "minimum": 0.5, "maximum": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "needs_human": {"type": "boolean"},
            "customer": {
                "type": "object",
                "properties": {"name": {"type": ["string", "null"]}, "email": {"type": "string"}},
                "required": ["name", "email"],
                "additionalProperties": False,
            },
        },
        "required": ["title", "sentiment", "order_numbers", "confidence", "tags", "needs_human", "customer"],
        "additionalProperties": False,
    }
    messages = [{"role": "user", "content": "Where is order A1001? alice@example.com"}]

    summary = summary_of(client, messages, schema)

    assert summary["order_numbers"] == []  # mentioned, but no tool result verified it
    assert summary["customer"]["email"] == "alice@example.com"
    assert summary["sentiment"] == "neutral"


def test_json_object_format_answers_with_a_json_object(client):
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello"}], response_format={"type": "json_object"}
    )

    summary = json.loads(completion.choices[0].message.content)
    assert {"headline", "problem", "mood"} <= summary.keys()


def test_a_drafting_instruction_gets_an_agent_draft_from_the_conversation():
    messages = [
        {
            "role": "system",
            "content": "You draft the next message a human support agent will send to the customer.",
        },
        {"role": "user", "content": "Where is my order A1001? alice@example.com"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "get_order_status",
                        "arguments": '{"order_number": "A1001", "email": "alice@example.com"}',
                    },
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": '{"found": true, "order_number": "A1001", "status": "shipped", "status_label": "Shipped"}',
        },
        {"role": "user", "content": "I want to talk to a person"},
    ]
    text = offline.complete({"model": "m", "messages": messages}).content

    assert "order A1001 is shipped" in text
    assert "hand" not in text.lower()  # a draft for the agent, not the assistant declining a handover
