"""The embedded stand-in for Celery beat (RUN_DISPATCH=thread): the scheduled tasks, when due."""

from __future__ import annotations

import threading
import time

from celery import shared_task

from runtime import embedded

TICKS: list[float] = []


@shared_task(name="tests.runtime.test_embedded_beat.tick")
def tick() -> None:
    TICKS.append(time.monotonic())


def test_every_scheduled_task_runs_each_time_it_is_due(settings):
    settings.CELERY_BEAT_SCHEDULE = {
        "tick": {"task": "tests.runtime.test_embedded_beat.tick", "schedule": 0.05},
        "never due here": {"task": "support.tasks.sweep_runs", "schedule": 3600},
    }
    TICKS.clear()
    stop = threading.Event()
    beat = threading.Thread(target=embedded.beat_forever, args=(stop,), daemon=True)
    started = time.monotonic()
    beat.start()
    deadline = started + 5
    while len(TICKS) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    beat.join(timeout=2)

    assert not beat.is_alive()
    assert len(TICKS) >= 3
    assert TICKS[0] - started >= 0.05  # due a period after the start, not at once
