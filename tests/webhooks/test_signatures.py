"""Deliveries verify with the recipe docs/webhooks.md gives receivers, and only with the right secret."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from agents.services import escalate
from tests.webhooks.conftest import documented_verify
from webhooks import signing
from webhooks.endpoints import rotate_secret
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def verify():
    return documented_verify()


@pytest.fixture
def delivered(receiver, endpoint, thread):
    """One real delivery at the receiver: a conversation handed to a person."""
    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")
    assert len(receiver.requests) == 1
    return receiver.requests[0]


def test_the_documented_recipe_verifies_a_delivery(verify, endpoint, delivered):
    assert verify(endpoint.secret, delivered.headers, delivered.body)


def test_a_wrong_secret_fails(verify, delivered):
    assert not verify(signing.new_secret(), delivered.headers, delivered.body)


def test_a_changed_body_fails(verify, endpoint, delivered):
    tampered = delivered.body.replace(b'"priority":"normal"', b'"priority":"urgent"')
    assert tampered != delivered.body
    assert not verify(endpoint.secret, delivered.headers, tampered)


def test_the_id_and_timestamp_are_signed_too(verify, endpoint, delivered):
    assert not verify(endpoint.secret, {**delivered.headers, "webhook-id": "dlv_someoneelse"}, delivered.body)
    later = str(int(delivered.headers["webhook-timestamp"]) + 1)
    assert not verify(endpoint.secret, {**delivered.headers, "webhook-timestamp": later}, delivered.body)


def test_an_old_delivery_replayed_fails(verify, endpoint):
    body, old = b'{"id":"evt_x"}', int(time.time()) - 600
    headers = signing.headers([endpoint.secret], webhook_id="dlv_x", timestamp=old, body=body)
    assert not verify(endpoint.secret, {k.lower(): v for k, v in headers.items()}, body)


def test_a_hostile_signature_header_is_a_mismatch_not_a_crash(verify, endpoint, delivered):
    for junk in ("v1,é", "", "v1,", "v1a,xyz v2,abc", "\u202e"):
        assert not verify(endpoint.secret, {**delivered.headers, "webhook-signature": junk}, delivered.body)


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(verify, receiver, endpoint, thread):
    old = endpoint.secret
    endpoint, new = rotate_secret(endpoint.pk)
    assert new != old and endpoint.secret == new and endpoint.previous_secret == old

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")
    got = receiver.requests[-1]
    assert len(got.headers["webhook-signature"].split()) == 2
    assert verify(new, got.headers, got.body) and verify(old, got.headers, got.body)

    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [new]


def test_secrets_are_standard_webhooks_secrets_of_32_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(signing.secret_key(secret)) == 32
    assert secret != signing.new_secret()
