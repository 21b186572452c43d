"""The webhooks admin: an endpoint's secret shown once, rotation, the delivery log, and redelivery."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from agents.services import escalate
from tests.factories import UserFactory
from tests.webhooks.conftest import documented_verify, make_endpoint
from tests.webhooks.receiver import Scripted
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db(transaction=True)
ENDPOINTS, DELIVERIES = reverse("admin:webhooks_endpoint_changelist"), reverse("admin:webhooks_delivery_changelist")


def hand_over(thread) -> Delivery:
    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")
    return Delivery.objects.get()


def test_a_new_endpoints_secret_is_shown_once_and_never_again(admin_client, receiver, local_targets):
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"name": "ERP", "url": receiver.url, "event_types": ["return.requested", "return.approved"], "is_active": "on"},
    )

    endpoint = Endpoint.objects.get()
    assert response.status_code == 200
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert endpoint.event_types == ["return.requested", "return.approved"]
    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in page and endpoint.secret[:10] in page


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_signing(admin_client, receiver, local_targets):
    endpoint = make_endpoint(receiver.url)
    old = endpoint.secret

    response = admin_client.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})

    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in response.content.decode() and old not in response.content.decode()
    assert endpoint.signing_secrets() == [endpoint.secret, old]


def test_redelivering_sends_the_same_delivery_again_as_a_new_attempt(
    admin_client, admin_user, receiver, endpoint, thread
):
    delivery = hand_over(thread)
    assert delivery.status == "succeeded"

    response = admin_client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True)

    assert "1 queued for another attempt" in response.content.decode()
    first, again = receiver.requests
    assert again.headers["webhook-id"] == first.headers["webhook-id"] == delivery.public_id
    assert again.body == first.body
    assert documented_verify()(endpoint.secret, again.headers, again.body)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    log = list(delivery.attempt_log.values_list("number", "status_code", "redelivered_by"))
    assert log == [(1, 200, ""), (2, 200, admin_user.username)]


def test_a_failed_delivery_redelivered_gets_exactly_one_more_attempt(
    admin_client, receiver, endpoint, thread, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answer(Scripted(500), Scripted(500))
    delivery = hand_over(thread)
    assert delivery.status == "failed"

    admin_client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    assert len(receiver.requests) == 2


def test_a_delivery_being_sent_is_not_redelivered_over_it(admin_client, receiver, endpoint, thread):
    delivery = hand_over(thread)
    Delivery.objects.filter(pk=delivery.pk).update(status="sending")

    response = admin_client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True)

    assert "1 being sent right now, left alone" in response.content.decode()
    assert len(receiver.requests) == 1


def test_the_log_filters_by_status_event_and_endpoint_and_finds_a_delivery_by_id(
    admin_client, receiver, endpoint, thread
):
    receiver.answer(Scripted(500, b"<script>alert(1)</script>"))
    delivery = hand_over(thread)
    other = make_endpoint(receiver.url + "/other", name="Other", event_types=["return.requested"])

    def listed(**query) -> bool:
        return delivery.public_id in admin_client.get(DELIVERIES, query).content.decode()

    assert listed(status="pending") and not listed(status="succeeded")
    assert listed(event__type="conversation.escalated") and not listed(event__type="return.approved")
    assert listed(endpoint__id__exact=endpoint.pk) and not listed(endpoint__id__exact=other.pk)
    assert listed(q=delivery.public_id) and listed(q=delivery.event.public_id) and not listed(q="dlv_nothing")

    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk])).content.decode()
    assert "Answered 500." in page and delivery.event.public_id in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_staff_without_the_change_permission_cannot_redeliver(client, receiver, endpoint, thread):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)
    delivery = hand_over(thread)

    response = client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]})

    assert response.status_code == 200  # the log, as this user may see it: without the action
    assert "Redeliver the selected deliveries" not in response.content.decode()
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_an_endpoint_whose_host_stopped_resolving_can_still_be_turned_off(admin_client):
    endpoint = make_endpoint("https://gone.shop.invalid/hooks", event_types=["return.requested"])

    response = admin_client.post(
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        {"name": endpoint.name, "url": endpoint.url, "event_types": ["return.requested"]},  # active unticked
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active


def test_a_changed_url_is_checked_again(admin_client, receiver, local_targets):
    endpoint = make_endpoint(receiver.url, event_types=["return.requested"])
    local_targets.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    response = admin_client.post(
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        {"name": endpoint.name, "url": "http://169.254.169.254/latest/", "event_types": ["return.requested"]},
    )

    assert response.status_code == 200 and "link-local" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == receiver.url
