"""Celery tasks of the runtime: thin wrappers around the engine and the lifecycle."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from runtime import dispatch
from runtime.engine.runner import execute_run


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
    dispatch.sweep_runs()
