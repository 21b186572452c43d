"""Ingestion under failure: a provider that fails, two workers, a worker that died, a file removed or
cancelled while it was being read, expiry. Whatever happens, a file ends completed, failed with
last_error, or cancelled: never in_progress for good, never half its chunks.

The embedding provider is the boundary faked here (runtime.llm.client.embed as knowledge.ingest
calls it); everything else is the real pipeline on the test database.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from knowledge import ingest, services, tasks
from knowledge.models import Chunk, File, VectorStore, VectorStoreFile
from runtime.llm.client import EmbeddingFailed, embed

pytestmark = pytest.mark.django_db  # not transactional: nothing is ingested until a test says so

S = VectorStoreFile.Status
ARTICLE = b"# Returns\n\n## Return window\nYou can return most items within 30 days of delivery.\n"


@pytest.fixture
def waiting():
    """A store file added but not ingested yet (its on-commit ingestion never fires in this test)."""
    store = services.vector_store_create(owner=None, name="help")
    file = services.file_create(owner=None, upload=ContentFile(ARTICLE, name="returns.md"), purpose="assistants")
    return services.store_file_add(store, file)


def failing(code="server_error", *, retryable=True):
    def embed_that_fails(texts):
        raise EmbeddingFailed(code, "the provider said no", retryable=retryable)

    return embed_that_fails


def state(store_file):
    store_file.refresh_from_db()
    return store_file.status, store_file.last_error, store_file.attempts


def test_a_provider_that_keeps_failing_leaves_the_file_failed_after_the_last_attempt(waiting, monkeypatch):
    monkeypatch.setattr(ingest, "embed", failing())

    for attempt in range(1, ingest.MAX_ATTEMPTS):
        with pytest.raises(EmbeddingFailed):  # the task retries it
            ingest.ingest(waiting.pk, worker="w1")
        assert state(waiting) == (S.IN_PROGRESS, None, attempt)
    assert ingest.ingest(waiting.pk, worker="w1") == S.FAILED

    status, error, attempts = state(waiting)
    assert (status, error["code"], attempts) == (S.FAILED, "server_error", ingest.MAX_ATTEMPTS)
    assert not Chunk.objects.exists()


def test_a_provider_that_says_trying_again_cannot_help_fails_the_file_at_once(waiting, monkeypatch):
    monkeypatch.setattr(ingest, "embed", failing("invalid_prompt", retryable=False))

    assert ingest.ingest(waiting.pk, worker="w1") == S.FAILED
    assert state(waiting)[1]["code"] == "server_error" and state(waiting)[2] == 1


def test_a_provider_that_recovers_gets_the_file_ingested_on_a_later_attempt(waiting, monkeypatch):
    monkeypatch.setattr(ingest, "embed", failing())
    with pytest.raises(EmbeddingFailed):
        ingest.ingest(waiting.pk, worker="w1")

    monkeypatch.setattr(ingest, "embed", embed)
    assert ingest.ingest(waiting.pk, worker="w1") == S.COMPLETED
    assert state(waiting)[:2] == (S.COMPLETED, None)
    assert Chunk.objects.filter(store_file=waiting).count() == 1


def test_a_file_that_cannot_be_read_fails_once_with_the_reason(waiting):
    unreadable = services.file_create(
        owner=None, upload=ContentFile(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, name="photo.png"), purpose="assistants"
    )
    store_file = services.store_file_add(waiting.vector_store, unreadable)

    assert ingest.ingest(store_file.pk, worker="w1") == S.FAILED
    status, error, attempts = state(store_file)
    assert (status, error["code"], attempts) == (S.FAILED, "unsupported_file", 1)
    assert error["message"]


def test_two_workers_never_ingest_the_same_file_at_once(waiting, monkeypatch):
    second_worker_got = []

    def embed_while_another_worker_tries(texts):
        second_worker_got.append(ingest.ingest(waiting.pk, worker="w2"))
        return embed(texts)

    monkeypatch.setattr(ingest, "embed", embed_while_another_worker_tries)

    assert ingest.ingest(waiting.pk, worker="w1") == S.COMPLETED
    assert second_worker_got == [None]
    assert Chunk.objects.filter(store_file=waiting).count() == 1
    assert state(waiting)[2] == 1


def test_a_dead_workers_file_is_swept_to_another_worker_when_its_lease_lapses(waiting, monkeypatch):
    VectorStoreFile.objects.filter(pk=waiting.pk).update(
        claimed_by="dead", attempts=1, lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert services.stalled_ingestions(older_than=timedelta(0)) == []  # held: nobody else takes it
    assert ingest.ingest(waiting.pk, worker="w2") is None

    VectorStoreFile.objects.filter(pk=waiting.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    enqueued = []
    monkeypatch.setattr(tasks, "enqueue", lambda name, *args: enqueued.append((name, *args)))
    tasks.sweep()

    assert enqueued == [(services.INGEST, waiting.pk)]
    assert ingest.ingest(waiting.pk, worker="w2") == S.COMPLETED
    assert state(waiting)[0] == S.COMPLETED and state(waiting)[2] == 2


def test_a_file_removed_from_the_store_while_it_was_read_leaves_nothing_behind(waiting, monkeypatch):
    def embed_then_remove(texts):
        services.store_file_remove(VectorStoreFile.objects.get(pk=waiting.pk))
        return embed(texts)

    monkeypatch.setattr(ingest, "embed", embed_then_remove)

    assert ingest.ingest(waiting.pk, worker="w1") is None
    assert not VectorStoreFile.objects.filter(pk=waiting.pk).exists()
    assert not Chunk.objects.exists()


def test_a_file_cancelled_while_it_was_read_stays_cancelled_without_chunks(waiting, monkeypatch):
    batch = services.batch_create(waiting.vector_store, files=[(waiting.file, None, None)])
    store_file = VectorStoreFile.objects.get(pk=waiting.pk)
    VectorStoreFile.objects.filter(pk=store_file.pk).update(batch=batch)

    def embed_then_cancel(texts):
        services.batch_cancel(batch)
        return embed(texts)

    monkeypatch.setattr(ingest, "embed", embed_then_cancel)

    assert ingest.ingest(waiting.pk, worker="w1") == S.CANCELLED
    assert state(waiting)[0] == S.CANCELLED
    assert not Chunk.objects.exists()


def test_ingesting_again_replaces_the_chunks_rather_than_doubling_them(waiting):
    assert ingest.ingest(waiting.pk, worker="w1") == S.COMPLETED
    version = VectorStore.objects.get(pk=waiting.vector_store_id).version
    VectorStoreFile.objects.filter(pk=waiting.pk).update(status=S.IN_PROGRESS, lease_expires_at=None)

    assert ingest.ingest(waiting.pk, worker="w1") == S.COMPLETED
    assert Chunk.objects.filter(store_file=waiting).count() == 1
    assert VectorStore.objects.get(pk=waiting.vector_store_id).version == version + 1  # search reloads


def test_cancelling_a_batch_that_has_finished_leaves_it_as_it_ended(waiting):
    batch = services.batch_create(waiting.vector_store, files=[(waiting.file, None, None)])
    VectorStoreFile.objects.filter(pk=waiting.pk).update(batch=batch)
    assert ingest.ingest(waiting.pk, worker="w1") == S.COMPLETED

    services.batch_cancel(batch)

    batch.refresh_from_db()
    assert not batch.cancelled
    assert state(waiting)[0] == S.COMPLETED


def test_the_sweep_deletes_files_past_their_expiry_with_their_chunks(waiting):
    assert ingest.ingest(waiting.pk, worker="w1") == S.COMPLETED
    File.objects.filter(pk=waiting.file_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    tasks.sweep()

    assert not File.objects.filter(pk=waiting.file_id).exists()
    assert not VectorStoreFile.objects.exists() and not Chunk.objects.exists()


def test_reingesting_after_the_embedding_model_changed_replaces_every_files_vectors(
    waiting, monkeypatch, django_capture_on_commit_callbacks
):
    assert ingest.ingest(waiting.pk, worker="w1") == S.COMPLETED
    monkeypatch.setattr(ingest, "embed", lambda texts: [[1.0, 0.0, 0.0] for _ in texts])  # a narrower model

    with django_capture_on_commit_callbacks(execute=True):
        call_command("reingest_knowledge", stdout=io.StringIO())

    assert state(waiting)[:2] == (S.COMPLETED, None)
    (chunk,) = Chunk.objects.filter(store_file=waiting)
    assert len(chunk.embedding) == 3 * 4  # three float32s: the new model's
