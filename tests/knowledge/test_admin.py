"""The knowledge admin: everything readable; deleting a file, taking a file out of a store and
ingesting a failed file again go through knowledge.services, as from the API and the console."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from knowledge import services
from knowledge.help_centre import ensure_help_centre
from knowledge.models import Chunk, File, UnansweredQuestion, VectorStore, VectorStoreFile
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RETURNS = b"# Returns\n\n## Returns window\n\nYou can return any item within 30 days of delivery.\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
MODELS = [File, VectorStore, VectorStoreFile, Chunk, UnansweredQuestion]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def admin(db) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pass-for-tests"))
    return client


@pytest.fixture
def store(db) -> VectorStore:
    return ensure_help_centre()[0]


def add(store: VectorStore, name: str, data: bytes, capture, *, owner=None, purpose="assistants") -> VectorStoreFile:
    """A file added to `store` and read, as the worker would after the commit."""
    with capture(execute=True):
        file = services.file_create(owner=owner, upload=SimpleUploadedFile(name, data), purpose=purpose)
        store_file = services.store_file_add(store, file)
    store_file.refresh_from_db()
    return store_file


def changelist(model, **query) -> str:
    url = reverse(f"admin:knowledge_{model._meta.model_name}_changelist")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def change_page(obj) -> str:
    return reverse(f"admin:knowledge_{obj._meta.model_name}_change", args=[obj.pk])


def shown_messages(response) -> list[str]:
    return [message.message for message in response.context["messages"]]


def test_every_page_opens(admin, store, django_capture_on_commit_callbacks):
    read = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    UnansweredQuestion.objects.create(question="Gift wrap?", normalized="gift wrap", reason="nothing_found")
    for model in MODELS:
        assert admin.get(changelist(model)).status_code == 200, model
    for obj in [read.file, store, read, read.chunks.first(), UnansweredQuestion.objects.get()]:
        assert admin.get(change_page(obj)).status_code == 200, obj


def test_files_are_found_by_name_or_id_and_filtered_by_purpose(admin, store, django_capture_on_commit_callbacks):
    returns = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks).file
    notes = services.file_create(
        owner=UserFactory(username="api-owner"), upload=SimpleUploadedFile("notes.txt", b"notes"), purpose="user_data"
    )
    found = lambda **query: list(admin.get(changelist(File, **query)).context["cl"].result_list)  # noqa: E731
    assert found(q="returns") == [returns]
    assert found(q=notes.public_id) == [notes]
    assert found(purpose__exact="user_data") == [notes]
    assert found(purpose__exact="assistants") == [returns]


def test_deleting_a_file_goes_through_the_service(admin, store, django_capture_on_commit_callbacks):
    store_file = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    version = VectorStore.objects.get(pk=store.pk).version
    stored = store_file.file.content.path
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("admin:knowledge_file_delete", args=[store_file.file.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not File.objects.exists() and not VectorStoreFile.objects.exists() and not Chunk.objects.exists()
    assert VectorStore.objects.get(pk=store.pk).version == version + 1  # searches stop finding it at once
    assert not (store_file.file.content.storage.exists(stored))


def test_deleting_selected_files_goes_through_the_service(admin, store, django_capture_on_commit_callbacks):
    first = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    second = add(store, "more.md", RETURNS + b"\nMore.", django_capture_on_commit_callbacks)
    version = VectorStore.objects.get(pk=store.pk).version
    body = {"action": "delete_selected", "_selected_action": [first.file.pk, second.file.pk], "post": "yes"}
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(changelist(File), body)
    assert not File.objects.exists() and not Chunk.objects.exists()
    assert VectorStore.objects.get(pk=store.pk).version == version + 2


def test_files_in_stores_are_filtered_by_status_and_show_their_error(admin, store, django_capture_on_commit_callbacks):
    read = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    broken = add(store, "manual.pdf", PNG, django_capture_on_commit_callbacks)
    assert (read.status, broken.status) == ("completed", "failed")
    response = admin.get(changelist(VectorStoreFile, status__exact="failed"))
    assert list(response.context["cl"].result_list) == [broken]
    html = response.content.decode()
    assert "unsupported_file: This file (a PNG image) can&#x27;t be searched." in html
    assert "unsupported_file" in admin.get(change_page(broken)).content.decode()


def test_ingest_again_reads_a_failed_file_once_more(admin, store, django_capture_on_commit_callbacks):
    # A file that failed for a passing reason (the embedding provider was down): reading it again works.
    store_file = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    Chunk.objects.filter(store_file=store_file).delete()
    error = {"code": "server_error", "message": "The file could not be processed. Try again later."}
    VectorStoreFile.objects.filter(pk=store_file.pk).update(status="failed", last_error=error, attempts=3)

    body = {"action": "ingest_again", "_selected_action": [store_file.pk]}
    with django_capture_on_commit_callbacks() as ingestion:
        response = admin.post(changelist(VectorStoreFile), body, follow=True)
    assert shown_messages(response) == ["Queued 1 file(s) to be ingested again."]
    store_file.refresh_from_db()
    assert (store_file.status, store_file.last_error, store_file.attempts) == ("in_progress", None, 0)
    assert len(ingestion) == 1

    for callback in ingestion:
        callback()
    store_file.refresh_from_db()
    assert store_file.status == "completed" and store_file.chunks.exists()


def test_ingest_again_leaves_files_that_did_not_fail(admin, store, django_capture_on_commit_callbacks):
    read = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as ingestion:
        response = admin.post(
            changelist(VectorStoreFile), {"action": "ingest_again", "_selected_action": [read.pk]}, follow=True
        )
    assert shown_messages(response) == ["Left 1 file(s) as they are: only failed files are ingested again."]
    assert ingestion == []
    read.refresh_from_db()
    assert read.status == "completed"


def test_retrying_twice_queues_the_file_once(store, django_capture_on_commit_callbacks):
    broken = add(store, "manual.pdf", PNG, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as ingestion:
        assert services.store_file_retry(broken) is True
        assert services.store_file_retry(broken) is False
    assert len(ingestion) == 1


def test_removing_a_file_from_a_store_keeps_the_file(admin, store, django_capture_on_commit_callbacks):
    store_file = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    response = admin.post(reverse("admin:knowledge_vectorstorefile_delete", args=[store_file.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not VectorStoreFile.objects.exists() and not Chunk.objects.exists()
    assert File.objects.filter(pk=store_file.file_id).exists()


def test_chunks_and_unanswered_questions_are_read_only(admin, store, django_capture_on_commit_callbacks):
    chunk = add(store, "returns.md", RETURNS, django_capture_on_commit_callbacks).chunks.first()
    question = UnansweredQuestion.objects.create(
        question="Gift wrap?", normalized="gift wrap", reason="nothing_found", thread_public_id="thread_x"
    )
    for obj in [chunk, question]:
        model = type(obj)
        assert admin.get(reverse(f"admin:knowledge_{model._meta.model_name}_add")).status_code == 403
        assert admin.post(change_page(obj), {"text": "changed", "question": "changed"}).status_code == 403
        assert admin.post(reverse(f"admin:knowledge_{model._meta.model_name}_delete", args=[obj.pk])).status_code == 403
    chunk.refresh_from_db()
    question.refresh_from_db()
    assert chunk.text != "changed" and question.question == "Gift wrap?"
    html = admin.get(changelist(UnansweredQuestion)).content.decode()
    assert 'href="/console/conversations/thread_x/"' in html  # to the conversation it was asked in
    assert "embedding" not in admin.get(change_page(chunk)).content.decode()
