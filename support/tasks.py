"""Celery tasks of the runtime: thin wrappers around the engine and the lifecycle."""

from __future__ import annotations

from celery import shared_task

from support import lifecycle
from support.engine.runner import execute_run


@shared_task(name="support.tasks.execute_run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_run_task(run_id: int) -> None:
    """Execute one run. Safe to deliver twice: the engine claims the run before it acts."""
    execute_run(run_id)


@shared_task(name="support.tasks.expire_stale_runs", ignore_result=True)
def expire_stale_runs() -> int:
    return lifecycle.expire_stale_runs()
