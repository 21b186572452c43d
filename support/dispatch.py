"""How a run reaches something that executes it, chosen by settings.RUN_DISPATCH.

- "celery": a Celery task on the broker (production; separate worker processes).
- "thread": a thread pool in this process (the embedded default: no broker, and conversations
  must not wait on each other, which Celery's eager mode would make them do).
- "inline": in the calling thread (tests: deterministic).

Always after the creating transaction commits, so the worker finds the run.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection, transaction

log = logging.getLogger(__name__)
_pool: ThreadPoolExecutor | None = None


def _embedded_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.EMBEDDED_RUN_WORKERS, thread_name_prefix="run")
    return _pool


def _execute_in_thread(run_id: int) -> None:
    from support.engine.runner import execute_run

    close_old_connections()
    try:
        execute_run(run_id)
    except Exception:
        log.exception("run %s crashed", run_id)
    finally:
        connection.close()


def enqueue_run(run_id: int) -> None:
    mode = settings.RUN_DISPATCH
    if mode == "celery":
        from support.tasks import execute_run_task

        transaction.on_commit(lambda: execute_run_task.apply_async(args=[run_id]))
    elif mode == "thread":
        transaction.on_commit(lambda: _embedded_pool().submit(_execute_in_thread, run_id))
    elif mode == "inline":
        from support.engine.runner import execute_run

        transaction.on_commit(lambda: execute_run(run_id))
    else:
        raise ValueError(f"RUN_DISPATCH must be celery, thread or inline, not {mode!r}")
