"""An event reaches the shop's receiver once the change is committed, and never for one rolled back."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from common.actors import Actor
from orders import services
from orders.models import Return
from tests.webhooks.conftest import make_endpoint
from webhooks import catalog
from webhooks.models import Delivery, Event

# The delivery is sent after a real commit (on_commit), which a test inside a transaction never reaches.
pytestmark = pytest.mark.django_db(transaction=True)


def request_return(customer) -> Return:
    return services.return_request(
        actor=Actor.customer(customer.pk), order_number="A1001", item="MUG-1", reason="defective", channel="api"
    )


def test_the_receiver_gets_the_event_once_the_change_commits(receiver, endpoint, alice, alice_order):
    with transaction.atomic():
        ret = request_return(alice)
        assert receiver.requests == []  # committed nowhere yet: nobody may hear of it

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    body = json.loads(got.body)
    assert body["type"] == "return.requested"
    assert body["id"].startswith("evt_") and body["created_at"].endswith("Z")
    assert body["data"]["return"]["id"] == ret.pk
    assert got.path == "/hooks/concierge"
    assert got.headers["content-type"] == "application/json"
    delivery = Delivery.objects.get()
    assert got.headers["webhook-id"] == delivery.public_id
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert [(a.number, a.status_code, a.error) for a in delivery.attempt_log.all()] == [(1, 200, "")]
    assert got.body == delivery.event.body.encode()  # the stored body is the exact bytes sent


def test_a_rolled_back_change_sends_nothing_and_records_nothing(receiver, endpoint, alice, alice_order):
    with pytest.raises(RuntimeError), transaction.atomic():
        request_return(alice)
        raise RuntimeError("the caller's later step failed")

    assert Return.objects.count() == 0
    assert receiver.requests == []
    assert Event.objects.count() == 0 and Delivery.objects.count() == 0


def test_only_active_endpoints_subscribed_to_the_type_receive_it(receiver, endpoint, alice, alice_order):
    make_endpoint(receiver.url + "/escalations", event_types=[catalog.CONVERSATION_ESCALATED], name="Escalations")
    make_endpoint(receiver.url + "/off", name="Turned off", is_active=False)

    request_return(alice)

    assert [r.path for r in receiver.requests] == ["/hooks/concierge"]
    assert Delivery.objects.get().endpoint == endpoint


def test_without_a_subscribed_endpoint_no_event_is_written(db, receiver, local_targets, alice, alice_order):
    make_endpoint(receiver.url, event_types=[catalog.CONVERSATION_CREATED])

    request_return(alice)

    assert receiver.requests == []
    assert Event.objects.count() == 0


def test_one_event_goes_to_each_endpoint_with_its_own_delivery_id(receiver, endpoint, alice, alice_order):
    other = make_endpoint(receiver.url + "/crm", name="CRM")

    request_return(alice)

    assert sorted(r.path for r in receiver.requests) == ["/hooks/concierge", "/hooks/concierge/crm"]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 2
    assert len({r.body for r in receiver.requests}) == 1  # the same event, byte for byte
    assert set(Delivery.objects.values_list("endpoint", flat=True)) == {endpoint.pk, other.pk}
