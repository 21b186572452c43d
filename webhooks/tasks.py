"""Celery tasks of webhooks: thin wrappers around webhooks.deliveries."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from webhooks import deliveries


@shared_task(
    name="webhooks.tasks.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # The database unreachable for a moment: try again shortly rather than wait for the sweep.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=20,
    max_retries=5,
)
def deliver(delivery_id: int) -> None:
    """One attempt of a delivery. Safe to deliver twice: the attempt is claimed first."""
    deliveries.attempt(delivery_id)


@shared_task(name="webhooks.tasks.deliver_due", ignore_result=True)
def deliver_due() -> None:
    """Hand deliveries due for a retry (or whose worker died) to workers."""
    deliveries.enqueue_due()


@shared_task(name="webhooks.tasks.purge_log", ignore_result=True)
def purge_log() -> None:
    deliveries.purge_log()
