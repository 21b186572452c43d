"""Cancelling an order: only while it is placed or paid, by its customer, the shop or staff."""

from __future__ import annotations

import pytest

from common.actors import Actor
from common.errors import InvalidState
from orders import services
from orders.models import Order, OrderEvent
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed_order(alice):
    return OrderFactory(customer=alice, number="A4004", status=Order.Status.PLACED)


@pytest.mark.parametrize("status", [Order.Status.PLACED, Order.Status.PAID])
def test_a_customer_cancels_their_own_order_before_it_ships(alice, alice_client, placed_order, status):
    Order.objects.filter(pk=placed_order.pk).update(status=status)

    response = alice_client.post("/api/orders/A4004/cancel/", {"reason": "Ordered twice."}, format="json")

    assert response.status_code == 200
    assert response.json()["number"] == "A4004"
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_at"] is not None
    placed_order.refresh_from_db()
    assert placed_order.status == Order.Status.CANCELLED
    assert placed_order.cancelled_at is not None
    event = OrderEvent.objects.get(order=placed_order)
    assert (event.kind, event.actor, event.data) == (
        "order_cancelled",
        f"customer:{alice.pk}",
        {"reason": "Ordered twice."},
    )


@pytest.mark.parametrize(
    "status", [Order.Status.FULFILLED, Order.Status.SHIPPED, Order.Status.DELIVERED, Order.Status.CANCELLED]
)
def test_an_order_past_payment_cannot_be_cancelled(alice_client, placed_order, status):
    Order.objects.filter(pk=placed_order.pk).update(status=status)

    response = alice_client.post("/api/orders/A4004/cancel/", {}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "type": "conflict_error",
            "code": "invalid_state",
            "message": f"Order A4004 is already {status.label.lower()} and can no longer be cancelled.",
            "param": None,
        }
    }
    placed_order.refresh_from_db()
    assert placed_order.status == status
    assert placed_order.cancelled_at is None
    assert not OrderEvent.objects.exists()


def test_mallory_cannot_cancel_alices_order(mallory_client, placed_order):
    response = mallory_client.post("/api/orders/A4004/cancel/", {}, format="json")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "not_found_error",
        "code": "not_found",
        "message": "No order A4004 was found.",
        "param": None,
    }
    placed_order.refresh_from_db()
    assert placed_order.status == Order.Status.PLACED
    assert not OrderEvent.objects.exists()


def test_the_shop_can_cancel_any_customers_order(shop_client, placed_order):
    response = shop_client.post("/api/orders/A4004/cancel/", {}, format="json")

    assert response.status_code == 200
    placed_order.refresh_from_db()
    assert placed_order.status == Order.Status.CANCELLED
    assert OrderEvent.objects.get().actor.startswith("shop:key:ck_")


def test_staff_can_cancel_an_order_from_the_console(staff_client, placed_order):
    response = staff_client.post("/api/orders/a4004/cancel/", {}, format="json")

    assert response.status_code == 200
    placed_order.refresh_from_db()
    assert placed_order.status == Order.Status.CANCELLED
    assert OrderEvent.objects.get().actor == "staff:agent"


def test_cancelling_twice_is_refused_the_second_time(alice, placed_order):
    actor = Actor.customer(alice.pk)
    services.order_cancel(actor=actor, order_number="A4004")

    with pytest.raises(InvalidState, match="already cancelled"):
        services.order_cancel(actor=actor, order_number="A4004")
    assert OrderEvent.objects.filter(kind="order_cancelled").count() == 1
