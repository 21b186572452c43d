"""Deliveries reach a worker the way the project's other tasks do (settings.RUN_DISPATCH), and the log is kept tidy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from agents.services import escalate
from tests.webhooks.receiver import Scripted
from webhooks import deliveries
from webhooks.models import Delivery, DeliveryAttempt, Event

sent_after_commit = pytest.mark.django_db(transaction=True)


@sent_after_commit
def test_in_the_embedded_default_a_worker_thread_of_this_process_delivers(settings, receiver, endpoint, thread):
    settings.RUN_DISPATCH = "thread"

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")

    assert receiver.arrived.wait(10)
    assert receiver.requests[0].headers["webhook-id"] == Delivery.objects.get().public_id


@sent_after_commit
def test_with_a_broker_the_celery_task_delivers_by_name(settings, receiver, endpoint, thread):
    settings.RUN_DISPATCH = "celery"  # no broker in tests: Celery runs the task eagerly, by its name
    assert {"webhooks.tasks.deliver", "webhooks.tasks.deliver_due", "webhooks.tasks.purge_log"} <= set(
        current_app.tasks
    )

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")

    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == "succeeded"


def test_beat_hands_out_due_retries_every_sweep(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["webhooks.tasks.deliver_due"] == settings.WEBHOOK_SWEEP_SECONDS
    assert "webhooks.tasks.purge_log" in schedule


@sent_after_commit
def test_old_finished_deliveries_are_purged_but_unfinished_ones_kept(settings, receiver, endpoint, thread):
    settings.WEBHOOK_LOG_RETENTION_DAYS = 30
    receiver.answer(Scripted(200), Scripted(500))
    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")
    thread.escalations.update(status="resolved")
    escalate(thread=thread, trigger="customer_request", reason="once more")
    finished, retrying = Delivery.objects.order_by("created_at", "id")
    assert (finished.status, retrying.status) == ("succeeded", "pending")
    Event.objects.update(created_at=timezone.now() - timedelta(days=31))

    assert deliveries.purge_log() == 1

    assert list(Delivery.objects.all()) == [retrying]
    assert not DeliveryAttempt.objects.filter(delivery_id=finished.pk).exists()
