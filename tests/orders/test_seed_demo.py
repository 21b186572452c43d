from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from common.actors import Actor
from orders import demo_data, services
from orders.models import (
    Customer,
    Order,
    OrderEvent,
    OrderItem,
    Product,
    Return,
    Shipment,
    TrackingEvent,
)

pytestmark = pytest.mark.django_db

DUMPED = {
    Customer: ["email", "name", "tier", "external_id", "created_at"],
    Product: ["sku", "name", "price", "returnable", "return_window_days"],
    Order: [
        *("number", "customer_id", "status", "subtotal", "shipping_total", "tax_total", "total"),
        *("placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at", "updated_at"),
    ],
    OrderItem: ["order_id", "product_id", "sku", "name", "quantity", "unit_price"],
    Shipment: ["order_id", "carrier", "tracking_number", "status", "shipped_at", "estimated_delivery", "delivered_at"],
    TrackingEvent: ["shipment_id", "occurred_at", "status", "location", "description"],
    Return: ["order_id", "item_id", "quantity", "status", "refund_amount", "created_at", "decided_at", "refunded_at"],
    OrderEvent: ["order_id", "kind", "actor", "data", "created_at"],
}


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def dump() -> dict[str, list[tuple]]:
    rows = {
        model.__name__: list(model.objects.order_by("pk").values_list("pk", *fields))
        for model, fields in DUMPED.items()
    }
    users = get_user_model().objects.order_by("pk")
    rows["users"] = list(users.values_list("pk", "username", "password", "is_staff", "is_superuser"))
    rows["groups"] = [(u.username, sorted(g.name for g in u.groups.all())) for u in users]
    return rows


@pytest.fixture
def seeded():
    seed()


def test_it_changes_nothing_when_run_a_second_time():
    seed()
    before = dump()

    second_output = seed()

    assert dump() == before
    assert re.search(r"^\s*orders\s+0 / 200$", second_output, re.MULTILINE)


def test_it_creates_at_least_the_promised_amount_of_data(seeded):
    assert Customer.objects.count() >= 20
    assert Customer.objects.exclude(external_id=None).exists()
    assert Customer.objects.filter(tier=Customer.Tier.PREMIUM).count() >= 2
    assert Product.objects.count() >= 50
    assert Product.objects.filter(returnable=False).exists()
    assert set(Product.objects.values_list("return_window_days", flat=True)) >= {14, 30, 60}
    numbers = set(Order.objects.values_list("number", flat=True))
    assert numbers == {f"A{n}" for n in range(1001, 1201)}


def test_it_covers_every_order_and_return_status(seeded):
    assert set(Order.objects.values_list("status", flat=True)) == set(Order.Status.values)
    assert set(Return.objects.values_list("status", flat=True)) == set(Return.Status.values)


def test_it_gives_every_order_consistent_items_and_totals(seeded):
    item_counts = Counter(OrderItem.objects.values_list("order_id", flat=True))
    for order in Order.objects.prefetch_related("items"):
        assert 1 <= item_counts[order.pk] <= 4, order.number
        assert order.subtotal == sum(item.line_total for item in order.items.all()), order.number
        assert order.total == order.subtotal + order.shipping_total + order.tax_total, order.number


def test_it_keeps_every_timestamp_in_the_past_and_consistent_with_the_status(seeded):
    now = timezone.now()
    for order in Order.objects.all():
        steps = [t for t in (order.placed_at, order.paid_at, order.shipped_at, order.delivered_at) if t]
        assert steps == sorted(steps) and steps[-1] <= now, order.number
        assert (order.delivered_at is not None) == (order.status == Order.Status.DELIVERED), order.number
        assert (order.cancelled_at is not None) == (order.status == Order.Status.CANCELLED), order.number
        shipped = order.status in (Order.Status.SHIPPED, Order.Status.DELIVERED)
        assert (order.shipped_at is not None) == shipped, order.number


def test_it_ships_only_shipped_and_delivered_orders_with_two_to_six_tracking_events(seeded):
    shipped = Order.objects.filter(status__in=[Order.Status.SHIPPED, Order.Status.DELIVERED])
    assert set(Shipment.objects.values_list("order_id", flat=True)) == set(shipped.values_list("pk", flat=True))
    assert set(Shipment.objects.values_list("carrier", flat=True)) == {"UPS", "FedEx", "USPS", "DHL"}
    event_counts = Counter(TrackingEvent.objects.values_list("shipment_id", flat=True))
    for shipment in Shipment.objects.all():
        assert 2 <= event_counts[shipment.pk] <= 6, shipment.tracking_number
        assert shipment.estimated_delivery is not None


def test_it_opens_returns_only_as_the_rules_allow(seeded):
    for ret in Return.objects.select_related("order", "item__product"):
        assert ret.order.status == Order.Status.DELIVERED
        assert ret.item.order_id == ret.order_id
        assert ret.item.product.returnable
        assert 1 <= ret.quantity <= ret.item.quantity
        assert ret.order.delivered_at < ret.created_at <= ret.item.return_deadline()
        assert ret.channel in (Return.Channel.ADMIN, Return.Channel.API)


def test_it_makes_a1001_alices_delivered_order_with_an_item_she_can_still_return(seeded):
    order = Order.objects.select_related("customer").get(number="A1001")
    assert order.customer.email == "alice@example.com"
    assert order.customer.name == "Alice Martin"
    assert order.status == Order.Status.DELIVERED
    assert timezone.now() - order.delivered_at < timedelta(days=4)

    opened = services.return_request(
        actor=Actor.customer(order.customer.pk),
        order_number="A1001",
        item="KIT-102",
        reason="not_needed",
        channel=Return.Channel.API,
    )

    assert opened.status == Return.Status.REQUESTED


def test_it_makes_a1002_bobs_order_in_transit(seeded):
    order = Order.objects.select_related("customer").get(number="A1002")
    assert (order.customer.email, order.customer.name) == ("bob@example.com", "Bob Chen")
    assert order.status == Order.Status.SHIPPED
    assert order.latest_shipment.status == Shipment.Status.IN_TRANSIT


def test_it_creates_staff_logins_that_work_with_their_passwords(seeded):
    for username, password in [("admin", "admin-demo-pass"), ("agent", "agent-demo-pass")]:
        client = Client()
        assert client.login(username=username, password=password), username
        assert client.get("/admin/orders/order/").status_code == 200
    supervisor = get_user_model().objects.get(username="supervisor")
    assert supervisor.check_password("supervisor-demo-pass")
    assert get_user_model().objects.get(username="admin").is_superuser


def test_it_gives_agents_view_and_change_and_supervisors_every_orders_permission(seeded):
    agent = get_user_model().objects.get(username="agent")
    supervisor = get_user_model().objects.get(username="supervisor")
    assert [g.name for g in agent.groups.all()] == ["Agents"]
    assert agent.has_perms(["orders.view_order", "orders.change_return"])
    assert not agent.has_perm("orders.delete_order")
    assert [g.name for g in supervisor.groups.all()] == ["Supervisors"]
    assert supervisor.has_perms(["orders.add_return", "orders.delete_order", "orders.view_orderevent"])


def test_it_never_resets_a_password_that_was_changed(seeded):
    agent = get_user_model().objects.get(username="agent")
    agent.set_password("a-new-secret")
    agent.save()

    seed()

    agent.refresh_from_db()
    assert agent.check_password("a-new-secret")


def test_it_prints_the_demo_logins_and_orders():
    output = seed()

    assert "admin-demo-pass" in output
    assert "agent-demo-pass" in output
    assert "supervisor-demo-pass" in output
    assert "A1001" in output and "alice@example.com" in output
    assert "A1002" in output and "bob@example.com" in output


def test_it_generates_the_same_records_all_day_and_different_dates_on_another_day():
    today = timezone.now().date()

    assert demo_data.build(today) == demo_data.build(today)
    tomorrow = demo_data.build(today + timedelta(days=1))
    assert tomorrow.orders[0].delivered_at - demo_data.build(today).orders[0].delivered_at == timedelta(days=1)
