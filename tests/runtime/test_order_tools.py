"""The assistant's order tools, called the way the engine calls them: through the registry, with
the thread's ToolContext and the JSON text a model wrote.

Alice owns A1001; Mallory must never see it. Identity comes only from the thread (the shop's
signed identity, or an order proven here by its email), never from the arguments.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from orders.models import Customer, IdempotencyKey, Order, OrderEvent, Return, VerifiedOrder
from runtime import events
from runtime.engine.runner import run_server_calls
from runtime.models import Run, RunStep, Thread, ToolCall
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.executor import run_tool
from tests.factories import (
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    ShipmentFactory,
    TrackingEventFactory,
    delivered_order,
)
from tests.listener import GroupListener

# Handlers run in a worker thread, which cannot see a test transaction's uncommitted rows.
pytestmark = pytest.mark.django_db(transaction=True)


def call(thread: Thread, name: str, **arguments) -> dict:
    """One tool call as the engine makes it; returns what the model would read."""
    result, _error_code = run_tool(registry.get(name), ToolContext(thread=thread), name, json.dumps(arguments))
    return result


def verify(thread: Thread, number: str = "A1001", email: str = "alice@example.com") -> dict:
    result = call(thread, "get_order_status", order_number=number, email=email)
    assert result["found"] is True, result
    return result


@pytest.fixture
def alice_thread(assistant, alice):
    """A conversation bound to Alice by the shop's signed identity."""
    return Thread.objects.create(assistant=assistant, customer=alice)


@pytest.fixture
def mallory_thread(assistant, mallory):
    return Thread.objects.create(assistant=assistant, customer=mallory)


@pytest.fixture
def shipped_alice_order(alice_order):
    shipment = ShipmentFactory(
        order=alice_order,
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        status="delivered",
        delivered_at=alice_order.delivered_at,
    )
    TrackingEventFactory(
        shipment=shipment,
        occurred_at=alice_order.delivered_at - timedelta(days=1),
        status="in_transit",
        location="Memphis, TN",
        description="Departed facility",
    )
    TrackingEventFactory(
        shipment=shipment,
        occurred_at=alice_order.delivered_at,
        status="delivered",
        location="Springfield, IL",
        description="Delivered to front door",
    )
    return alice_order


def verified_numbers(thread: Thread) -> list[str]:
    return list(VerifiedOrder.objects.filter(thread=thread).values_list("order__number", flat=True))


# --- get_order_status ---------------------------------------------------------------------------


def test_the_right_email_finds_the_order_and_verifies_it_for_the_thread(thread, alice_order, mug):
    result = call(thread, "get_order_status", order_number="A1001", email="alice@example.com")

    assert result["found"] is True
    assert result["order_number"] == "A1001"
    assert result["status"] == "delivered"
    assert result["status_label"] == "Delivered"
    assert result["total"] == "25.00"
    assert result["items"] == [
        {
            "id": alice_order.items.get().pk,
            "sku": "MUG-1",
            "name": "Ceramic Mug",
            "quantity": 2,
            "returnable": True,
            "return_window_days": 30,
        }
    ]
    assert result["shipment"] is None
    assert verified_numbers(thread) == ["A1001"]


def test_the_order_number_and_email_are_matched_however_the_customer_types_them(thread, alice_order):
    result = call(thread, "get_order_status", order_number=" #a1001 ", email="  Alice@Example.COM ")

    assert result["order_number"] == "A1001"
    assert verified_numbers(thread) == ["A1001"]


def test_looking_up_the_same_order_twice_verifies_it_once(thread, alice_order):
    verify(thread)
    verify(thread)

    assert VerifiedOrder.objects.filter(thread=thread).count() == 1


def test_a_wrong_email_reads_exactly_like_an_order_that_does_not_exist(thread, alice_order):
    wrong_pair = call(thread, "get_order_status", order_number="A1001", email="mallory@example.com")
    Order.objects.filter(pk=alice_order.pk).delete()
    missing = call(thread, "get_order_status", order_number="A1001", email="alice@example.com")

    expected = {
        "found": False,
        "error": {"code": "not_found", "message": "No order A1001 was found for that email address."},
    }
    assert wrong_pair == expected
    assert missing == expected
    assert verified_numbers(thread) == []
    thread.refresh_from_db()
    assert thread.failed_lookups == 2


def test_a_failed_lookup_verifies_nothing(thread, alice_order):
    call(thread, "get_order_status", order_number="A1001", email="mallory@example.com")

    result = call(thread, "track_shipment", order_number="A1001")

    assert result["error"]["code"] == "not_verified"
    assert verified_numbers(thread) == []


def test_too_many_failed_lookups_are_refused_even_with_the_right_email(thread, assistant, alice_order, settings):
    settings.THREAD_MAX_FAILED_LOOKUPS = 3
    for guess in ("a@example.com", "b@example.com", "c@example.com"):
        call(thread, "get_order_status", order_number="A1001", email=guess)

    result = call(thread, "get_order_status", order_number="A1001", email="alice@example.com")

    assert result == {
        "found": False,
        "error": {
            "code": "too_many_attempts",
            "message": "Too many order lookups failed in this conversation. A person from our team can help.",
        },
    }
    assert verified_numbers(thread) == []
    # The limit is per conversation: another thread still proves the order normally.
    other = Thread.objects.create(assistant=assistant)
    assert call(other, "get_order_status", order_number="A1001", email="alice@example.com")["found"] is True


def test_an_email_is_required_when_nobody_is_signed_in(thread, alice_order):
    result, error_code = run_tool(
        registry.get("get_order_status"), ToolContext(thread=thread), "get_order_status", '{"order_number": "A1001"}'
    )

    assert error_code == "invalid_arguments"
    assert result == {"error": {"code": "invalid_arguments", "message": "arguments: 'email' is a required property"}}
    thread.refresh_from_db()
    assert thread.failed_lookups == 0


def test_a_signed_in_customer_needs_no_email_for_their_own_order(alice_thread, alice_order):
    result = call(alice_thread, "get_order_status", order_number="A1001")

    assert result["found"] is True
    assert verified_numbers(alice_thread) == ["A1001"]


def test_a_signed_in_customer_cannot_read_someone_elses_order_with_any_email(mallory_thread, alice_order):
    without_email = call(mallory_thread, "get_order_status", order_number="A1001")
    with_own_email = call(mallory_thread, "get_order_status", order_number="A1001", email="mallory@example.com")
    with_owners_email = call(mallory_thread, "get_order_status", order_number="A1001", email="alice@example.com")

    not_found = {
        "found": False,
        "error": {"code": "not_found", "message": "No order A1001 was found among your orders."},
    }
    assert without_email == with_own_email == with_owners_email == not_found
    assert verified_numbers(mallory_thread) == []


def test_identity_claimed_in_the_arguments_is_refused(thread, alice, alice_order):
    result = call(thread, "get_order_status", order_number="A1001", customer_id=alice.pk)

    assert result["error"]["code"] == "invalid_arguments"
    assert verified_numbers(thread) == []


# --- track_shipment -----------------------------------------------------------------------------


def test_a_verified_order_can_be_tracked(thread, shipped_alice_order):
    verify(thread)

    result = call(thread, "track_shipment", order_number="a1001")

    assert result["order_number"] == "A1001"
    assert result["carrier"] == "UPS"
    assert result["tracking_number"] == "1Z999AA10123456784"
    assert result["status"] == "delivered"
    assert [e["description"] for e in result["events"]] == ["Departed facility", "Delivered to front door"]
    assert result["latest_event"]["location"] == "Springfield, IL"


def test_tracking_an_unverified_order_reads_the_same_whether_it_exists_or_not(thread, shipped_alice_order):
    existing = call(thread, "track_shipment", order_number="A1001")
    missing = call(thread, "track_shipment", order_number="Z9999")

    def expected(number: str) -> dict:
        message = (
            f"Order {number} is not verified in this conversation yet: look it up with the email address it "
            "was placed with first."
        )
        return {"error": {"code": "not_verified", "message": message}}

    assert existing == expected("A1001")
    assert missing == expected("Z9999")


def test_an_email_in_the_arguments_does_not_prove_an_order(thread, shipped_alice_order):
    result = call(thread, "track_shipment", order_number="A1001", email="alice@example.com")

    assert result["error"]["code"] == "not_verified"
    assert verified_numbers(thread) == []


def test_a_verification_holds_only_in_the_thread_that_made_it(thread, mallory_thread, shipped_alice_order):
    verify(thread)

    result = call(mallory_thread, "track_shipment", order_number="A1001")

    assert result["error"]["code"] == "not_verified"


def test_a_signed_in_customer_tracks_their_own_order_without_verifying_it(alice_thread, shipped_alice_order):
    result = call(alice_thread, "track_shipment", order_number="A1001")

    assert result["tracking_number"] == "1Z999AA10123456784"


def test_an_order_without_a_shipment_says_it_has_not_shipped(thread, alice):
    OrderFactory(number="A2002", customer=alice, status=Order.Status.PAID)
    verify(thread, "A2002")

    result = call(thread, "track_shipment", order_number="A2002")

    assert result == {"error": {"code": "not_shipped", "message": "Order A2002 has not shipped yet (it is paid)."}}


# --- initiate_return ----------------------------------------------------------------------------


def test_a_return_is_opened_on_a_verified_order(thread, alice_order):
    verify(thread)

    result = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective", quantity=1)

    ret = Return.objects.get()
    assert result == {
        "return_id": ret.pk,
        "status": "requested",
        "order_number": "A1001",
        "item_name": "Ceramic Mug",
        "quantity": 1,
        "refund_amount": "12.50",
        "currency": "USD",
    }
    assert (ret.order, ret.quantity, ret.reason, ret.channel) == (alice_order, 1, "defective", "assistant")
    event = OrderEvent.objects.get(order=alice_order, kind="return_requested")
    assert event.actor == f"assistant:{thread.public_id}"


def test_the_item_may_be_named_by_its_id_sku_or_name(thread, alice_order):
    verify(thread)
    item = alice_order.items.get()

    for ref in (str(item.pk), "mug-1", "ceramic"):
        Return.objects.all().delete()
        IdempotencyKey.objects.all().delete()
        result = call(thread, "initiate_return", order_number="A1001", item=ref, reason="not_needed")
        assert result["item_name"] == "Ceramic Mug", ref


def test_a_return_on_an_unverified_order_is_refused(thread, alice_order):
    result = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective")

    assert result["error"]["code"] == "not_verified"
    assert not Return.objects.exists()


def test_mallory_cannot_open_a_return_on_alices_order(mallory_thread, alice_order):
    result = call(mallory_thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective")

    assert result["error"]["code"] == "not_verified"
    assert not Return.objects.exists()


def test_a_signed_in_customer_returns_from_their_own_order(alice_thread, alice_order):
    result = call(alice_thread, "initiate_return", order_number="A1001", item="MUG-1", reason="wrong_item", quantity=2)

    assert result["quantity"] == 2
    assert result["refund_amount"] == "25.00"
    assert Return.objects.get().quantity == 2


def test_an_unknown_item_is_named_in_the_error(thread, alice_order):
    verify(thread)

    result = call(thread, "initiate_return", order_number="A1001", item="kettle", reason="defective")

    assert result == {"error": {"code": "not_found", "message": "Order A1001 has no item 'kettle'."}}


def test_calling_it_twice_opens_one_return(thread, alice_order):
    verify(thread)

    first = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective", quantity=1)
    again = call(thread, "initiate_return", order_number="A1001", item="Ceramic Mug", reason="defective", quantity=1)

    assert again == first
    assert Return.objects.count() == 1


def test_a_re_executed_run_with_new_call_ids_opens_no_second_return(thread, assistant, alice_order):
    verify(thread)
    run = Run.objects.create(
        thread=thread, assistant=assistant, model=assistant.model, server_tools=assistant.server_tools
    )
    ctx = ToolContext(thread=thread, run=run)
    arguments = json.dumps({"order_number": "A1001", "item": "MUG-1", "reason": "defective", "quantity": 1})
    calls = []
    for attempt in range(2):  # the model, asked again after a crash, writes new call ids
        step = RunStep.objects.create(run=run, type=RunStep.Type.TOOL_CALLS)
        calls.append(
            ToolCall.objects.create(
                step=step,
                index=0,
                call_id=f"call_attempt{attempt}",
                name="initiate_return",
                arguments=arguments,
                side=ToolCall.Side.SERVER,
            )
        )
        run_server_calls([calls[-1]], tools=registry.resolve(run.server_tools, ctx), ctx=ctx)

    first, second = (ToolCall.objects.get(pk=c.pk) for c in calls)
    assert first.status == second.status == ToolCall.Status.COMPLETED
    assert json.loads(second.output) == json.loads(first.output)
    assert Return.objects.count() == 1


def test_a_different_return_for_the_same_item_in_one_conversation_is_refused(thread, alice_order):
    verify(thread)
    call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective", quantity=1)

    result = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="not_needed", quantity=1)

    assert result == {
        "error": {
            "code": "return_already_opened",
            "message": "A return for Ceramic Mug on order A1001 was already opened in this conversation.",
        }
    }
    assert Return.objects.count() == 1


def test_a_refused_return_does_not_block_a_corrected_one(thread, alice_order):
    verify(thread)

    refused = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective", quantity=3)
    corrected = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective", quantity=2)

    assert refused == {
        "error": {
            "code": "return_not_allowed",
            "message": "Only 2 units of Ceramic Mug in order A1001 can still be returned.",
        }
    }
    assert corrected["quantity"] == 2
    assert Return.objects.get().quantity == 2


def test_a_closed_return_window_comes_back_as_the_error_message(thread, alice, mug):
    order = delivered_order(customer=alice, number="A3003", days_ago=40, items=[(1, mug)])
    verify(thread, "A3003")

    result = call(thread, "initiate_return", order_number="A3003", item="MUG-1", reason="not_needed")

    deadline = order.delivered_at + timedelta(days=30)
    message = f"The 30-day return window for Ceramic Mug closed on {deadline:%B} {deadline.day}, {deadline:%Y}."
    assert result == {"error": {"code": "return_not_allowed", "message": message}}
    assert not Return.objects.exists()


def test_a_final_sale_item_cannot_be_returned(thread, alice):
    clearance = ProductFactory(sku="SALE-1", name="Clearance Scarf", returnable=False)
    delivered_order(customer=alice, number="A4004", items=[(1, clearance)])
    verify(thread, "A4004")

    result = call(thread, "initiate_return", order_number="A4004", item="SALE-1", reason="not_needed")

    assert result == {
        "error": {"code": "return_not_allowed", "message": "Clearance Scarf cannot be returned (final sale)."}
    }
    assert not Return.objects.exists()


def test_an_order_not_yet_delivered_cannot_be_returned(thread, alice, mug):
    order = OrderFactory(number="A5005", customer=alice, status=Order.Status.SHIPPED)
    OrderItemFactory(order=order, product=mug, quantity=1)
    verify(thread, "A5005")

    result = call(thread, "initiate_return", order_number="A5005", item="MUG-1", reason="defective")

    assert result["error"] == {
        "code": "return_not_allowed",
        "message": "Order A5005 is shipped and has not been delivered yet; a return can be opened once it arrives.",
    }
    assert not Return.objects.exists()


def test_a_quantity_below_one_breaks_the_schema(thread, alice_order):
    verify(thread)

    result = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective", quantity=0)

    assert result == {"error": {"code": "invalid_arguments", "message": "quantity: 0 is less than the minimum of 1"}}
    assert not Return.objects.exists()


def test_a_reason_outside_the_list_breaks_the_schema(thread, alice_order):
    verify(thread)

    result = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="changed my mind")

    assert result["error"]["code"] == "invalid_arguments"
    assert result["error"]["message"].startswith("reason: 'changed my mind' is not one of")
    assert not Return.objects.exists()


# --- cancel_order -------------------------------------------------------------------------------


def test_a_verified_order_that_has_not_shipped_can_be_cancelled(thread, alice, mug):
    order = OrderFactory(number="A6006", customer=alice, status=Order.Status.PAID)
    OrderItemFactory(order=order, product=mug)
    verify(thread, "A6006")

    result = call(thread, "cancel_order", order_number="A6006")

    assert result == {"order_number": "A6006", "status": "cancelled", "status_label": "Cancelled"}
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_a_delivered_order_cannot_be_cancelled(thread, alice_order):
    verify(thread)

    result = call(thread, "cancel_order", order_number="A1001")

    assert result["error"]["code"] == "invalid_state"
    alice_order.refresh_from_db()
    assert alice_order.status == Order.Status.DELIVERED


# --- list_my_orders and request_callback: offered by context -----------------------------------

ALL_TOOLS = [
    "get_order_status",
    "track_shipment",
    "initiate_return",
    "list_my_orders",
    "escalate_to_human",
    "request_callback",
]


def test_list_my_orders_is_offered_only_to_a_signed_in_customer(thread, alice_thread):
    anonymous = registry.resolve(ALL_TOOLS, ToolContext(thread=thread))
    signed_in = registry.resolve(ALL_TOOLS, ToolContext(thread=alice_thread))

    assert "list_my_orders" not in anonymous
    assert "list_my_orders" in signed_in


def test_list_my_orders_lists_only_the_customers_own_orders(alice_thread, alice_order, mallory_order):
    result = call(alice_thread, "list_my_orders")

    assert result == {
        "orders": [
            {
                "order_number": "A1001",
                "status": "delivered",
                "placed_at": alice_order.placed_at.isoformat(),
                "total": "25.00",
                "currency": "USD",
            }
        ]
    }


def test_an_anonymous_thread_cannot_call_list_my_orders(thread, assistant, alice_order):
    run = Run.objects.create(thread=thread, assistant=assistant, model=assistant.model)
    step = RunStep.objects.create(run=run, type=RunStep.Type.TOOL_CALLS)
    tool_call = ToolCall.objects.create(
        step=step, index=0, call_id="call_1", name="list_my_orders", arguments="{}", side=ToolCall.Side.SERVER
    )
    ctx = ToolContext(thread=thread, run=run)

    run_server_calls([tool_call], tools=registry.resolve(assistant.server_tools, ctx), ctx=ctx)

    tool_call.refresh_from_db()
    assert tool_call.error_code == "unknown_tool"
    assert json.loads(tool_call.output) == {
        "error": {"code": "unknown_tool", "message": "There is no tool named 'list_my_orders'."}
    }


def test_request_callback_is_offered_only_to_premium_customers(thread, alice_thread, alice):
    assert "request_callback" not in registry.resolve(ALL_TOOLS, ToolContext(thread=thread))
    assert "request_callback" not in registry.resolve(ALL_TOOLS, ToolContext(thread=alice_thread))

    alice.tier = Customer.Tier.PREMIUM
    alice.save()
    premium_thread = Thread.objects.get(pk=alice_thread.pk)

    assert "request_callback" in registry.resolve(ALL_TOOLS, ToolContext(thread=premium_thread))
    # Only attached tools are offered, even to a premium customer.
    assert "request_callback" not in registry.resolve(["get_order_status"], ToolContext(thread=premium_thread))


def test_a_premium_callback_hands_the_thread_to_a_person(alice_thread, alice):
    alice.tier = Customer.Tier.PREMIUM
    alice.save()

    result = call(alice_thread, "request_callback", topic="A damaged parcel", preferred_time="after 5pm")

    assert result == {"callback_requested": True, "preferred_time": "after 5pm"}
    alice_thread.refresh_from_db()
    assert alice_thread.mode == Thread.Mode.WAITING_HUMAN


# --- escalate_to_human --------------------------------------------------------------------------


def subscribe(thread: Thread) -> GroupListener:
    return GroupListener(events.group_for(thread.public_id))


def receive(listener: GroupListener, timeout: float = 2.0) -> dict:
    events.flush()
    return listener.receive(timeout)


def test_escalating_marks_the_thread_waiting_for_a_human_and_tells_its_subscribers(thread):
    channel_name = subscribe(thread)

    result = call(thread, "escalate_to_human", reason="The customer asked for a person.", priority="high")

    assert result == {
        "escalated": True,
        "already_waiting": False,
        "priority": "high",
        "message": "A person from our support team will join this conversation shortly.",
    }
    thread.refresh_from_db()
    assert thread.mode == Thread.Mode.WAITING_HUMAN
    event = receive(channel_name)
    assert 0 < event.pop("seq") <= events.current_seq(thread.public_id)
    assert event == {
        "type": "thread.event",
        "event": "conversation.escalated",
        "data": {
            "thread_id": thread.public_id,
            "trigger": "model_tool",
            "reason": "The customer asked for a person.",
            "priority": "high",
        },
        "thread": thread.public_id,
    }


def test_escalating_twice_publishes_one_event(thread):
    channel_name = subscribe(thread)
    call(thread, "escalate_to_human", reason="Upset customer.")

    again = call(thread, "escalate_to_human", reason="Still upset.")

    assert again["already_waiting"] is True
    published = []
    with pytest.raises(TimeoutError):
        while True:
            published.append(receive(channel_name, timeout=0.3))
    escalated = [m for m in published if m["event"] == "conversation.escalated"]
    assert len(escalated) == 1 and escalated[0]["data"]["priority"] == "normal"


def test_an_unknown_priority_breaks_the_schema(thread):
    result = call(thread, "escalate_to_human", reason="Help", priority="asap")

    assert result["error"]["code"] == "invalid_arguments"
    thread.refresh_from_db()
    assert thread.mode == Thread.Mode.ASSISTANT


def test_the_refund_amount_is_the_price_paid_not_todays_price(thread, alice_order, mug):
    mug.price = Decimal("99.00")
    mug.save()
    verify(thread)

    result = call(thread, "initiate_return", order_number="A1001", item="MUG-1", reason="defective")

    assert result["refund_amount"] == "12.50"
    assert Return.objects.get().refund_amount == Decimal("12.50")
