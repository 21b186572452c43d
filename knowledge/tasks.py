"""Celery tasks of the knowledge app: thin wrappers around ingestion and its sweep."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from knowledge import ingest, services
from runtime.dispatch import enqueue
from runtime.engine.runner import worker_name

STALLED_AFTER = timedelta(seconds=60)


@shared_task(
    name="knowledge.tasks.ingest",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(Exception,),  # ingest gave the file back for another attempt, and counts them
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=ingest.MAX_ATTEMPTS,
)
def ingest_task(store_file_id: int) -> None:
    """Ingest one file of a vector store. Safe to deliver twice: it claims the file first."""
    ingest.ingest(store_file_id, worker=worker_name())


@shared_task(name="knowledge.tasks.sweep", ignore_result=True)
def sweep() -> None:
    """Expire stores and files past their expiry, and hand ingestions nobody holds to a worker again."""
    services.expire_stores()
    services.expire_files()
    for store_file_id in services.stalled_ingestions(older_than=STALLED_AFTER):
        enqueue(services.INGEST, store_file_id)
