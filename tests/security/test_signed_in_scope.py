"""A thread bound to a signed-in customer reaches that customer's orders only.

Proving an order by its email is for anonymous visitors. Signed in as Mallory, typing Alice's
email must not show, track, return or cancel Alice's order — through each tool, and through a
whole conversation on the customer's websocket as the attack was first made.
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from orders.models import Order, OrderEvent, Return, VerifiedOrder
from runtime.models import Thread
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.executor import run_tool
from tests.factories import OrderFactory, OrderItemFactory
from tests.widget.test_chat_consumer import connect, new_session, receive_until
from widget import sessions

pytestmark = pytest.mark.django_db(transaction=True)


def call(thread: Thread, name: str, **arguments) -> dict:
    result, _error_code = run_tool(registry.get(name), ToolContext(thread=thread), name, json.dumps(arguments))
    return result


@pytest.fixture
def mallory_thread(assistant, mallory):
    return Thread.objects.create(assistant=assistant, customer=mallory)


@pytest.fixture
def alice_open_order(alice, mug):
    """A1005: Alice's order, paid and not yet shipped (so it could be cancelled)."""
    order = OrderFactory(customer=alice, number="A1005", status=Order.Status.PAID)
    OrderItemFactory(order=order, product=mug, quantity=1)
    return order


def test_another_customers_email_does_not_prove_their_order_to_a_signed_in_customer(mallory_thread, alice_order):
    result = call(mallory_thread, "get_order_status", order_number="A1001", email="alice@example.com")

    assert result["found"] is False
    assert result["error"]["code"] == "not_found"
    assert "Ceramic Mug" not in json.dumps(result)
    assert not VerifiedOrder.objects.filter(thread=mallory_thread).exists()


def test_a_signed_in_customers_own_order_needs_no_email(mallory_thread, mallory_order):
    assert call(mallory_thread, "get_order_status", order_number="M2001")["found"] is True


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("track_shipment", {"order_number": "A1005"}),
        ("cancel_order", {"order_number": "A1005"}),
        ("initiate_return", {"order_number": "A1005", "item": "MUG-1", "reason": "not_needed"}),
    ],
)
def test_no_order_tool_acts_on_another_customers_order_after_an_email_attempt(
    mallory_thread, alice_open_order, tool, arguments
):
    call(mallory_thread, "get_order_status", order_number="A1005", email="alice@example.com")

    result = call(mallory_thread, tool, **arguments)

    assert result["error"]["code"] == "not_verified", result
    alice_open_order.refresh_from_db()
    assert alice_open_order.status == Order.Status.PAID
    assert not OrderEvent.objects.filter(order=alice_open_order).exists()
    assert not Return.objects.filter(order=alice_open_order).exists()


def test_an_order_verified_before_does_not_open_another_customers_order_to_a_signed_in_thread(
    mallory_thread, alice_open_order
):
    """Even a verified-orders row for someone else's order (written by older code) grants nothing."""
    VerifiedOrder.objects.create(thread=mallory_thread, order=alice_open_order)

    result = call(mallory_thread, "cancel_order", order_number="A1005")

    assert result["error"]["code"] == "not_verified"
    alice_open_order.refresh_from_db()
    assert alice_open_order.status == Order.Status.PAID


def test_an_anonymous_visitor_still_proves_an_order_with_its_email(assistant, alice_open_order):
    anonymous = Thread.objects.create(assistant=assistant)

    assert call(anonymous, "get_order_status", order_number="A1005", email="alice@example.com")["found"] is True
    assert call(anonymous, "cancel_order", order_number="A1005")["status"] == "cancelled"


async def test_the_attack_as_made_signed_in_as_mallory_typing_alices_email_then_cancel(
    chat_ready, mallory, alice_open_order
):
    session = await database_sync_to_async(new_session)(
        email=mallory.email, signature=sessions.identity_signature(mallory.email)
    )
    comm, connected, _ = await connect(session["ticket"])
    assert connected
    await comm.receive_json_from()  # hello
    answers = []
    for n, text in enumerate(["Where is my order A1005? My email is alice@example.com", "cancel it", "yes"]):
        await comm.send_json_to({"type": "message", "text": text, "client_id": f"c{n}"})
        seen = await receive_until(comm, lambda m: m.get("type") == "run" and m["state"] in ("done", "failed"))
        answers += [
            m["message"]["text"] for m in seen if m["type"] == "message" and m["message"]["role"] == "assistant"
        ]
    await comm.disconnect()

    everything = " ".join(answers)
    assert "Ceramic Mug" not in everything and "Paid" not in everything
    order = await database_sync_to_async(Order.objects.get)(pk=alice_open_order.pk)
    assert order.status == Order.Status.PAID
    assert not await database_sync_to_async(OrderEvent.objects.filter(order=alice_open_order).exists)()
