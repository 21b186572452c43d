"""Background work of the operator's kit: the retention purge beat starts every hour."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from ops.retention import purge_conversations

log = logging.getLogger(__name__)


@shared_task(name="ops.tasks.purge_conversations", ignore_result=True)
def purge_old_conversations() -> None:
    """Delete the conversations idle for more than RETENTION_DAYS (off at 0). Safe to run twice at
    once: each conversation is deleted under its row lock, after checking again."""
    if settings.RETENTION_DAYS < 1:
        return
    counts = purge_conversations(days=settings.RETENTION_DAYS)
    if counts:
        log.info("Retention purge: %s", ", ".join(f"{n} {word}" for word, n in counts.items()))
