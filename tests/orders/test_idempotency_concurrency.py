"""Real races through the API: threads with their own connections, committed transactions.

Runs on PostgreSQL (unique index + row locks) and on the SQLite file database (IMMEDIATE
transactions queue the writers). Nothing here is mocked: the database has to hold the line.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from django.test import override_settings
from rest_framework.test import APIClient

from orders.models import IdempotencyKey, OrderEvent, Return
from orders.tokens import issue_customer_token
from tests.factories import CustomerFactory, ProductFactory, delivered_order

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


@dataclass
class Answer:
    status: int
    body: dict
    replayed: bool


def race(requests: list[tuple[str, dict, str]]) -> list[Answer]:
    """POST every (token, body, key) to /api/returns/ at the same moment, one thread and connection each."""
    barrier = threading.Barrier(len(requests))
    answers: list[Answer | None] = [None] * len(requests)
    errors: list[BaseException] = []

    def post(index: int, token: str, body: dict, key: str) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            barrier.wait(timeout=30)
            response = client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
            answers[index] = Answer(
                response.status_code, response.json(), response.get("Idempotent-Replayed") == "true"
            )
        except BaseException as error:  # reported below: a thread's exception must fail the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i, *request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(answer is not None for answer in answers), "a request never answered"
    return answers


@pytest.fixture
def alice_and_token():
    alice = CustomerFactory(name="Alice Example", email="alice@example.com")
    return alice, issue_customer_token(alice.pk)


def test_the_same_key_sent_eight_times_at_once_opens_one_return(alice_and_token):
    alice, token = alice_and_token
    order = delivered_order(customer=alice, number="A1001", items=[(5, ProductFactory(sku="MUG-1"))])
    body = {"order": "A1001", "item": "MUG-1", "reason": "defective"}

    answers = race([(token, body, "same-key")] * THREADS)

    assert [answer.status for answer in answers] == [201] * THREADS, [a.body for a in answers]
    assert all(answer.body == answers[0].body for answer in answers)
    assert sum(not answer.replayed for answer in answers) == 1
    created = Return.objects.get()
    assert (created.order_id, created.quantity) == (order.pk, 1)
    assert answers[0].body["id"] == created.pk
    assert IdempotencyKey.objects.count() == 1
    assert OrderEvent.objects.filter(kind="return_requested").count() == 1


def test_eight_keys_racing_for_the_last_unit_open_exactly_one_return(alice_and_token):
    alice, token = alice_and_token
    delivered_order(customer=alice, number="A1001", items=[(1, ProductFactory(sku="MUG-1", name="Ceramic Mug"))])
    body = {"order": "A1001", "item": "MUG-1", "reason": "defective"}

    answers = race([(token, body, f"key-{i}") for i in range(THREADS)])

    statuses = sorted(answer.status for answer in answers)
    assert statuses == [201] + [422] * (THREADS - 1), [a.body for a in answers]
    refusals = {answer.body["error"]["message"] for answer in answers if answer.status == 422}
    assert refusals == {"All units of Ceramic Mug in order A1001 already have a return."}
    assert Return.objects.count() == 1
    assert Return.objects.get().quantity == 1
    assert OrderEvent.objects.filter(kind="return_requested").count() == 1


def test_a_request_that_cannot_get_its_key_in_time_is_refused_with_409(alice_and_token):
    """Another transaction holds the key; this request gives up after the lock timeout and writes nothing."""
    alice, token = alice_and_token
    delivered_order(customer=alice, number="A1001", items=[(1, ProductFactory(sku="MUG-1"))])
    body = {"order": "A1001", "item": "MUG-1", "reason": "defective"}
    holding, release = threading.Event(), threading.Event()

    def hold_the_key() -> None:
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(
                    scope=f"customer:{alice.pk}:returns.create",
                    key="held",
                    request_fingerprint="in flight",
                    response_status=0,
                    response_body={},
                )
                holding.set()
                release.wait(timeout=60)
                transaction.set_rollback(True)  # the holder crashed: its key goes with it
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_key)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        with override_settings(IDEMPOTENCY_LOCK_TIMEOUT_SECONDS=1):
            refused = client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="held")
    finally:
        release.set()
        holder.join(timeout=60)

    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "type": "conflict_error",
        "code": "idempotency_key_in_use",
        "message": "A request with this Idempotency-Key is still being processed. Retry in a moment.",
        "param": None,
    }
    assert not Return.objects.exists()

    retried = client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="held")

    assert retried.status_code == 201
    assert Return.objects.count() == 1
    assert IdempotencyKey.objects.get().response_status == 201
