"""How background work (a run, a summary) reaches something that executes it: settings.RUN_DISPATCH.

- "celery": the Celery task on the broker (production; separate worker processes).
- "thread": a thread pool in this process (the embedded default: no broker, and conversations
  must not wait on each other, which Celery's eager mode would make them do): runtime.embedded.
- "inline": in the calling thread (tests: deterministic).

Always after the current transaction commits, so the worker finds what it is asked to work on.
Tasks are named, not imported: they live in the apps' tasks modules, above everything that enqueues.
"""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.db import transaction

from runtime import embedded

EXECUTE_RUN = "support.tasks.execute_run"


def enqueue(task_name: str, *args) -> None:
    """Run the named task with `args` in the background once the current transaction commits."""
    mode = settings.RUN_DISPATCH
    if mode == "celery":
        transaction.on_commit(lambda: current_app.tasks[task_name].apply_async(args=args))
    elif mode == "thread":
        transaction.on_commit(lambda: embedded.submit(task_name, args))
    elif mode == "inline":
        transaction.on_commit(lambda: current_app.tasks[task_name].run(*args))
    else:
        raise ValueError(f"RUN_DISPATCH must be celery, thread or inline, not {mode!r}")


def enqueue_run(run_id: int) -> None:
    enqueue(EXECUTE_RUN, run_id)
