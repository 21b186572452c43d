"""Model faults the chaos harness injects (bench/chaos.py), each as one scripted reply: the engine
retries what a retry can mend and the customer reads each word once."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from runtime import runs
from runtime.engine.runner import execute_run
from runtime.models import Message, Run

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_malformed_chunk_mid_answer_is_retried_without_repeating_text(scripted, thread, assistant, tap):
    answer = "Your order A1001 is on its way and should arrive on Friday."
    scripted.text(answer, pieces=6, garbled_at=3)  # role chunk + 2 pieces, then a chunk of broken JSON
    scripted.text(answer, pieces=6)
    events = tap(thread.public_id)
    runs.message_create(thread=thread, role="user", content="Where is A1001?", author=Message.Author.CUSTOMER)

    run = runs.run_create(thread=thread, assistant=assistant)

    run.refresh_from_db()
    assert run.status == "completed", run.last_error
    assert len(scripted.requests) == 2
    deltas = [m["data"] for m in events.drain() if m["event"] == "thread.message.delta"]
    assert "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas) == answer
    assert [m.text for m in thread.messages.filter(role="assistant")] == [answer]


@pytest.fixture
def database_restart():
    """Cut the engine's database connection as a PostgreSQL restart does (pg_terminate_backend, from
    another connection), when called."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        engine_backend = cursor.fetchone()[0]
    db = connection.settings_dict

    def restart(_chunk: int = 0) -> None:
        with psycopg.connect(
            host=db["HOST"] or "localhost", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], autocommit=True
        ) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [engine_backend])

    return restart


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL restart")
def test_a_database_restart_mid_answer_leaves_the_run_to_be_resumed_not_failed(
    scripted, settings, thread, assistant, database_restart
):
    settings.STREAM_BATCH_MS = 0
    answer = "Your order A1001 is on its way and should arrive on Friday."
    scripted.text(answer, pieces=6, before_chunk=lambda n: n == 3 and database_restart())
    scripted.text(answer, pieces=6)
    runs.message_create(thread=thread, role="user", content="Where is A1001?", author=Message.Author.CUSTOMER)

    run = runs.run_create(thread=thread, assistant=assistant)  # the engine loses its connection mid-answer

    connection.close()
    run = Run.objects.get(pk=run.pk)
    assert (run.status, run.last_error) == ("in_progress", None)  # the customer was not told it failed
    Run.objects.filter(pk=run.pk).update(lease_expires_at=run.created_at)  # the lease lapses; the sweep hands it on
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == "completed"
    assert thread.messages.filter(role="assistant", status="completed").get().text == answer


def test_a_run_resumed_after_its_answer_was_stored_completes_without_answering_twice(scripted, thread, assistant):
    answer = "Your order A1001 is on its way and should arrive on Friday."
    scripted.text(answer)
    scripted.text(answer)  # what the model would say if it were asked again
    runs.message_create(thread=thread, role="user", content="Where is A1001?", author=Message.Author.CUSTOMER)
    run = runs.run_create(thread=thread, assistant=assistant)
    # The worker stored the answer, then died before the run completed (found by bench/chaos.py's
    # kills): the run is still in progress under a lease that lapses, and the sweep hands it on.
    Run.objects.filter(pk=run.pk).update(status="in_progress", completed_at=None, lease_expires_at=run.created_at)

    execute_run(run.pk)

    run.refresh_from_db()
    assert run.status == "completed"
    assert len(scripted.requests) == 1
    assert [m.text for m in thread.messages.filter(role="assistant")] == [answer]
