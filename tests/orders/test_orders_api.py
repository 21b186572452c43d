"""GET /api/orders/, /api/orders/<number>/ and /api/returns/: what the caller reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order, Shipment
from tests.factories import OrderFactory, ReturnFactory, ShipmentFactory, TrackingEventFactory, delivered_order

pytestmark = pytest.mark.django_db


def test_the_list_is_newest_first_and_pages_by_twenty(alice_client, alice):
    now = timezone.now()
    for n in range(25):
        OrderFactory(customer=alice, number=f"A{1100 + n}", placed_at=now - timedelta(days=25 - n))

    first = alice_client.get("/api/orders/")
    second = alice_client.get(first.json()["next"])

    assert first.status_code == 200
    assert first.json()["count"] == 25
    assert [order["number"] for order in first.json()["results"]] == [f"A{1100 + n}" for n in range(24, 4, -1)]
    assert first.json()["previous"] is None
    assert [order["number"] for order in second.json()["results"]] == [f"A{1100 + n}" for n in range(4, -1, -1)]
    assert second.json()["next"] is None


def test_an_order_in_the_list_is_a_summary(alice_client, alice_order):
    response = alice_client.get("/api/orders/")

    (summary,) = response.json()["results"]
    assert set(summary) == {"number", "status", "currency", "total", "customer_email", "placed_at", "updated_at"}
    assert (summary["number"], summary["status"], summary["total"]) == ("A1001", "delivered", "25.00")
    assert summary["customer_email"] == "alice@example.com"


def test_the_list_filters_by_status(alice_client, alice, alice_order):
    OrderFactory(customer=alice, number="A2001", status=Order.Status.SHIPPED)
    OrderFactory(customer=alice, number="A2002", status=Order.Status.SHIPPED)

    shipped = alice_client.get("/api/orders/", {"status": "shipped"})
    delivered = alice_client.get("/api/orders/", {"status": "delivered"})

    assert sorted(order["number"] for order in shipped.json()["results"]) == ["A2001", "A2002"]
    assert [order["number"] for order in delivered.json()["results"]] == ["A1001"]


def test_the_detail_holds_items_shipments_with_their_events_and_returns(alice_client, alice_order):
    shipment = ShipmentFactory(
        order=alice_order, carrier="UPS", tracking_number="1Z0001", status=Shipment.Status.DELIVERED
    )
    now = timezone.now()
    TrackingEventFactory(shipment=shipment, occurred_at=now - timedelta(days=4), description="Picked up")
    TrackingEventFactory(
        shipment=shipment,
        occurred_at=now - timedelta(days=3),
        status=Shipment.Status.DELIVERED,
        description="Delivered",
    )
    item = alice_order.items.get()
    ret = ReturnFactory(item=item, quantity=1, note="Chipped.")

    response = alice_client.get("/api/orders/A1001/")

    assert response.status_code == 200
    data = response.json()
    assert (data["number"], data["status"], data["subtotal"], data["total"]) == ("A1001", "delivered", "25.00", "25.00")
    assert data["delivered_at"] is not None
    assert data["items"] == [
        {
            "id": item.pk,
            "sku": "MUG-1",
            "name": "Ceramic Mug",
            "quantity": 2,
            "unit_price": "12.50",
            "returnable": True,
            "return_window_days": 30,
        }
    ]
    (shipped,) = data["shipments"]
    assert (shipped["carrier"], shipped["tracking_number"], shipped["status"]) == ("UPS", "1Z0001", "delivered")
    assert [event["description"] for event in shipped["events"]] == ["Picked up", "Delivered"]
    assert shipped["events"][0]["location"] == "Memphis, TN"
    (returned,) = data["returns"]
    assert (returned["id"], returned["item"], returned["quantity"], returned["note"]) == (
        ret.pk,
        item.pk,
        1,
        "Chipped.",
    )
    assert returned["status"] == "requested"


def test_an_order_number_is_found_however_the_customer_types_it(alice_client, alice_order):
    response = alice_client.get("/api/orders/%23a1001/")

    assert response.status_code == 200
    assert response.json()["number"] == "A1001"


def test_an_order_without_shipments_or_returns_shows_empty_lists(alice_client, alice):
    OrderFactory(customer=alice, number="A3001")

    data = alice_client.get("/api/orders/A3001/").json()

    assert (data["shipments"], data["returns"], data["items"]) == ([], [], [])
    assert data["status"] == "placed"


def test_the_return_list_holds_the_callers_returns_newest_first(alice_client, alice, alice_order):
    other_order = delivered_order(customer=alice, number="A1002")
    older = ReturnFactory(item=alice_order.items.get(), created_at=timezone.now() - timedelta(days=1))
    newer = ReturnFactory(item=other_order.items.get())

    response = alice_client.get("/api/returns/")

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [ret["id"] for ret in response.json()["results"]] == [newer.pk, older.pk]
    assert [ret["order"] for ret in response.json()["results"]] == ["A1002", "A1001"]


def test_the_return_list_filters_by_status(shop_client, alice_order):
    item = alice_order.items.get()
    ReturnFactory(item=item, status="rejected")
    approved = ReturnFactory(item=item, status="approved")

    response = shop_client.get("/api/returns/", {"status": "approved"})

    assert [ret["id"] for ret in response.json()["results"]] == [approved.pk]


def test_a_return_reads_the_same_in_the_list_and_on_its_own(alice_client, alice_order):
    ret = ReturnFactory(item=alice_order.items.get())

    listed = alice_client.get("/api/returns/").json()["results"][0]
    alone = alice_client.get(f"/api/returns/{ret.pk}/").json()

    assert listed == alone
    assert (alone["order"], alone["item_name"], alone["refund_amount"]) == ("A1001", "Ceramic Mug", "12.50")
