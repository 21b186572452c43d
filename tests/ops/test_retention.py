"""Retention: conversations idle past RETENTION_DAYS go with their files; open ones, shared files,
orders and returns stay (ops.retention, `manage.py purge_conversations`, the beat task)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image

from agents.models import Escalation, InternalNote
from knowledge import images
from knowledge import services as knowledge
from knowledge.models import File, VectorStore
from ops.retention import purge_conversations
from ops.tasks import purge_old_conversations
from orders.assistant.persona import ensure_demo_assistant
from orders.models import Order, Return
from runtime import runs
from runtime.models import Message, Run, RunStep, Thread
from tests.factories import ReturnFactory, UserFactory

# Real runs of the offline model: its tools work in threads of their own, which see committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 60, 50)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, data: bytes, purpose: str = "vision", owner=None) -> File:
    return knowledge.file_create(owner=owner, upload=SimpleUploadedFile(name, data), purpose=purpose)


def conversation(text: str = "Where is my order A1001? My email is alice@example.com", **thread_fields) -> Thread:
    """A widget conversation answered by the demo assistant (a real run of the offline model)."""
    thread = runs.thread_create(assistant=ensure_demo_assistant()[0], **thread_fields)
    runs.customer_message_create(thread=thread, text=text)
    return thread


def age(thread: Thread, days: float) -> Thread:
    """Make everything in the conversation `days` old."""
    then = timezone.now() - timedelta(days=days)
    Thread.objects.filter(pk=thread.pk).update(created_at=then, updated_at=then)
    Message.objects.filter(thread=thread).update(created_at=then)
    Run.objects.filter(thread=thread).update(created_at=then, completed_at=then, started_at=then)
    Escalation.objects.filter(thread=thread).update(created_at=then)
    InternalNote.objects.filter(thread=thread).update(created_at=then)
    return thread


def exists(thread: Thread) -> bool:
    return Thread.objects.filter(pk=thread.pk).exists()


def test_an_old_closed_conversation_goes_with_its_messages_runs_and_files():
    thread = conversation()
    image = images.customer_image_create(thread_public_id=thread.public_id, data=png())  # the widget's photo
    leaflet = upload("leaflet.txt", b"Our returns leaflet: thirty days.", purpose="assistants")
    runs.message_create(
        thread=thread,
        role="user",
        author=Message.Author.CUSTOMER,
        content=[
            {"type": "text", "text": "The mug arrived broken"},
            {"type": "image_file", "image_file": {"file_id": image.public_id}},
        ],
        attachments=[{"file_id": leaflet.public_id, "tools": [{"type": "file_search"}]}],
    )
    thread.refresh_from_db()
    own_store = VectorStore.objects.get(metadata__thread_id=thread.public_id)
    agent = UserFactory(is_staff=True)
    Escalation.objects.create(
        thread=thread, trigger="customer_request", reason="broken", status="resolved", sla_due_at=timezone.now()
    )
    InternalNote.objects.create(thread=thread, author=agent, text="Sent a new mug")
    runs.threads.close(thread.pk)
    blobs = [image.content.name, leaflet.content.name]
    assert all(default_storage.exists(name) for name in blobs)
    assert Run.objects.filter(thread=thread, status="completed").exists()
    assert RunStep.objects.filter(run__thread=thread).exists()
    age(thread, days=40)

    call_command("purge_conversations", "--days", "30", stdout=io.StringIO())

    assert not exists(thread)
    assert not Message.objects.filter(thread_id=thread.pk).exists()
    assert not Run.objects.filter(thread_id=thread.pk).exists()
    assert not RunStep.objects.filter(run__thread_id=thread.pk).exists()
    assert not Escalation.objects.filter(thread_id=thread.pk).exists()
    assert not InternalNote.objects.filter(thread_id=thread.pk).exists()
    assert not File.objects.filter(pk__in=[image.pk, leaflet.pk]).exists()
    assert not VectorStore.objects.filter(pk=own_store.pk).exists()
    assert not any(default_storage.exists(name) for name in blobs)


def test_recent_waiting_and_busy_conversations_stay():
    recent = conversation()
    idle = conversation()
    waiting = age(conversation(), days=40)
    with_a_person = age(conversation(), days=40)
    busy = age(conversation(), days=40)
    spoke_yesterday = age(conversation(), days=40)
    age(recent, days=10)
    runs.threads.wait_for_person(waiting)
    Escalation.objects.create(thread=waiting, trigger="customer_request", reason="?", sla_due_at=timezone.now())
    age(idle, days=40)
    age(waiting, days=40)  # the escalation too: only its being open keeps the conversation
    Thread.objects.filter(pk=with_a_person.pk).update(mode=Thread.Mode.HUMAN)
    Run.objects.filter(thread=busy).update(status=Run.Status.IN_PROGRESS)
    Message.objects.filter(thread=spoke_yesterday).update(created_at=timezone.now() - timedelta(days=1))
    Thread.objects.filter(pk__in=[with_a_person.pk, busy.pk]).update(updated_at=timezone.now() - timedelta(days=40))

    counts = purge_conversations(days=30)

    assert counts["conversations"] == 1 and not exists(idle)
    assert all(exists(t) for t in (recent, waiting, with_a_person, busy, spoke_yesterday))


def test_a_file_also_in_an_assistants_store_stays():
    thread = conversation()
    shared = upload("policy.txt", b"Returns within thirty days.", purpose="assistants")
    knowledge.vector_store_create(owner=None, name="Shop policies", files=[shared])
    runs.message_create(
        thread=thread,
        role="user",
        author=Message.Author.CUSTOMER,
        content="See the policy",
        attachments=[{"file_id": shared.public_id, "tools": [{"type": "file_search"}]}],
    )
    age(thread, days=40)

    counts = purge_conversations(days=30)

    assert counts["conversations"] == 1 and counts["files"] == 0
    assert not exists(thread)
    shared.refresh_from_db()
    assert default_storage.exists(shared.content.name)
    assert shared.store_files.filter(vector_store__name="Shop policies").exists()


def test_a_file_another_conversation_shows_stays():
    """An API caller's file, shown in two of its threads: the old thread goes, the file stays."""
    owner = UserFactory()
    image = upload("photo.png", png(), owner=owner)
    part = [{"type": "image_file", "image_file": {"file_id": image.public_id}}]
    old, kept = conversation(owner=owner), conversation(owner=owner)
    for thread in (old, kept):
        runs.message_create(thread=thread, role="user", author=Message.Author.CUSTOMER, content=part)
    age(old, days=40)

    counts = purge_conversations(days=30)

    assert not exists(old) and exists(kept)
    assert counts["files"] == 0 and File.objects.filter(pk=image.pk).exists()


def test_a_dry_run_counts_and_deletes_nothing():
    thread = age(conversation(), days=40)
    messages = Message.objects.filter(thread=thread).count()
    out = io.StringIO()

    call_command("purge_conversations", "--days", "30", "--dry-run", stdout=out)

    assert exists(thread) and Message.objects.filter(thread=thread).count() == messages
    assert f"Would delete (idle for more than 30 days): 1 conversations, {messages} messages, 1 runs" in out.getvalue()


def test_orders_and_returns_outlive_the_conversation_that_proved_them(alice_order):
    returned = ReturnFactory(order=alice_order, item=alice_order.items.first())
    thread = conversation()
    assert thread.verified_orders.filter(order=alice_order).exists()  # the run proved A1001
    age(thread, days=40)

    purge_conversations(days=30)

    assert not exists(thread)
    assert Order.objects.filter(pk=alice_order.pk).exists() and Return.objects.filter(pk=returned.pk).exists()


def test_retention_is_off_by_default_and_the_task_follows_the_setting(settings):
    thread = age(conversation(), days=400)
    out = io.StringIO()

    call_command("purge_conversations", stdout=out)
    purge_old_conversations()

    assert "RETENTION_DAYS is 0" in out.getvalue() and exists(thread)
    settings.RETENTION_DAYS = 365
    purge_old_conversations()
    assert not exists(thread)


@pytest.mark.parametrize("days", ["-3", "10000000000"])
def test_days_out_of_range_are_refused_with_a_clear_error(days):
    with pytest.raises(CommandError, match="at least 1 day and at most 36500"):
        call_command("purge_conversations", "--days", days, stdout=io.StringIO())
