"""Recording an event for the endpoints that want it, and handing its deliveries to a worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from runtime.dispatch import enqueue
from webhooks import catalog
from webhooks.models import Delivery, Endpoint, Event

DELIVER = "webhooks.tasks.deliver"


def payload(event: Event, data: dict) -> str:
    """The body every endpoint receives: compact JSON, times in ISO 8601 (UTC, "Z"), money as strings."""
    envelope = {"id": event.public_id, "type": event.type, "created_at": event.created_at, "data": data}
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def emit(event_type: str, data: Callable[[], dict], *, now: datetime | None = None) -> Event | None:
    """Record an event of `event_type` and a delivery of it to each active endpoint subscribed to it,
    each sent in the background once this commits. `data()` is called only if some endpoint wants
    the event; with none, nothing is written and None is returned.

    Call it once the change it tells of is committed (receivers are sent their signal on commit)."""
    if event_type not in catalog.EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = [endpoint for endpoint in Endpoint.objects.filter(is_active=True) if endpoint.subscribes_to(event_type)]
    if not endpoints:
        return None
    event = Event(type=event_type, created_at=now or timezone.now())
    event.body = payload(event, data())
    with transaction.atomic():
        event.save()
        for endpoint in endpoints:
            delivery = Delivery.objects.create(
                event=event,
                endpoint=endpoint,
                attempt_limit=settings.WEBHOOK_MAX_ATTEMPTS,
                next_attempt_at=event.created_at,
            )
            enqueue(DELIVER, delivery.pk)
    return event
