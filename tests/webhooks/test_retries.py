"""A failed attempt is logged and retried with backoff; each attempt is claimed, so it is made once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from agents.services import escalate
from tests.webhooks.conftest import documented_verify
from tests.webhooks.receiver import Scripted
from webhooks import deliveries, transport
from webhooks.models import Delivery, Endpoint

sent_after_commit = pytest.mark.django_db(transaction=True)


def hand_over(thread) -> Delivery:
    """A real event (the conversation handed to a person) and its one delivery, after the first attempt."""
    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")
    return Delivery.objects.get()


def time_passes_until_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


@sent_after_commit
def test_a_500_then_a_200_retries_with_backoff_and_logs_both_attempts(receiver, endpoint, thread):
    receiver.answer(Scripted(500, b"database down"))

    before = timezone.now()
    delivery = hand_over(thread)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error == "Answered 500."
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 0.8 * 30 - 1 <= wait <= 1.2 * 30 + 1  # the first retry: 30 s, ±20% jitter
    assert deliveries.enqueue_due() == 0  # not due yet: nothing is sent early

    time_passes_until_due(delivery)
    assert deliveries.enqueue_due() == 1
    delivery.refresh_from_db()

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)
    log = list(delivery.attempt_log.values_list("number", "status_code", "error", "response_excerpt"))
    assert log == [(1, 500, "Answered 500.", "database down"), (2, 200, "", "ok")]
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.public_id
    assert first.body == second.body
    verify = documented_verify()
    assert verify(endpoint.secret, first.headers, first.body) and verify(endpoint.secret, second.headers, second.body)


def test_the_backoff_grows_fourfold_with_jitter_up_to_its_cap(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_SECONDS = 30, 8 * 3600
    for attempts, nominal in [(1, 30), (2, 120), (3, 480), (4, 1920), (5, 7680)]:
        delays = [deliveries.retry_delay(attempts) for _ in range(50)]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in delays)
        assert len(set(delays)) > 1  # jittered: receivers that failed together are not retried together
    assert all(deliveries.retry_delay(9) <= 8 * 3600 for _ in range(50))


def test_retry_after_asks_for_a_longer_wait_but_not_past_the_cap(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_SECONDS = 30, 3600
    assert deliveries.retry_delay(1, "600") == 600
    assert deliveries.retry_delay(1, "999999") == 3600
    when = timezone.now() + timedelta(seconds=900)
    assert 890 <= deliveries.retry_delay(1, when.strftime("%a, %d %b %Y %H:%M:%S GMT"), now=timezone.now()) <= 900
    assert deliveries.retry_delay(1, "soon") <= 36  # unreadable: the usual backoff


@sent_after_commit
def test_a_receiver_timeout_is_an_error_in_the_log_not_a_crash(receiver, endpoint, thread, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.answer(Scripted(200, delay=2.0))

    delivery = hand_over(thread)  # the service call returns normally

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error == "Timed out: no complete answer within 0.5 s."
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None and attempt.error.startswith("Timed out")
    assert attempt.duration_ms < 1500
    assert delivery.lease_expires_at is None and delivery.next_attempt_at > timezone.now()


@sent_after_commit
def test_a_receiver_answering_a_byte_at_a_time_is_cut_off_at_the_deadline(receiver, endpoint, thread, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.answer(Scripted(200, body=b"x" * 100, drip=0.1))  # each read in time, the whole far too slow

    delivery = hand_over(thread)

    assert (delivery.status, delivery.last_error) == ("pending", "Timed out: no complete answer within 0.5 s.")
    assert delivery.attempt_log.get().duration_ms < 1500


@sent_after_commit
def test_the_last_allowed_attempt_failing_fails_the_delivery(receiver, endpoint, thread, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answer(Scripted(503), Scripted(502))

    delivery = hand_over(thread)
    time_passes_until_due(delivery)
    deliveries.enqueue_due()
    delivery.refresh_from_db()

    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [503, 502]
    assert deliveries.enqueue_due() == 0


@sent_after_commit
def test_410_gone_stops_the_delivery_and_turns_the_endpoint_off(receiver, endpoint, thread):
    receiver.answer(Scripted(410))

    delivery = hand_over(thread)
    endpoint.refresh_from_db()

    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert not endpoint.is_active and delivery.public_id in endpoint.disabled_reason
    assert "turned off" in delivery.last_error


@sent_after_commit
def test_a_delivery_to_an_endpoint_turned_off_meanwhile_fails_without_a_request(receiver, endpoint, thread):
    receiver.answer(Scripted(500))
    delivery = hand_over(thread)
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False)

    time_passes_until_due(delivery)
    deliveries.enqueue_due()
    delivery.refresh_from_db()

    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.last_error == "Not sent: the endpoint is turned off."


@sent_after_commit
def test_an_attempt_is_claimed_once_however_many_workers_are_handed_it(receiver, endpoint, thread):
    receiver.answer(Scripted(500))
    delivery = hand_over(thread)
    time_passes_until_due(delivery)
    receiver.answer(Scripted(200, delay=0.5))  # slow enough for every worker to try meanwhile
    made = []

    def worker() -> None:
        try:
            made.append(deliveries.attempt(delivery.pk))
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for started in workers:
        started.start()
    for started in workers:
        started.join(10)

    assert len(receiver.requests) == 2  # the first attempt, and one retry
    assert sum(attempt is not None for attempt in made) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


@sent_after_commit
def test_a_delivery_whose_worker_died_is_sent_again_once_its_lease_lapses(receiver, endpoint, thread):
    receiver.answer(Scripted(500))
    delivery = hand_over(thread)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", lease_expires_at=now + timedelta(seconds=30))
    assert deliveries.enqueue_due() == 0  # its worker may still be sending

    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=now - timedelta(seconds=1))
    assert deliveries.enqueue_due() == 1
    delivery.refresh_from_db()

    assert (delivery.status, delivery.attempts, len(receiver.requests)) == ("succeeded", 2, 2)


@sent_after_commit
def test_a_worker_that_outlived_its_lease_logs_its_attempt_but_does_not_settle_the_delivery(endpoint, thread):
    delivery = hand_over(thread)
    Delivery.objects.filter(pk=delivery.pk).update(status="pending", next_attempt_at=timezone.now())
    slow = deliveries.claim(delivery.pk, now=timezone.now())
    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    newer = deliveries.claim(delivery.pk, now=timezone.now())  # another worker takes the lapsed lease
    assert (slow.attempts, newer.attempts) == (2, 3)

    deliveries.settle(slow, transport.Answer(status_code=500), started=timezone.now(), duration_ms=1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sending", 3)  # still the newer worker's to settle

    deliveries.settle(newer, transport.Answer(status_code=204), started=timezone.now(), duration_ms=1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("succeeded", 204)
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 200), (2, 500), (3, 204)]


@sent_after_commit
def test_the_sweep_does_not_hand_out_again_what_is_still_in_a_workers_queue(receiver, endpoint, thread, monkeypatch):
    receiver.answer(Scripted(500))
    delivery = hand_over(thread)
    time_passes_until_due(delivery)
    handed = []
    monkeypatch.setattr(deliveries, "enqueue", lambda task, delivery_id: handed.append(delivery_id))  # a busy worker

    assert deliveries.enqueue_due() == 1
    assert deliveries.enqueue_due() == 0  # still queued: not again

    later = timezone.now() + timedelta(seconds=deliveries.lease_seconds() + 1)
    assert deliveries.enqueue_due(now=later) == 1  # lost on its way, say: handed out again
    assert handed == [delivery.pk, delivery.pk]
