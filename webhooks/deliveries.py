"""Sending deliveries: claiming an attempt, recording it, retrying with backoff, redelivering by hand.

A delivery is claimed before each attempt with a conditional update (pending and due, or sending
under a lapsed lease → sending, one more attempt, a new lease): of two workers handed the same
delivery, one wins and the other does nothing. The lease outlasts the attempt's deadline
(webhooks.transport), and only the worker whose attempt number still stands settles the row.

Retries are not Celery countdowns held in a worker's memory for hours: a failed attempt sets
`next_attempt_at` (exponential backoff with jitter, or the receiver's Retry-After if longer), and
`enqueue_due`, run every WEBHOOK_SWEEP_SECONDS by Celery beat (or the embedded beat), hands due
deliveries to workers. It also picks up deliveries whose worker died.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from runtime.dispatch import enqueue
from webhooks import signing, transport
from webhooks.events import DELIVER
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, Event

log = logging.getLogger(__name__)
Status = Delivery.Status
LEASE_MARGIN_SECONDS = 60  # beyond the attempt's deadline: DNS resolution has no deadline of ours


def lease_seconds() -> float:
    return settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS


def due(now: datetime) -> Q:
    return Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(status=Status.SENDING, lease_expires_at__lt=now)


def claim(delivery_id: int, *, now: datetime) -> Delivery | None:
    """The delivery, claimed for its next attempt; None if it is not due or another worker has it."""
    won = Delivery.objects.filter(due(now), pk=delivery_id).update(
        status=Status.SENDING,
        attempts=F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
        queued_at=None,
    )
    if not won:
        return None
    return Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)


def retry_delay(attempts: int, retry_after: str | None = None, *, now: datetime | None = None) -> float:
    """Seconds to wait after `attempts` failed attempts: WEBHOOK_RETRY_BASE_SECONDS × 4^(attempts-1),
    ±20% jitter (so that receivers that failed together are not retried together), at most
    WEBHOOK_RETRY_MAX_SECONDS; longer if the receiver's Retry-After asks for it (up to the same cap)."""
    cap = settings.WEBHOOK_RETRY_MAX_SECONDS
    delay = min(cap, settings.WEBHOOK_RETRY_BASE_SECONDS * 4 ** (attempts - 1) * random.uniform(0.8, 1.2))
    asked = retry_after_seconds(retry_after, now=now or timezone.now())
    return max(delay, min(cap, asked)) if asked is not None else delay


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Retry-After in seconds (delay-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def outcome_error(answer: transport.Answer) -> str:
    if answer.error:
        return answer.error
    code = answer.status_code
    if 200 <= code < 300:
        return ""
    if 300 <= code < 400:
        to = f" to {answer.location}" if answer.location else ""
        return f"Answered {code}: redirects are not followed{to}; give the endpoint its final URL."
    if code == 410:
        return "Answered 410 Gone: the endpoint was turned off and will receive nothing more."
    return f"Answered {code}."


def attempt(delivery_id: int) -> DeliveryAttempt | None:
    """Make the delivery's next attempt, if it is due and no other worker is making it; its log row."""
    delivery = claim(delivery_id, now=timezone.now())
    if delivery is None:
        return None
    endpoint, started, clock = delivery.endpoint, timezone.now(), time.monotonic()
    if endpoint.is_active:
        body = delivery.event.body.encode()
        headers = signing.headers(
            endpoint.signing_secrets(started), webhook_id=delivery.public_id, timestamp=int(time.time()), body=body
        )
        answer = transport.post(endpoint.url, headers=headers, body=body)
    else:
        answer = transport.Answer(error="Not sent: the endpoint is turned off.")
    return settle(delivery, answer, started=started, duration_ms=int((time.monotonic() - clock) * 1000))


def settle(delivery: Delivery, answer: transport.Answer, *, started: datetime, duration_ms: int) -> DeliveryAttempt:
    """Log the attempt, and set the delivery's state: succeeded, pending its next attempt, or failed."""
    now = timezone.now()
    code = answer.status_code
    succeeded, gone = code is not None and 200 <= code < 300, code == 410
    error = outcome_error(answer)
    fields = {"last_status_code": code, "last_error": error, "lease_expires_at": None, "redelivery_requested_by": ""}
    if succeeded:
        fields.update(status=Status.SUCCEEDED, delivered_at=now, next_attempt_at=None)
    elif gone or not delivery.endpoint.is_active or delivery.attempts >= delivery.attempt_limit:
        fields.update(status=Status.FAILED, next_attempt_at=None)
    else:
        delay = retry_delay(delivery.attempts, answer.retry_after, now=now)
        fields.update(status=Status.PENDING, next_attempt_at=now + timedelta(seconds=delay))
    with transaction.atomic():
        logged = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            redelivered_by=delivery.redelivery_requested_by,
            started_at=started,
            duration_ms=duration_ms,
            status_code=code,
            error=error,
            response_excerpt=answer.excerpt,
        )
        # A worker that outlived its lease finds the attempt count moved on: the newer attempt settles.
        Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, attempts=delivery.attempts).update(**fields)
        if gone:
            Endpoint.objects.filter(pk=delivery.endpoint_id, is_active=True).update(
                is_active=False,
                disabled_reason=f"It answered 410 Gone to {delivery.public_id} on {now:%Y-%m-%d %H:%M} UTC.",
            )
    if not succeeded:
        log.info("webhook %s attempt %s failed: %s", delivery.public_id, delivery.attempts, error)
    return logged


def redeliver(delivery_ids: list[int], *, by: str) -> int:
    """Send these deliveries again now, whatever came of them, with the same id and body: one more
    attempt for a finished one, the next attempt brought forward for one still retrying. One being
    sent right now is left alone. Returns how many were queued."""
    now = timezone.now()
    with transaction.atomic():
        chosen = list(
            Delivery.objects.select_for_update()
            .filter(pk__in=delivery_ids)
            .exclude(status=Status.SENDING)
            .values_list("pk", "status")
        )
        done = [pk for pk, status in chosen if status != Status.PENDING]
        waiting = [pk for pk, status in chosen if status == Status.PENDING]
        common = {"status": Status.PENDING, "next_attempt_at": now, "redelivery_requested_by": by}
        Delivery.objects.filter(pk__in=done).update(**common, attempt_limit=F("attempts") + 1)
        Delivery.objects.filter(pk__in=waiting).update(**common)
        for pk, _ in chosen:
            enqueue(DELIVER, pk)
    return len(chosen)


def enqueue_due(*, now: datetime | None = None) -> int:
    """Hand every delivery due for an attempt to a worker (at most WEBHOOK_SWEEP_BATCH at a time),
    unless this sweep or an earlier one handed it out less than a lease ago (it is still in a
    worker's queue). Claiming keeps a delivery handed over twice from being sent twice. Returns how many."""
    now = now or timezone.now()
    not_queued = Q(queued_at__isnull=True) | Q(queued_at__lt=now - timedelta(seconds=lease_seconds()))
    ids = list(
        Delivery.objects.filter(due(now), not_queued)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[: settings.WEBHOOK_SWEEP_BATCH]
    )
    Delivery.objects.filter(pk__in=ids).update(queued_at=now)
    for delivery_id in ids:
        enqueue(DELIVER, delivery_id)
    return len(ids)


def purge_log(*, now: datetime | None = None) -> int:
    """Delete events older than WEBHOOK_LOG_RETENTION_DAYS whose deliveries are all finished, with
    their deliveries and attempts. Returns how many events."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)
    unfinished = Delivery.objects.filter(status__in=[Status.PENDING, Status.SENDING]).values("event_id")
    old = Event.objects.filter(created_at__lt=cutoff).exclude(pk__in=unfinished)
    _, by_model = old.delete()
    return by_model.get(Event._meta.label, 0)
