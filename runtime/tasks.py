"""Celery tasks of the runtime: thin wrappers around the engine and the runs package.

Their names keep the `support.` prefix they had before the runtime was renamed: tasks already on a
broker during a deploy still find their code.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

from runtime import runs
from runtime.dispatch import enqueue_run
from runtime.engine.runner import execute_run
from runtime.models import Run

log = logging.getLogger(__name__)


@shared_task(
    name="support.tasks.execute_run",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # The database unreachable or out of connections for a moment: try again shortly rather than
    # leave the customer's run queued until the next sweep.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=20,
    max_retries=5,
)
def execute_run_task(run_id: int) -> None:
    """Execute one run. Safe to deliver twice: the engine claims the run before it acts."""
    execute_run(run_id)


@shared_task(name="support.tasks.sweep_runs", ignore_result=True)
def sweep_runs() -> None:
    """Expire runs past their expiry and requests for approval past their deadline, and hand runs
    that nobody is executing to a worker again.

    Nobody executes a run left queued (its task failed before claiming it, e.g. the database was
    unreachable, or a restarted server lost it) or in progress under a lapsed lease (its worker
    died). Claiming makes a second hand-over harmless, but not free: each sits in the queue in
    front of the tasks that matter. So a run is handed over once per lapsed lease (a claim that
    lapses again is a new one), and again only if that task has not claimed it within a lease (it
    was lost, or is still queued behind others).
    """
    runs.expire_stale_runs()
    runs.expire_stale_approvals()
    orphans = runs.orphaned_runs(older_than_seconds=settings.RUN_SWEEP_SECONDS)
    if not orphans:
        return
    for run_id, public_id, lease in Run.objects.filter(pk__in=orphans).values_list(
        "pk", "public_id", "lease_expires_at"
    ):
        if _first_hand_over(f"sweep:handed:{public_id}:{lease.timestamp() if lease else 'queued'}"):
            enqueue_run(run_id)


def _first_hand_over(key: str) -> bool:
    """Whether no hand-over of this orphan is on record; with the cache unreachable (Redis down),
    hand it over anyway: a redundant task is harmless, a run left orphaned is not."""
    try:
        return cache.add(key, 1, timeout=settings.RUN_LEASE_SECONDS)
    except Exception:
        log.warning("the sweep could not check the cache; handing %s over again", key, exc_info=True)
        return True
