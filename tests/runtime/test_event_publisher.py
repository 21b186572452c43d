"""The event publisher at a process's end: nothing queued is dropped, and no error is logged; and a
thread's sequence numbers, which only ever rise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.core.cache import cache

from runtime import events

PROJECT = Path(__file__).resolve().parent.parent.parent

# Publishes a burst and ends at once, as a worker does on shutdown. The report is registered
# first, so it runs last among the exit handlers, after the publisher's own.
SCRIPT = """
import atexit, django
django.setup()
from runtime import events
atexit.register(lambda: print("unsent at exit:", events._get_publisher()._pending, flush=True))
for i in range(500):
    events.publish("thread_exit_test", "typing", {"i": i})
"""


def test_a_process_that_ends_right_after_publishing_sends_everything_and_logs_no_error():
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=PROJECT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert "unsent at exit: 0" in done.stdout
    assert "Task was destroyed" not in done.stderr


def test_a_threads_sequence_goes_on_rising_when_its_counter_is_lost():
    """Redis restarted without its data (the chaos harness's Redis restart): the counter starts
    again above every number handed out, never at 1, which subscribers would drop as already seen."""
    thread_id = "thread_seq_restart"
    cache.delete(f"events:seq:{thread_id}")
    first = events.next_seq(thread_id)
    last = events.next_seq(thread_id, 3)
    assert last == first + 3 and events.current_seq(thread_id) == last
    assert first < 2**53  # JavaScript reads it exactly

    cache.delete(f"events:seq:{thread_id}")  # the restart

    assert events.next_seq(thread_id) > last
