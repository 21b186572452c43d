"""How background work (a run, a summary) reaches something that executes it: settings.RUN_DISPATCH.

- "celery": the Celery task on the broker (production; separate worker processes).
- "thread": a thread pool in this process (the embedded default: no broker, and conversations
  must not wait on each other, which Celery's eager mode would make them do).
- "inline": in the calling thread (tests: deterministic).

Always after the current transaction commits, so the worker finds what it is asked to work on.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from celery import Task
from django.conf import settings
from django.db import close_old_connections, connection, transaction

log = logging.getLogger(__name__)
_pool: ThreadPoolExecutor | None = None


def _embedded_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.EMBEDDED_RUN_WORKERS, thread_name_prefix="work")
    return _pool


def _run_in_thread(task: Task, args: tuple) -> None:
    close_old_connections()
    try:
        task.run(*args)
    except Exception:
        log.exception("background task %s%r failed", task.name, args)
    finally:
        connection.close()


def enqueue(task: Task, *args) -> None:
    """Run `task(*args)` in the background once the current transaction commits."""
    mode = settings.RUN_DISPATCH
    if mode == "celery":
        transaction.on_commit(lambda: task.apply_async(args=args))
    elif mode == "thread":
        transaction.on_commit(lambda: _embedded_pool().submit(_run_in_thread, task, args))
    elif mode == "inline":
        transaction.on_commit(lambda: task.run(*args))
    else:
        raise ValueError(f"RUN_DISPATCH must be celery, thread or inline, not {mode!r}")


def enqueue_run(run_id: int) -> None:
    from support.tasks import execute_run_task

    enqueue(execute_run_task, run_id)
