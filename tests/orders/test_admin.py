from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common.actors import Actor
from orders import services
from orders.models import (
    Customer,
    IdempotencyKey,
    Order,
    OrderEvent,
    OrderItem,
    Product,
    Return,
    Shipment,
    TrackingEvent,
)
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    ReturnFactory,
    ShipmentFactory,
    TrackingEventFactory,
    delivered_order,
)

pytestmark = pytest.mark.django_db

MODELS = [Customer, Product, Order, OrderItem, Shipment, TrackingEvent, Return, OrderEvent, IdempotencyKey]


def changelist(model) -> str:
    return reverse(f"admin:orders_{model._meta.model_name}_changelist")


def change_page(obj) -> str:
    return reverse(f"admin:orders_{obj._meta.model_name}_change", args=[obj.pk])


def run_action(client, model, action: str, *objects):
    body = {"action": action, "_selected_action": [obj.pk for obj in objects]}
    return client.post(changelist(model), body, follow=True)


def shown_messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def request_return(order: Order) -> Return:
    return services.return_request(
        actor=Actor.customer(order.customer_id),
        order_number=order.number,
        item=order.items.first().pk,
        reason="defective",
        channel=Return.Channel.API,
    )


@pytest.fixture
def one_of_each(alice_order):
    """A row of every model, the return and its audit event made through the services."""
    shipment = ShipmentFactory(order=alice_order)
    ret = request_return(alice_order)
    key = IdempotencyKey.objects.create(
        scope="returns:customer:1", key="k1", request_fingerprint="f" * 64, response_status=201, response_body={}
    )
    return {
        Customer: alice_order.customer,
        Product: alice_order.items.get().product,
        Order: alice_order,
        OrderItem: alice_order.items.get(),
        Shipment: shipment,
        TrackingEvent: TrackingEventFactory(shipment=shipment),
        Return: ret,
        OrderEvent: alice_order.events.get(),
        IdempotencyKey: key,
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_it_shows_the_changelist_search_and_change_page_of_every_model(admin_client, one_of_each, model):
    listing = admin_client.get(changelist(model))
    searched = admin_client.get(changelist(model), {"q": "A1001"})
    detail = admin_client.get(change_page(one_of_each[model]))

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert searched.status_code == 200
    assert detail.status_code == 200


def test_it_shows_an_orders_items_shipments_returns_and_audit_trail_on_its_page(admin_client, one_of_each):
    page = admin_client.get(change_page(one_of_each[Order])).content.decode()

    assert one_of_each[OrderItem].name in page
    assert one_of_each[Shipment].tracking_number in page
    assert f"Return #{one_of_each[Return].pk}" in page
    assert "return_requested" in page


def test_it_approves_a_requested_return_through_the_services(admin_client, alice_order):
    ret = request_return(alice_order)

    response = run_action(admin_client, Return, "approve_returns", ret)

    ret.refresh_from_db()
    assert ret.status == Return.Status.APPROVED
    assert ret.decided_at is not None
    event = alice_order.events.get(kind="return_approved")
    assert event.actor == "staff:admin"
    assert event.data["return_id"] == ret.pk
    assert shown_messages(response) == [("success", "Approved 1 return.")]


def test_it_walks_a_return_through_receipt_and_refund(admin_client, alice_order):
    ret = request_return(alice_order)

    for action in ["approve_returns", "mark_returns_received", "refund_returns"]:
        run_action(admin_client, Return, action, ret)

    ret.refresh_from_db()
    assert ret.status == Return.Status.REFUNDED
    kinds = list(alice_order.events.values_list("kind", flat=True))
    assert kinds == ["return_requested", "return_approved", "return_received", "return_refunded"]


def test_it_reports_a_return_in_the_wrong_state_and_changes_nothing(admin_client, alice_order):
    refunded = ReturnFactory(item=alice_order.items.get(), status=Return.Status.REFUNDED)

    response = run_action(admin_client, Return, "approve_returns", refunded)

    refunded.refresh_from_db()
    assert refunded.status == Return.Status.REFUNDED
    assert refunded.decided_at is None
    assert not OrderEvent.objects.exists()
    assert shown_messages(response) == [("error", f"Return #{refunded.pk} is refunded, so it cannot be approved.")]


def test_it_rejects_the_requested_returns_of_a_selection_and_reports_the_others(admin_client, alice_order):
    requested = request_return(alice_order)
    refunded = ReturnFactory(status=Return.Status.REFUNDED)

    response = run_action(admin_client, Return, "reject_returns", requested, refunded)

    assert Return.objects.get(pk=requested.pk).status == Return.Status.REJECTED
    assert Return.objects.get(pk=refunded.pk).status == Return.Status.REFUNDED
    assert shown_messages(response) == [
        ("error", f"Return #{refunded.pk} is refunded, so it cannot be rejected."),
        ("success", "Rejected 1 return."),
    ]


def test_it_never_changes_a_returns_status_from_the_change_form(admin_client, alice_order):
    ret = request_return(alice_order)

    form = admin_client.get(change_page(ret)).content.decode()
    admin_client.post(change_page(ret), {"status": Return.Status.REFUNDED, "quantity": 2})

    assert 'name="status"' not in form
    ret.refresh_from_db()
    assert (ret.status, ret.quantity) == (Return.Status.REQUESTED, 1)


def test_it_cancels_a_placed_order_and_refuses_a_delivered_one(admin_client, alice, alice_order):
    placed = OrderFactory(customer=alice, number="A2000")

    response = run_action(admin_client, Order, "cancel_orders", placed, alice_order)

    placed.refresh_from_db()
    alice_order.refresh_from_db()
    assert placed.status == Order.Status.CANCELLED
    assert placed.events.get().kind == "order_cancelled"
    assert alice_order.status == Order.Status.DELIVERED
    assert not alice_order.events.exists()
    assert shown_messages(response) == [
        ("error", "Order A1001 is already delivered and can no longer be cancelled."),
        ("success", "Cancelled 1 order."),
    ]


def test_it_keeps_the_audit_trail_read_only(admin_client, one_of_each):
    event = one_of_each[OrderEvent]

    admin_client.post(change_page(event), {"kind": "tampered", "actor": "staff:someone"})
    delete = admin_client.post(reverse("admin:orders_orderevent_delete", args=[event.pk]), {"post": "yes"})

    event.refresh_from_db()
    assert (event.kind, event.actor) == ("return_requested", f"customer:{one_of_each[Customer].pk}")
    assert delete.status_code == 403


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_it_lists_rows_without_a_query_per_row(admin_client, one_of_each, model):
    few = count_queries(admin_client, changelist(model))
    for n in range(3):
        order = delivered_order(customer=CustomerFactory(), number=f"B{n}")
        TrackingEventFactory(shipment=ShipmentFactory(order=order))
        request_return(order)
        IdempotencyKey.objects.create(
            scope="s", key=f"k{n}", request_fingerprint="f", response_status=201, response_body={}
        )

    assert count_queries(admin_client, changelist(model)) == few


def test_it_shows_an_order_page_without_a_query_per_inline_row(admin_client, alice):
    def order_page(number: str, items: int) -> str:
        order = delivered_order(customer=alice, number=number, items=[(1, None)] * items)
        for _ in range(items):
            TrackingEventFactory(shipment=ShipmentFactory(order=order))
        for item in order.items.all():
            services.return_request(
                actor=Actor.customer(alice.pk), order_number=number, item=item.pk, reason="other", channel="api"
            )
        return change_page(order)

    small, large = order_page("C1", items=1), order_page("C2", items=3)

    assert count_queries(admin_client, large) == count_queries(admin_client, small)
