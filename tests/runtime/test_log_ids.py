"""A run's log lines, in whichever module they are written, carry its run and thread ids."""

from __future__ import annotations

import logging

import pytest

from runtime import hooks, runs
from tests.ops.logs import kept_records

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_lines_logged_while_a_run_executes_carry_its_ids(scripted, thread, assistant):
    def note_rest(sender, *, run, **kwargs):
        logging.getLogger("a.plug_in").info("run came to rest")

    hooks.run_rested.connect(note_rest)
    scripted.text("Hello!")
    try:
        with kept_records() as records:
            run = runs.run_create(thread=thread, assistant=assistant)
            logging.getLogger("a.plug_in").info("after the run")
    finally:
        hooks.run_rested.disconnect(note_rest)
    rested, after = [r for r in records if r.name == "a.plug_in"]
    assert (rested.run_id, rested.thread_id) == (run.public_id, thread.public_id)
    assert not hasattr(after, "run_id")
