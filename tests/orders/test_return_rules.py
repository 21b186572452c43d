"""The rules for opening a return, through orders.services and through POST /api/returns/."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from common.actors import Actor
from common.errors import NotFound
from orders import services
from orders.errors import ReturnNotAllowed
from orders.models import Order, OrderEvent, Return
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, ReturnFactory, delivered_order

pytestmark = pytest.mark.django_db


def request_return(customer, order, *, quantity=1, item=None, reason="defective"):
    return services.return_request(
        actor=Actor.customer(customer.pk),
        order_number=order.number,
        item=item if item is not None else order.items.first().pk,
        reason=reason,
        quantity=quantity,
        channel=Return.Channel.API,
    )


def refused_message(customer, order, **kwargs) -> str:
    with pytest.raises(ReturnNotAllowed) as refused:
        request_return(customer, order, **kwargs)
    return refused.value.message


def test_a_customer_can_return_an_item_of_a_delivered_order(alice, alice_order):
    created = request_return(alice, alice_order, quantity=2, reason="not_needed")

    row = Return.objects.get()
    assert row.pk == created.pk
    assert (row.order, row.item, row.quantity, row.reason) == (alice_order, alice_order.items.get(), 2, "not_needed")
    assert row.status == Return.Status.REQUESTED
    assert row.refund_amount == Decimal("25.00")
    assert row.currency == "USD"
    event = OrderEvent.objects.get(order=alice_order)
    assert event.kind == "return_requested"
    assert event.actor == f"customer:{alice.pk}"
    assert event.data == {"return_id": row.pk, "sku": "MUG-1", "quantity": 2, "reason": "not_needed"}


def test_an_item_can_be_named_by_its_sku(alice, alice_order):
    request_return(alice, alice_order, item="mug-1")

    assert Return.objects.get().item == alice_order.items.get()


def test_a_return_after_the_window_closed_is_refused_with_the_closing_date(alice):
    order = delivered_order(customer=alice, days_ago=31)
    deadline = order.delivered_at + timedelta(days=30)

    message = refused_message(alice, order)

    item_name = order.items.get().name
    assert message == (
        f"The 30-day return window for {item_name} closed on {deadline:%B} {deadline.day}, {deadline:%Y}."
    )
    assert not Return.objects.exists()


def test_each_product_has_its_own_return_window(alice):
    long_window = ProductFactory(return_window_days=60)
    order = delivered_order(customer=alice, days_ago=45, items=[(1, long_window)])

    request_return(alice, order)

    assert Return.objects.filter(order=order).count() == 1


def test_the_last_moment_of_the_window_is_still_inside_it(alice_order):
    item = alice_order.items.get()
    deadline = alice_order.delivered_at + timedelta(days=30)

    services.check_return_allowed(order=alice_order, item=item, quantity=1, now=deadline)
    with pytest.raises(ReturnNotAllowed, match="return window"):
        services.check_return_allowed(order=alice_order, item=item, quantity=1, now=deadline + timedelta(seconds=1))


def test_a_final_sale_product_cannot_be_returned(alice):
    final_sale = ProductFactory(name="Clearance Scarf", returnable=False)
    order = delivered_order(customer=alice, items=[(1, final_sale)])

    assert refused_message(alice, order) == "Clearance Scarf cannot be returned (final sale)."
    assert not Return.objects.exists()


def test_no_more_units_than_were_ordered_can_be_returned(alice, alice_order):
    message = refused_message(alice, alice_order, quantity=3)

    assert message == "Only 2 units of Ceramic Mug in order A1001 can still be returned."
    assert not Return.objects.exists()


def test_a_return_of_zero_units_is_refused(alice, alice_order):
    assert refused_message(alice, alice_order, quantity=0) == "The quantity to return must be at least 1."


def test_earlier_returns_use_up_units(alice, alice_order):
    request_return(alice, alice_order, quantity=1)

    message = refused_message(alice, alice_order, quantity=2)

    assert message == "Only 1 unit of Ceramic Mug in order A1001 can still be returned."
    assert Return.objects.count() == 1


@pytest.mark.parametrize("status", [Return.Status.APPROVED, Return.Status.RECEIVED, Return.Status.REFUNDED])
def test_returns_past_the_request_still_hold_their_units(alice, alice_order, status):
    ReturnFactory(item=alice_order.items.get(), quantity=2, status=status)

    message = refused_message(alice, alice_order)

    assert message == "All units of Ceramic Mug in order A1001 already have a return."
    assert Return.objects.count() == 1


def test_a_rejected_return_frees_its_units(alice, alice_order):
    ReturnFactory(item=alice_order.items.get(), quantity=2, status=Return.Status.REJECTED)

    request_return(alice, alice_order, quantity=2)

    assert Return.objects.filter(status=Return.Status.REQUESTED, quantity=2).count() == 1


@pytest.mark.parametrize(
    "status", [Order.Status.PLACED, Order.Status.PAID, Order.Status.FULFILLED, Order.Status.SHIPPED]
)
def test_an_order_that_has_not_arrived_takes_no_returns(alice, status):
    order = OrderFactory(customer=alice, number="A2002", status=status)
    OrderItemFactory(order=order)

    message = refused_message(alice, order)

    assert message.startswith(f"Order A2002 is {status.label.lower()} and has not been delivered yet")
    assert not Return.objects.exists()


def test_a_cancelled_order_takes_no_returns(alice):
    order = OrderFactory(customer=alice, number="A2003", status=Order.Status.CANCELLED)
    OrderItemFactory(order=order)

    assert refused_message(alice, order) == "Order A2003 was cancelled, so there is nothing to return."


def test_a_reason_outside_the_list_is_refused(alice, alice_order):
    with pytest.raises(ReturnNotAllowed) as refused:
        request_return(alice, alice_order, reason="changed_mind")

    assert refused.value.code == "invalid_reason"
    assert "defective, wrong_item, not_needed, other" in refused.value.message


def test_an_item_of_another_order_reads_as_not_part_of_this_one(alice, alice_order):
    other = delivered_order(customer=alice, number="A3003")
    other_item = other.items.get()

    with pytest.raises(NotFound, match="Order A1001 has no item"):
        request_return(alice, alice_order, item=other_item.pk)
    assert not Return.objects.exists()


def test_a_refused_return_writes_nothing(alice, alice_order):
    refused_message(alice, alice_order, quantity=5)

    assert not Return.objects.exists()
    assert not OrderEvent.objects.exists()


def test_mallory_cannot_open_a_return_on_alices_order(mallory, alice_order):
    with pytest.raises(NotFound, match=r"No order A1001 was found\."):
        request_return(mallory, alice_order)
    assert not Return.objects.exists()


def test_a_refused_return_reaches_the_api_caller_as_422_with_the_reason(alice_client, alice_order):
    body = {"order": "A1001", "item": "MUG-1", "reason": "defective", "quantity": 3}

    response = alice_client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="too-many")

    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "return_not_allowed",
            "message": "Only 2 units of Ceramic Mug in order A1001 can still be returned.",
            "param": None,
        }
    }
    assert not Return.objects.exists()


def test_an_accepted_return_is_answered_201_with_the_return(alice_client, alice_order):
    item = alice_order.items.get()
    body = {"order": "#a1001", "item": str(item.pk), "reason": "wrong_item", "note": "Blue, not red."}

    response = alice_client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="first")

    assert response.status_code == 201, response.json()
    row = Return.objects.get()
    data = response.json()
    assert data["id"] == row.pk
    assert (data["order"], data["item"], data["item_name"]) == ("A1001", item.pk, "Ceramic Mug")
    assert (data["quantity"], data["reason"], data["note"]) == (1, "wrong_item", "Blue, not red.")
    assert (data["status"], data["refund_amount"], data["channel"]) == ("requested", "12.50", "api")
    assert row.channel == Return.Channel.API
    assert row.note == "Blue, not red."


def test_the_return_window_is_measured_from_delivery_not_from_now(alice):
    order = delivered_order(customer=alice, days_ago=29)
    order.delivered_at = timezone.now() - timedelta(days=29, hours=23)
    order.save(update_fields=["delivered_at"])

    request_return(alice, order)

    assert Return.objects.filter(order=order).exists()
