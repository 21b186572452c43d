"""At-least-once execution: a run delivered twice, or resumed after a crash, acts once."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orders.models import Return, VerifiedOrder
from runtime import runs, tasks
from runtime.engine.runner import execute_run
from runtime.models import Message, Run, RunStep, ToolCall

pytestmark = pytest.mark.django_db(transaction=True)

RETURN_ARGS = {"order_number": "A1001", "item": "MUG-1", "reason": "defective", "quantity": 1}


@pytest.fixture
def verified(thread, alice_order):
    VerifiedOrder.objects.create(thread=thread, order=alice_order)
    runs.message_create(thread=thread, role="user", content="Return one mug please", author="customer")
    return alice_order


def test_a_crash_after_the_tool_ran_resumes_from_the_stored_step_and_opens_one_return(
    scripted, thread, assistant, verified
):
    scripted.tool_calls(("initiate_return", RETURN_ARGS))
    scripted.text("Return opened.")
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == "completed" and Return.objects.count() == 1

    # The worker died after the return was opened but before the step's outcome was stored, and the
    # broker redelivered the task once the lease lapsed.
    step = run.steps.get(type="tool_calls")
    ToolCall.objects.filter(step=step).update(status="pending", output=None, finished_at=None)
    RunStep.objects.filter(pk=step.pk).update(status="in_progress", completed_at=None)
    Run.objects.filter(pk=run.pk).update(
        status="in_progress", completed_at=None, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    scripted.text("Return opened.")
    execute_run(run.pk)

    run.refresh_from_db()
    assert run.status == "completed"
    assert Return.objects.count() == 1
    call = ToolCall.objects.get(step=step)
    assert '"return_id"' in call.output
    assert len(scripted.requests) == 3  # resumed from the stored step: the model was not asked for the call again


class WorkerDied(BaseException):
    """The process ends here: nothing after this line of the worker runs (not an error it handles)."""


def test_a_worker_that_dies_while_its_tools_run_leaves_the_model_calls_usage_counted(
    scripted, thread, assistant, verified, monkeypatch
):
    scripted.tool_calls(("initiate_return", RETURN_ARGS), usage=(30, 15))

    def die(*args, **kwargs):
        raise WorkerDied()

    monkeypatch.setattr("runtime.engine.runner.execute_server_calls", die)
    with pytest.raises(WorkerDied):
        runs.run_create(thread=thread, assistant=assistant)

    run = Run.objects.get(thread=thread)
    step = run.steps.get(type="tool_calls")
    assert (step.prompt_tokens, step.completion_tokens) == (30, 15)
    assert (run.prompt_tokens, run.completion_tokens) == (30, 15)  # stored before any tool ran


def test_a_model_asked_again_with_new_call_ids_still_opens_one_return(scripted, thread, assistant, verified):
    scripted.tool_calls(("initiate_return", RETURN_ARGS))
    scripted.text("Return opened.")
    runs.run_create(thread=thread, assistant=assistant)
    first = Return.objects.get()

    runs.message_create(thread=thread, role="user", content="Did it work?", author="customer")
    scripted.tool_calls(("initiate_return", RETURN_ARGS))  # new ids: call_scripted…
    scripted.text("Yes, return opened.")
    run = runs.run_create(thread=thread, assistant=assistant)

    run.refresh_from_db()
    assert run.status == "completed"
    assert list(Return.objects.all()) == [first]
    first_output, second_output = (
        json.loads(text) for text in ToolCall.objects.filter(name="initiate_return").values_list("output", flat=True)
    )
    assert second_output == first_output  # the second call got the stored result


def test_a_run_delivered_twice_at_once_is_executed_once(scripted, settings, thread, assistant):
    if connection.vendor == "sqlite":
        settings.DATABASES["default"]["OPTIONS"]["timeout"] = 20
    scripted.text("Only once.")
    runs.message_create(thread=thread, role="user", content="Hi", author=Message.Author.CUSTOMER)
    run = Run.objects.create(thread=thread, assistant=assistant, model="m", expires_at=Run.default_expiry())

    def deliver():
        try:
            execute_run(run.pk)
        finally:
            connection.close()

    workers = [threading.Thread(target=deliver) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    run.refresh_from_db()
    assert run.status == "completed"
    assert len(scripted.requests) == 1
    assert thread.messages.filter(role="assistant").count() == 1


def lapsed_run(thread, assistant, **fields) -> Run:
    """A run in progress whose worker's lease lapsed 5 s ago: its worker died."""
    return Run.objects.create(
        thread=thread,
        assistant=assistant,
        model="m",
        status="in_progress",
        lease_expires_at=timezone.now() - timedelta(seconds=5),
        **fields,
    )


def test_the_sweep_finds_runs_nobody_executes(thread, assistant):
    old = timezone.now() - timedelta(minutes=5)
    stale_queued = Run.objects.create(thread=thread, assistant=assistant, model="m", created_at=old)
    abandoned = lapsed_run(thread.__class__.objects.create(assistant=assistant), assistant)
    running = Run.objects.create(
        thread=thread.__class__.objects.create(assistant=assistant),
        assistant=assistant,
        model="m",
        status="in_progress",
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )
    fresh = Run.objects.create(
        thread=thread.__class__.objects.create(assistant=assistant), assistant=assistant, model="m"
    )

    found = set(runs.orphaned_runs(older_than_seconds=30))
    assert {stale_queued.pk, abandoned.pk} <= found
    assert running.pk not in found and fresh.pk not in found


def test_the_sweep_answers_a_run_whose_task_never_claimed_it(scripted, thread, assistant):
    """E.g. the task failed on an unreachable database: the customer still gets the answer."""
    runs.message_create(thread=thread, role="user", content="Hello", author="customer")
    run = Run.objects.create(
        thread=thread, assistant=assistant, model="m", created_at=timezone.now() - timedelta(minutes=1)
    )
    scripted.text("Hello! How can I help?")

    tasks.sweep_runs()

    run.refresh_from_db()
    assert run.status == "completed"
    assert thread.messages.get(role="assistant").content[0]["text"]["value"] == "Hello! How can I help?"


def test_the_sweep_hands_a_run_over_once_per_lapsed_lease(thread, assistant, monkeypatch, settings):
    """Beat sweeps every RUN_SWEEP_SECONDS; a run whose worker died stays orphaned until a worker claims
    it, which may be a while when the queue is long or no worker is up. Each sweep handing it over
    again piled redundant tasks in front of the one that matters (the chaos harness counted 1,025
    execute_run tasks for 80 runs): once per lapsed lease, and again only if that task has not claimed
    it within a lease."""
    settings.RUN_LEASE_SECONDS = 1
    handed: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_run", handed.append)
    abandoned = lapsed_run(thread, assistant, claimed_by="worker1:4242:t1")
    queued = Run.objects.create(
        thread=thread.__class__.objects.create(assistant=assistant),
        assistant=assistant,
        model="m",
        created_at=timezone.now() - timedelta(minutes=5),
    )

    for _ in range(3):
        tasks.sweep_runs()
    assert sorted(handed) == sorted([abandoned.pk, queued.pk])

    # A worker claimed the run and died too: its lapsed lease is a new one, handed over at once.
    Run.objects.filter(pk=abandoned.pk).update(
        claimed_by="worker2:4343:t1", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    tasks.sweep_runs()
    assert handed.count(abandoned.pk) == 2 and handed.count(queued.pk) == 1

    # Nobody claimed them within a lease (the tasks were lost, or are still queued): handed over again.
    time.sleep(1.2)
    tasks.sweep_runs()
    assert handed.count(abandoned.pk) == 3 and handed.count(queued.pk) == 2


def test_the_sweep_hands_orphans_over_when_the_cache_is_unreachable(thread, assistant, monkeypatch):
    """Where the hand-overs are recorded (Redis, in production) may be down too: the sweep then hands
    an orphan over at every pass, as it did before it kept the record, rather than fail."""
    handed: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_run", handed.append)

    def unreachable(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.cache, "add", unreachable)
    abandoned = lapsed_run(thread, assistant, claimed_by="worker1:4242:t1")

    tasks.sweep_runs()
    tasks.sweep_runs()
    assert handed == [abandoned.pk, abandoned.pk]
