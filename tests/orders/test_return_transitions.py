"""Staff decisions on a return: requested → approved/rejected, approved → received, received → refunded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.actors import Actor
from common.errors import InvalidState, PermissionDenied
from orders import services
from orders.models import OrderEvent, Return
from tests.factories import ReturnFactory

pytestmark = pytest.mark.django_db

STAFF = Actor.staff("agent")


@pytest.fixture
def alice_return(alice_order):
    """Alice's return of both mugs (25.00 USD), as it stands after she requested it."""
    return ReturnFactory(item=alice_order.items.get(), quantity=2, refund_amount=Decimal("25.00"))


def with_status(ret: Return, status: str) -> Return:
    Return.objects.filter(pk=ret.pk).update(status=status)
    ret.refresh_from_db()
    return ret


def test_staff_approve_a_requested_return(staff_client, alice_return):
    response = staff_client.post(f"/api/returns/{alice_return.pk}/approve/", {"note": "Photo checks out."})

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert response.json()["decision_note"] == "Photo checks out."
    alice_return.refresh_from_db()
    assert alice_return.status == Return.Status.APPROVED
    assert alice_return.decided_at is not None
    assert alice_return.decision_note == "Photo checks out."
    event = OrderEvent.objects.get(kind="return_approved")
    assert (event.actor, event.data) == ("staff:agent", {"return_id": alice_return.pk, "note": "Photo checks out."})


def test_staff_reject_a_requested_return(staff_client, alice_return):
    response = staff_client.post(f"/api/returns/{alice_return.pk}/reject/", {"note": "Outside policy."})

    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    alice_return.refresh_from_db()
    assert (alice_return.status, alice_return.decision_note) == (Return.Status.REJECTED, "Outside policy.")
    assert alice_return.decided_at is not None
    assert OrderEvent.objects.filter(kind="return_rejected", actor="staff:agent").count() == 1


def test_staff_mark_an_approved_return_received(staff_client, alice_return):
    with_status(alice_return, Return.Status.APPROVED)

    response = staff_client.post(f"/api/returns/{alice_return.pk}/receive/")

    assert response.status_code == 200
    assert response.json()["status"] == "received"
    alice_return.refresh_from_db()
    assert alice_return.status == Return.Status.RECEIVED
    assert alice_return.received_at is not None
    assert OrderEvent.objects.filter(kind="return_received").count() == 1


def test_a_received_return_is_refunded_in_full_by_default(staff_client, alice_return):
    with_status(alice_return, Return.Status.RECEIVED)

    response = staff_client.post(f"/api/returns/{alice_return.pk}/refund/", {}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["refund_amount"]) == ("refunded", "25.00")
    alice_return.refresh_from_db()
    assert (alice_return.status, alice_return.refund_amount) == (Return.Status.REFUNDED, Decimal("25.00"))
    assert alice_return.refunded_at is not None
    assert OrderEvent.objects.get(kind="return_refunded").data == {"return_id": alice_return.pk, "amount": "25.00"}


def test_a_refund_may_be_smaller_than_the_return(shop_client, alice_return):
    with_status(alice_return, Return.Status.RECEIVED)

    response = shop_client.post(f"/api/returns/{alice_return.pk}/refund/", {"amount": "10.00"}, format="json")

    assert response.status_code == 200
    assert response.json()["refund_amount"] == "10.00"
    alice_return.refresh_from_db()
    assert (alice_return.status, alice_return.refund_amount) == (Return.Status.REFUNDED, Decimal("10.00"))
    assert OrderEvent.objects.get(kind="return_refunded").actor.startswith("shop:key:ck_")


def test_a_refund_may_equal_the_return_exactly(alice_return):
    with_status(alice_return, Return.Status.RECEIVED)

    services.return_refund(actor=STAFF, return_id=alice_return.pk, amount=Decimal("25.00"))

    alice_return.refresh_from_db()
    assert (alice_return.status, alice_return.refund_amount) == (Return.Status.REFUNDED, Decimal("25.00"))


@pytest.mark.parametrize("amount", ["25.01", "0.00", "-5.00"])
def test_a_refund_outside_zero_to_the_returns_amount_is_refused_as_invalid_input(staff_client, alice_return, amount):
    with_status(alice_return, Return.Status.RECEIVED)

    response = staff_client.post(f"/api/returns/{alice_return.pk}/refund/", {"amount": amount}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_refund_amount",
        "amount",
    )
    assert error["message"] == f"A refund for return #{alice_return.pk} must be more than 0 and at most 25.00 USD."
    alice_return.refresh_from_db()
    assert (alice_return.status, alice_return.refund_amount) == (Return.Status.RECEIVED, Decimal("25.00"))
    assert alice_return.refunded_at is None
    assert not OrderEvent.objects.exists()


TRANSITIONS = {
    "approve": (services.return_approve, {Return.Status.REQUESTED}),
    "reject": (services.return_reject, {Return.Status.REQUESTED}),
    "receive": (services.return_mark_received, {Return.Status.APPROVED}),
    "refund": (services.return_refund, {Return.Status.RECEIVED}),
}
FORBIDDEN = [
    (action, status)
    for action, (_, allowed) in TRANSITIONS.items()
    for status in Return.Status.values
    if status not in allowed
]


@pytest.mark.parametrize(("action", "status"), FORBIDDEN)
def test_a_transition_from_the_wrong_status_is_refused_and_changes_nothing(staff_client, alice_return, action, status):
    with_status(alice_return, status)

    response = staff_client.post(f"/api/returns/{alice_return.pk}/{action}/", {}, format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("conflict_error", "invalid_state")
    assert error["message"].startswith(f"Return #{alice_return.pk} is {Return.Status(status).label.lower()}, so it")
    alice_return.refresh_from_db()
    assert alice_return.status == status
    assert (alice_return.decided_at, alice_return.received_at, alice_return.refunded_at) == (None, None, None)
    assert not OrderEvent.objects.exists()


def test_a_return_walks_the_whole_way_from_request_to_refund(alice_return):
    services.return_approve(actor=STAFF, return_id=alice_return.pk)
    services.return_mark_received(actor=STAFF, return_id=alice_return.pk)
    services.return_refund(actor=STAFF, return_id=alice_return.pk)

    alice_return.refresh_from_db()
    assert alice_return.status == Return.Status.REFUNDED
    kinds = list(OrderEvent.objects.values_list("kind", flat=True))
    assert kinds == ["return_approved", "return_received", "return_refunded"]


@pytest.mark.parametrize("action", TRANSITIONS)
def test_a_customer_cannot_decide_even_on_their_own_return(alice, alice_client, alice_return, action):
    service, allowed = TRANSITIONS[action]
    with_status(alice_return, next(iter(allowed)))

    response = alice_client.post(f"/api/returns/{alice_return.pk}/{action}/", {}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    with pytest.raises(PermissionDenied):
        service(actor=Actor.customer(alice.pk), return_id=alice_return.pk)
    assert Return.objects.get().status == next(iter(allowed))
    assert not OrderEvent.objects.exists()


def test_a_decision_on_a_missing_return_is_not_found(staff_client, alice_return):
    response = staff_client.post("/api/returns/999999/approve/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_service_refuses_a_wrong_transition_with_a_readable_message(alice_return):
    with pytest.raises(InvalidState) as refused:
        services.return_refund(actor=STAFF, return_id=alice_return.pk)

    assert refused.value.message == f"Return #{alice_return.pk} is requested, so it cannot be refunded."


def test_a_return_approved_before_it_was_opened_opens_approved_with_both_events(alice_order):
    """An agent approved the assistant's request for it: one approval, one return, nothing left to approve."""
    opened = services.return_request(
        actor=Actor.assistant("thread_1", customer_id=alice_order.customer_id),
        order_number="A1001",
        item=alice_order.items.get().pk,
        reason="defective",
        quantity=2,
        channel=Return.Channel.ASSISTANT,
        approved_by=STAFF,
        approval_note="Over the limit, but a loyal customer.",
    )

    assert (opened.status, opened.decision_note) == (Return.Status.APPROVED, "Over the limit, but a loyal customer.")
    assert opened.decided_at is not None
    events = OrderEvent.objects.filter(order=alice_order).order_by("id").values_list("kind", "actor")
    assert list(events) == [("return_requested", "assistant:thread_1"), ("return_approved", "staff:agent")]
    with pytest.raises(InvalidState):
        services.return_approve(actor=STAFF, return_id=opened.pk)


def test_a_customer_cannot_approve_their_own_return(alice_order):
    alice = Actor.customer(alice_order.customer_id)

    with pytest.raises(PermissionDenied):
        services.return_request(
            actor=alice,
            order_number="A1001",
            item=alice_order.items.get().pk,
            reason="defective",
            channel=Return.Channel.API,
            approved_by=alice,
        )

    assert not Return.objects.exists()
