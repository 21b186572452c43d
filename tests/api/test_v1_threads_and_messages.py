"""/v1/threads and their messages: shapes per the openai SDK's types, the busy-thread rule, validation."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from openai.types.beta import Thread as SdkThread
from openai.types.beta import ThreadDeleted
from openai.types.beta.threads import Message as SdkMessage
from openai.types.beta.threads import MessageDeleted

from runtime import events
from runtime.api import access
from runtime.models import Assistant, Message, Run, Thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(client):
    return client.post("/v1/threads", {}).json()


def test_a_thread_is_created_with_its_initial_messages_in_order(owner_client):
    owner, client = owner_client
    response = client.post(
        "/v1/threads",
        {
            "messages": [
                {"role": "user", "content": "Where is my order?", "metadata": {"source": "email"}},
                {"role": "assistant", "content": [{"type": "text", "text": "Which order number?"}]},
                {"role": "user", "content": "A1001"},
            ],
            "metadata": {"customer": "alice"},
        },
    )

    assert response.status_code == 200
    body = response.json()
    SdkThread.model_validate(body, strict=True)
    assert body["metadata"] == {"customer": "alice"} and body["tool_resources"] == {}
    thread = Thread.objects.get(public_id=body["id"])
    assert thread.owner == owner
    assert [(m.role, m.text) for m in thread.messages.all()] == [
        ("user", "Where is my order?"),
        ("assistant", "Which order number?"),
        ("user", "A1001"),
    ]
    listed = client.get(f"/v1/threads/{body['id']}/messages", {"order": "asc"}).json()["data"]
    assert listed[0]["metadata"] == {"source": "email"}


def test_retrieve_modify_and_delete_a_thread(client, thread):
    url = f"/v1/threads/{thread['id']}"
    client.post(f"{url}/messages", {"role": "user", "content": "Hi"})

    assert client.get(url).json() == thread
    modified = client.post(url, {"metadata": {"priority": "high"}}).json()
    assert modified["metadata"] == {"priority": "high"}
    assert client.post(url, {"metadata": {"a": "b"}, "messages": []}).status_code == 400  # not a modify field

    deleted = client.delete(url).json()
    ThreadDeleted.model_validate(deleted, strict=True)
    assert deleted == {"id": thread["id"], "object": "thread.deleted", "deleted": True}
    assert client.get(url).status_code == 404
    assert not Message.objects.filter(thread__public_id=thread["id"]).exists()


def test_a_message_has_every_field_of_the_api(client, thread):
    response = client.post(
        f"/v1/threads/{thread['id']}/messages",
        {"role": "user", "content": "What is your return policy?", "metadata": {"k": "v"}},
    )

    assert response.status_code == 200
    body = response.json()
    SdkMessage.model_validate(body, strict=True)
    assert body["content"] == [{"type": "text", "text": {"value": "What is your return policy?", "annotations": []}}]
    assert body["status"] == "completed" and body["role"] == "user" and body["thread_id"] == thread["id"]
    assert body["assistant_id"] is None and body["run_id"] is None and body["attachments"] == []
    assert client.get(f"/v1/threads/{thread['id']}/messages/{body['id']}").json() == body


def test_a_message_metadata_can_be_modified_and_the_message_deleted(client, thread):
    base = f"/v1/threads/{thread['id']}/messages"
    message = client.post(base, {"role": "user", "content": "Hi"}).json()

    modified = client.post(f"{base}/{message['id']}", {"metadata": {"tag": "greeting"}}).json()
    refused = client.post(f"{base}/{message['id']}", {"content": "Edited"})
    deleted = client.delete(f"{base}/{message['id']}").json()

    assert modified["metadata"] == {"tag": "greeting"} and modified["content"] == message["content"]
    assert refused.status_code == 400
    MessageDeleted.model_validate(deleted, strict=True)
    assert deleted["object"] == "thread.message.deleted"
    assert client.get(f"{base}/{message['id']}").status_code == 404


def test_messages_on_a_thread_with_an_active_run_are_refused_with_400_not_409(owner_client, thread):
    owner, client = owner_client
    row = Thread.objects.get(public_id=thread["id"])
    assistant = Assistant.objects.create(owner=owner, model="m")
    client.post(f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": "first"})
    run = Run.objects.create(thread=row, assistant=assistant, model="m", status="in_progress")
    message = row.messages.get()

    added = client.post(f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": "Hello?"})
    removed = client.delete(f"/v1/threads/{thread['id']}/messages/{message.public_id}")

    assert added.status_code == 400
    assert added.json()["error"]["message"] == (
        f"Can't add messages to {thread['id']} while a run {run.public_id} is active."
    )
    assert removed.status_code == 400
    assert row.messages.count() == 1


def test_messages_are_listed_by_run(owner_client, thread):
    owner, client = owner_client
    row = Thread.objects.get(public_id=thread["id"])
    assistant = Assistant.objects.create(owner=owner, model="m")
    run = Run.objects.create(thread=row, assistant=assistant, model="m", status="completed")
    client.post(f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": "Question"})
    Message.objects.create(thread=row, role="assistant", author="assistant", run=run, assistant=assistant)

    mine = client.get(f"/v1/threads/{thread['id']}/messages", {"run_id": run.public_id}).json()["data"]

    assert len(mine) == 1
    assert mine[0]["run_id"] == run.public_id and mine[0]["assistant_id"] == assistant.public_id


@pytest.mark.parametrize(
    ("payload", "param", "words"),
    [
        ({"role": "system", "content": "Hi"}, "role", "not a valid choice"),
        ({"role": "user"}, "content", "required"),
        ({"role": "user", "content": "   "}, None, "must not be empty"),
        ({"role": "user", "content": [{"type": "audio", "audio": {}}]}, None, "Unsupported content part"),
        ({"role": "user", "content": "Hi", "metadata": {str(i): "" for i in range(17)}}, "metadata", "at most 16"),
        ({"role": "user", "content": "Hi", "file_ids": ["file-1"]}, "file_ids", "Unrecognized request argument"),
    ],
)
def test_invalid_messages_are_refused(client, thread, payload, param, words):
    response = client.post(f"/v1/threads/{thread['id']}/messages", payload)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert words in response.json()["error"]["message"]
    assert not Message.objects.exists()


def test_message_content_is_capped_in_length(settings, client, thread):
    settings.V1_MESSAGE_MAX_CHARS = 100
    ok = client.post(f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": "x" * 100})
    too_long = client.post(
        f"/v1/threads/{thread['id']}/messages",
        {"role": "user", "content": [{"type": "text", "text": "x" * 60}, {"type": "text", "text": "y" * 60}]},
    )
    in_a_new_thread = client.post("/v1/threads", {"messages": [{"role": "user", "content": "z" * 101}]})

    assert ok.status_code == 200
    assert too_long.status_code == 400
    assert too_long.json()["error"]["message"].startswith("Invalid 'content': string too long.")
    assert in_a_new_thread.status_code == 400
    assert Message.objects.count() == 1


def announced_message(thread_id: str) -> Message:
    """A message the assistant has begun: announced with its first words, not stored yet."""
    message = Message(
        thread=Thread.objects.get(public_id=thread_id),
        role=Message.Role.ASSISTANT,
        author=Message.Author.ASSISTANT,
        status=Message.Status.IN_PROGRESS,
    )
    events.save_stream_snapshot(thread_id, message_id=message.public_id, run_id="run_x", text="Your order", seq=5)
    return message


def writer_later(then) -> threading.Thread:
    """The engine's writer, a moment later in another thread: `then()`, and the release."""

    def act() -> None:
        time.sleep(0.05)
        try:
            then()
        finally:
            connection.close()

    worker = threading.Thread(target=act)
    worker.start()
    return worker


@pytest.mark.django_db(transaction=True)  # the writer's thread must see the thread row
def test_a_message_fetched_between_its_announcement_and_its_storing_is_waited_for(client, thread):
    message = announced_message(thread["id"])

    def store() -> None:
        message.save(force_insert=True)
        events.release_message(message.public_id)

    writer = writer_later(store)
    started = time.monotonic()
    response = client.get(f"/v1/threads/{thread['id']}/messages/{message.public_id}")
    waited = time.monotonic() - started
    writer.join()

    assert response.status_code == 200
    body = response.json()
    SdkMessage.model_validate(body, strict=True)
    assert body["id"] == message.public_id and body["status"] == "in_progress"
    assert waited < access.STORE_WAIT_SECONDS  # released by the writer, not timed out


@pytest.mark.django_db(transaction=True)
def test_a_message_announced_and_then_given_up_is_not_found_at_once(client, thread):
    message = announced_message(thread["id"])

    def give_up() -> None:
        events.clear_stream_snapshot(thread["id"])
        events.release_message(message.public_id)

    writer = writer_later(give_up)
    started = time.monotonic()
    response = client.get(f"/v1/threads/{thread['id']}/messages/{message.public_id}")
    waited = time.monotonic() - started
    writer.join()

    assert response.status_code == 404
    assert waited < access.STORE_WAIT_SECONDS
    assert Message.objects.filter(public_id=message.public_id).count() == 0
