"""Idempotency keys on POST /api/returns/, with Stripe's semantics (see orders.idempotency)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from common.errors import DomainError
from orders.idempotency import run_idempotent
from orders.models import IdempotencyKey, Order, OrderEvent, Return
from orders.tasks import purge_idempotency_keys

pytestmark = pytest.mark.django_db

BODY = {"order": "A1001", "item": "MUG-1", "reason": "defective"}


def post_return(client, body=BODY, key="key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/returns/", body, format="json", **headers)


def age_key(key: str, hours: float) -> None:
    IdempotencyKey.objects.filter(key=key).update(created_at=timezone.now() - timedelta(hours=hours))


def test_the_same_key_and_body_return_the_first_result_without_a_second_return(alice_client, alice_order):
    first = post_return(alice_client)
    second = post_return(alice_client)

    assert first.status_code == 201, first.json()
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Return.objects.count() == 1
    assert OrderEvent.objects.filter(kind="return_requested").count() == 1


def test_a_replay_is_recognised_whatever_the_key_order_and_spelled_out_defaults(alice_client, alice_order):
    first = post_return(alice_client, {"reason": "defective", "item": "MUG-1", "order": "A1001"})
    second = post_return(alice_client, {**BODY, "quantity": 1, "note": ""})

    assert second.status_code == 201
    assert second.json() == first.json()
    assert Return.objects.count() == 1


def test_the_same_key_with_a_different_body_is_refused_with_422(alice_client, alice_order):
    first = post_return(alice_client)
    second = post_return(alice_client, {**BODY, "reason": "wrong_item"})

    assert first.status_code == 201
    assert second.status_code == 422
    assert second.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "idempotency_key_reused",
            "message": "This Idempotency-Key was already used with a different request. "
            "Use a new key for a new request.",
            "param": None,
        }
    }
    assert list(Return.objects.values_list("reason", flat=True)) == ["defective"]


def test_a_new_key_opens_a_new_return(alice_client, alice_order):
    first = post_return(alice_client, key="key-1")
    second = post_return(alice_client, key="key-2")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert Return.objects.count() == 2


def test_a_post_without_a_key_is_refused_and_opens_nothing(alice_client, alice_order):
    response = post_return(alice_client, key=None)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert not Return.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_a_key_longer_than_255_characters_is_refused(alice_client, alice_order):
    response = post_return(alice_client, key="k" * 256)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert not Return.objects.exists()


def test_keys_are_scoped_to_the_caller(alice_client, mallory_client, alice_order, mallory_order):
    mallorys_body = {"order": "M2001", "item": str(mallory_order.items.get().pk), "reason": "other"}

    alices = post_return(alice_client, key="shared")
    mallorys = post_return(mallory_client, mallorys_body, key="shared")

    assert (alices.status_code, mallorys.status_code) == (201, 201)
    assert Return.objects.filter(order=alice_order).count() == 1
    assert Return.objects.filter(order=mallory_order).count() == 1


def test_the_same_key_from_two_callers_names_two_requests(alice_client, shop_client, alice_order):
    alices = post_return(alice_client, key="shared")
    shops = post_return(shop_client, {**BODY, "reason": "other"}, key="shared")

    assert (alices.status_code, shops.status_code) == (201, 201)
    assert sorted(Return.objects.values_list("reason", flat=True)) == ["defective", "other"]


def test_keys_are_scoped_to_the_operation(alice_order):
    calls = []

    def operation():
        calls.append(1)
        return 200, {"n": len(calls)}

    first = run_idempotent(scope="customer:1:returns.create", key="k", request={}, operation=operation)
    second = run_idempotent(scope="customer:1:orders.cancel", key="k", request={}, operation=operation)

    assert (first.body, second.body) == ({"n": 1}, {"n": 2})
    assert IdempotencyKey.objects.count() == 2


def test_a_refused_request_is_stored_and_replayed_like_any_result(alice_client, alice_order):
    """Stripe keeps the first answer, errors included: fixing the order does not rerun the old key."""
    order = alice_order
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SHIPPED, delivered_at=None)

    refused = post_return(alice_client)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.DELIVERED, delivered_at=timezone.now())
    replayed = post_return(alice_client)
    fresh = post_return(alice_client, key="key-2")

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "return_not_allowed"
    assert (replayed.status_code, replayed.json()) == (422, refused.json())
    assert fresh.status_code == 201
    assert Return.objects.count() == 1


def test_a_request_with_an_invalid_body_does_not_use_up_its_key(alice_client, alice_order):
    invalid = post_return(alice_client, {**BODY, "quantity": 0})
    valid = post_return(alice_client)

    assert invalid.status_code == 400
    assert valid.status_code == 201
    assert Return.objects.count() == 1


def test_a_request_that_crashes_leaves_neither_its_writes_nor_its_key(alice_order):
    def crashing_operation():
        OrderEvent.objects.create(order=alice_order, kind="half_done", actor="test")
        raise RuntimeError("the worker died")

    with pytest.raises(RuntimeError):
        run_idempotent(scope="test", key="k", request={}, operation=crashing_operation)
    retried = run_idempotent(scope="test", key="k", request={}, operation=lambda: (200, {"ok": True}))

    assert not OrderEvent.objects.exists()
    assert (retried.status, retried.body, retried.replayed) == (200, {"ok": True}, False)


def test_a_refused_operation_leaves_no_partial_writes_but_keeps_its_answer(alice_order):
    def refusing_operation():
        OrderEvent.objects.create(order=alice_order, kind="half_done", actor="test")
        raise DomainError("No.", code="refused")

    with pytest.raises(DomainError):
        run_idempotent(scope="test", key="k", request={}, operation=refusing_operation)
    with pytest.raises(DomainError) as replayed:
        run_idempotent(scope="test", key="k", request={}, operation=lambda: (200, {}))

    assert not OrderEvent.objects.exists()
    assert (replayed.value.code, replayed.value.message) == ("refused", "No.")
    assert IdempotencyKey.objects.get().response_status == 400


def test_a_key_older_than_24_hours_is_forgotten_and_the_request_runs_again(alice_client, alice_order):
    first = post_return(alice_client)
    age_key("key-1", hours=24.1)

    again = post_return(alice_client)

    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    assert Return.objects.count() == 2
    assert IdempotencyKey.objects.get().created_at > timezone.now() - timedelta(minutes=1)


def test_an_expired_key_may_be_reused_with_a_different_body(alice_client, alice_order):
    post_return(alice_client)
    age_key("key-1", hours=25)

    response = post_return(alice_client, {**BODY, "reason": "other"})

    assert response.status_code == 201
    assert sorted(Return.objects.values_list("reason", flat=True)) == ["defective", "other"]


def test_a_key_just_under_24_hours_old_is_still_honoured(alice_client, alice_order):
    first = post_return(alice_client)
    age_key("key-1", hours=23.9)

    again = post_return(alice_client)

    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Return.objects.count() == 1


def test_purge_deletes_only_expired_keys(db):
    now = timezone.now()
    for key, hours in [("expired-long-ago", 24 * 7), ("just-expired", 24.01), ("fresh", 23.9), ("new", 0)]:
        IdempotencyKey.objects.create(
            scope="test",
            key=key,
            request_fingerprint="x",
            response_status=201,
            response_body={},
            created_at=now - timedelta(hours=hours),
        )

    deleted = purge_idempotency_keys.delay().get()

    assert deleted == 2
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"fresh", "new"}


@override_settings(IDEMPOTENCY_KEY_TTL_HOURS=1)
def test_the_time_to_live_comes_from_the_settings(alice_client, alice_order):
    post_return(alice_client)
    age_key("key-1", hours=1.5)

    assert purge_idempotency_keys() == 1
    assert not IdempotencyKey.objects.exists()


def test_a_replay_is_the_first_responses_exact_bytes(alice_client, alice_order):
    first = post_return(alice_client)
    second = post_return(alice_client)

    assert second["Idempotent-Replayed"] == "true"
    # PostgreSQL's jsonb keeps keys in its own order: a body stored as jsonb came back reordered.
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]


def test_a_replayed_refusal_is_the_first_refusals_exact_bytes(alice_client, alice_order):
    body = {**BODY, "quantity": 99}
    first = post_return(alice_client, body, key="too-many")
    second = post_return(alice_client, body, key="too-many")

    assert first.status_code == second.status_code == 422
    assert second.content == first.content
