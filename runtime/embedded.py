"""The embedded stand-ins for Celery's worker and beat (RUN_DISPATCH=thread, no broker): a thread
pool in this process runs the tasks, and a beat thread runs CELERY_BEAT_SCHEDULE's tasks when due.

Tasks are found by name in the Celery app's registry (each app's tasks module registers them when
Django is ready), so nothing here imports the tasks it runs.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, connection

log = logging.getLogger(__name__)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def submit(task_name: str, args: tuple) -> None:
    """Run the named task in the embedded pool; the first use starts the pool and (EMBEDDED_BEAT) the beat."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.EMBEDDED_RUN_WORKERS, thread_name_prefix="work")
            if settings.EMBEDDED_BEAT:
                threading.Thread(target=beat_forever, name="beat", daemon=True).start()
    _pool.submit(run_task, task_name, args)


def run_task(task_name: str, args: tuple) -> None:
    """Run a task here and now, with a fresh database connection, closed afterwards; its failure is logged."""
    close_old_connections()
    try:
        current_app.tasks[task_name].run(*args)
    except Exception:
        log.exception("background task %s%r failed", task_name, args)
    finally:
        connection.close()


def beat_forever(stop: threading.Event | None = None) -> None:
    """Each task of CELERY_BEAT_SCHEDULE (schedules in seconds) in this thread when it is due,
    until `stop` is set."""
    stop = stop or threading.Event()
    schedule = {entry["task"]: float(entry["schedule"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    due = {task: time.monotonic() + seconds for task, seconds in schedule.items()}
    while schedule and not stop.wait(max(0.0, min(due.values()) - time.monotonic())):
        for task, seconds in schedule.items():
            if time.monotonic() >= due[task]:
                due[task] = time.monotonic() + seconds
                run_task(task, ())
