"""Periodic housekeeping for the shop's domain."""

from __future__ import annotations

from celery import shared_task

from orders.idempotency import purge_expired_keys


@shared_task(name="orders.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    return purge_expired_keys()
