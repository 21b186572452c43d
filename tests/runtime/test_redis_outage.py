"""Redis restarted mid-answer (bench/chaos.py's restarts): the database is the record, Redis the
live wire. A run whose events cannot be published goes on and completes; what was not published is
counted, and logged once for the outage, not once an event."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from runtime import events, runs
from runtime.models import Message
from tests.redis_server import own_redis

pytestmark = pytest.mark.django_db(transaction=True)


def unpublished(what: str) -> float:
    return REGISTRY.get_sample_value("concierge_events_unpublished_total", {"what": what}) or 0.0


@pytest.fixture
def redis(settings):
    yield from own_redis(settings)


@pytest.fixture
def fresh_wire(monkeypatch):
    """This process has seen no outage yet (an earlier test's may still be open)."""
    monkeypatch.setattr(events, "wire", events._Wire())


def test_a_redis_restart_mid_answer_does_not_fail_the_run(
    redis, fresh_wire, scripted, settings, thread, assistant, caplog
):
    settings.STREAM_BATCH_MS = 0  # a publish (and a snapshot) per chunk: most of the answer falls into the outage
    answer = "Your order A1001 is on its way and should arrive on Friday."
    scripted.text(answer, pieces=6, before_chunk=lambda n: n == 3 and redis.stop())
    runs.message_create(thread=thread, role="user", content="Where is A1001?", author=Message.Author.CUSTOMER)
    seqs_before = unpublished("seq")

    with caplog.at_level(logging.WARNING, logger="runtime.events"):
        run = runs.run_create(thread=thread, assistant=assistant)  # Redis goes down mid-answer

    run.refresh_from_db()
    assert (run.status, run.last_error) == ("completed", None)  # the model answered: the run did not fail
    assert thread.messages.filter(role="assistant", status="completed").get().text == answer
    assert unpublished("seq") - seqs_before >= 3  # the rest of the answer's deltas, its completion, the run's
    outage_logged = [r for r in caplog.records if r.getMessage().startswith("Redis does not answer")]
    assert len(outage_logged) == 1

    redis.start()  # back, empty: the thread's sequence goes on above what it handed out before
    assert events.next_seq(thread.public_id) > events.seq_floor() - 60_000_000
    assert [r for r in caplog.records if r.getMessage().startswith("Redis answers again")]


def test_publishing_and_the_snapshot_do_not_raise_while_redis_is_down(redis, fresh_wire):
    thread_id = "thread_redis_down"
    before = events.publish_many(thread_id, [("thread.run.queued", {}), ("thread.run.in_progress", {})])
    redis.stop()

    during = events.publish_many(thread_id, [("thread.message.delta", {}), ("thread.run.step.created", {})])
    events.save_stream_snapshot(thread_id, message_id="msg_1", run_id="run_1", text="Hello", seq=during)
    events.clear_stream_snapshot(thread_id)

    assert during > before  # a number from the clock: never one a subscriber already saw
    assert events.stream_snapshot(thread_id) is None and events.current_seq(thread_id) == 0
    assert events.wire.down_since is not None
