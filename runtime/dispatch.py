"""How background work (a run, a summary) reaches something that executes it: settings.RUN_DISPATCH.

- "celery": the Celery task on the broker (production; separate worker processes).
- "thread": a thread pool in this process (the embedded default: no broker, and conversations
  must not wait on each other, which Celery's eager mode would make them do).
- "inline": in the calling thread (tests: deterministic).

Always after the current transaction commits, so the worker finds what it is asked to work on.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from celery import Task
from django.conf import settings
from django.db import close_old_connections, connection, transaction

log = logging.getLogger(__name__)
_pool: ThreadPoolExecutor | None = None
SWEEP_SECONDS = 30


def _embedded_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.EMBEDDED_RUN_WORKERS, thread_name_prefix="work")
        threading.Thread(target=_beat_forever, name="beat", daemon=True).start()
    return _pool


def _beat_forever(stop: threading.Event | None = None) -> None:
    """The embedded stand-in for Celery beat: the tasks of CELERY_BEAT_SCHEDULE (schedules in
    seconds), each in this thread when it is due, until `stop` is set."""
    from config.celery import app

    stop = stop or threading.Event()
    app.loader.import_default_modules()  # the apps' tasks modules, so every scheduled task is known
    schedule = {entry["task"]: float(entry["schedule"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    due = {task: time.monotonic() + seconds for task, seconds in schedule.items()}
    while schedule and not stop.wait(max(0.0, min(due.values()) - time.monotonic())):
        for task, seconds in schedule.items():
            if time.monotonic() >= due[task]:
                due[task] = time.monotonic() + seconds
                _run_in_thread(app.tasks[task], ())


def sweep_runs() -> None:
    """Expire runs past their expiry, and hand runs that nobody is executing to a worker again.

    Nobody executes a run left queued (its task failed before claiming it, e.g. the database was
    unreachable, or a restarted server lost it) or in progress under a lapsed lease (its worker
    died). Claiming makes a second hand-over harmless.
    """
    from runtime import lifecycle

    lifecycle.expire_stale_runs()
    for run_id in lifecycle.orphaned_runs(older_than_seconds=SWEEP_SECONDS):
        enqueue_run(run_id)


def _execute_task() -> Task:
    from runtime.tasks import execute_run_task

    return execute_run_task


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
    enqueue(_execute_task(), run_id)
