"""The official openai Python SDK against a live Concierge: every file id and vector store id /v1
takes must name one of the caller's own files or stores. One that does not exist, or another API
key's, is refused with a 400 naming the field (as the Assistants API refuses it), and nothing of the
request is kept: no message, no thread, no run.

Alice calls with her key; Bob's files and stores exist, and are as missing to her as made-up ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI

from accounts.models import ApiKey
from runtime.models import Message, Run, Thread
from tests.e2e.conftest import LiveServer, running_daphne, server_environment
from tests.factories import UserFactory
from tests.knowledge.v1 import RETURNS_MD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # the SDK marks the Assistants API deprecated
]

NO_FILE = "file-doesnotexist0000000000"
NO_STORE = "vs_doesnotexist000000000000"


@pytest.fixture(scope="module")
def files_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    """A daphne of this module's own, so uploads go to a directory of the test session's."""
    with django_db_blocker.unblock():
        env = {**server_environment(), "MEDIA_ROOT": str(tmp_path_factory.mktemp("media"))}
    with running_daphne(env, tmp_path_factory.mktemp("daphne") / "daphne.log") as server:
        yield server


def sdk(server: LiveServer, username: str) -> OpenAI:
    if server.process.poll() is not None:
        pytest.fail(f"the live server died:\n{server.log_tail()}")
    _, raw = ApiKey.issue(owner=UserFactory(username=username), name="sdk test")
    return OpenAI(base_url=f"{server.url}/v1", api_key=raw, timeout=60, max_retries=0)


@pytest.fixture
def alice(files_server, transactional_db) -> OpenAI:
    return sdk(files_server, "alice-ids")


@pytest.fixture
def bob(files_server, transactional_db) -> OpenAI:
    return sdk(files_server, "bob-ids")


@pytest.fixture
def bobs_file(bob):
    return bob.files.create(file=("returns.md", RETURNS_MD), purpose="assistants")


@pytest.fixture
def bobs_store(bob, bobs_file):
    """Bob's store, its file read: the server's ingestion is done before the test's end flushes the
    tables (a flush under an ingestion still writing its chunks deadlocks)."""
    store = bob.vector_stores.create(name="Bob's", file_ids=[bobs_file.id])
    deadline = time.monotonic() + 60
    while store.file_counts.in_progress and time.monotonic() < deadline:
        time.sleep(0.2)
        store = bob.vector_stores.retrieve(store.id)
    assert store.file_counts.in_progress == 0, store.file_counts
    return store


@pytest.fixture
def assistant(alice):
    return alice.beta.assistants.create(model="gpt-4o-mini", name="Files", tools=[{"type": "file_search"}])


def refused(call, param: str) -> str:
    """Make the call; it must be refused with a 400 naming `param`. Returns the error's message."""
    with pytest.raises(openai.BadRequestError) as error:
        call()
    assert error.value.status_code == 400
    assert error.value.body["param"] == param, error.value.body
    assert error.value.body["type"] == "invalid_request_error"
    return error.value.body["message"]


def alices_threads() -> int:
    return Thread.objects.filter(owner__username="alice-ids").count()


@pytest.mark.parametrize(
    "tools",
    [None, [], [{"type": "file_search"}], [{"type": "code_interpreter"}]],
    ids=["no-tools", "empty-tools", "file_search", "code_interpreter"],
)
@pytest.mark.parametrize("whose", ["made-up", "another-keys"])
def test_a_message_attaching_a_file_that_is_not_the_callers_is_refused_and_not_stored(alice, bobs_file, tools, whose):
    file_id = NO_FILE if whose == "made-up" else bobs_file.id
    thread = alice.beta.threads.create()
    attachment = {"file_id": file_id} if tools is None else {"file_id": file_id, "tools": tools}

    message = refused(
        lambda: alice.beta.threads.messages.create(
            thread.id, role="user", content="See this", attachments=[attachment]
        ),
        "attachments[0].file_id",
    )

    assert message == f"No file found with id '{file_id}'."
    assert alice.beta.threads.messages.list(thread.id).data == []


@pytest.mark.parametrize("whose", ["made-up", "another-keys"])
def test_an_image_file_part_naming_no_file_of_the_callers_is_refused(alice, bobs_file, whose):
    file_id = NO_FILE if whose == "made-up" else bobs_file.id
    thread = alice.beta.threads.create()
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_file", "image_file": {"file_id": file_id}},
    ]

    refused(
        lambda: alice.beta.threads.messages.create(thread.id, role="user", content=content),
        "content[1].image_file.file_id",
    )

    assert alice.beta.threads.messages.list(thread.id).data == []


def test_a_thread_whose_first_message_names_a_missing_file_is_not_created(alice):
    messages = [{"role": "user", "content": "Hi", "attachments": [{"file_id": NO_FILE, "tools": []}]}]

    refused(lambda: alice.beta.threads.create(messages=messages), "attachments[0].file_id")

    assert alices_threads() == 0


@pytest.mark.parametrize(
    "section, key, whose",
    [
        ("file_search", "vector_store_ids", "made-up"),
        ("file_search", "vector_store_ids", "another-keys"),
        ("code_interpreter", "file_ids", "made-up"),
        ("code_interpreter", "file_ids", "another-keys"),
    ],
)
def test_create_and_run_refuses_tool_resources_naming_what_is_not_the_callers(
    alice, assistant, bobs_file, bobs_store, section, key, whose
):
    made_up, bobs = (NO_STORE, bobs_store.id) if section == "file_search" else (NO_FILE, bobs_file.id)
    resources = {section: {key: [made_up if whose == "made-up" else bobs]}}
    param = f"tool_resources.{section}.{key}"

    # The run's own tool_resources (they replace the assistant's for this run)...
    refused(lambda: alice.beta.threads.create_and_run(assistant_id=assistant.id, tool_resources=resources), param)
    # ...and the new thread's.
    refused(
        lambda: alice.beta.threads.create_and_run(assistant_id=assistant.id, thread={"tool_resources": resources}),
        param,
    )

    assert alices_threads() == 0
    assert Run.objects.filter(assistant__public_id=assistant.id).count() == 0


def test_assistants_and_threads_refuse_another_keys_files_and_stores(alice, assistant, bobs_file, bobs_store):
    code_files = {"code_interpreter": {"file_ids": [bobs_file.id]}}
    stores = {"file_search": {"vector_store_ids": [bobs_store.id]}}

    refused(
        lambda: alice.beta.assistants.create(
            model="gpt-4o-mini", tools=[{"type": "code_interpreter"}], tool_resources=code_files
        ),
        "tool_resources.code_interpreter.file_ids",
    )
    refused(
        lambda: alice.beta.assistants.update(assistant.id, tool_resources=stores),
        "tool_resources.file_search.vector_store_ids",
    )
    refused(lambda: alice.beta.threads.create(tool_resources=stores), "tool_resources.file_search.vector_store_ids")
    thread = alice.beta.threads.create()
    refused(
        lambda: alice.beta.threads.update(thread.id, tool_resources=code_files),
        "tool_resources.code_interpreter.file_ids",
    )
    assert alice.beta.threads.retrieve(thread.id).tool_resources.code_interpreter is None


def test_a_vector_store_refuses_a_file_that_is_not_the_callers(alice, bobs_file):
    store = alice.vector_stores.create(name="Alice's")

    with pytest.raises(openai.NotFoundError):
        alice.vector_stores.files.create(vector_store_id=store.id, file_id=bobs_file.id)
    with pytest.raises(openai.NotFoundError):
        alice.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[NO_FILE])
    with pytest.raises(openai.NotFoundError):
        alice.vector_stores.create(name="Another", file_ids=[bobs_file.id])
    assert alice.vector_stores.files.list(store.id).data == []


def test_the_callers_own_files_are_taken(alice, assistant):
    own = alice.files.create(file=("returns.md", RETURNS_MD), purpose="assistants")
    thread = alice.beta.threads.create()

    message = alice.beta.threads.messages.create(
        thread.id, role="user", content="See the attached", attachments=[{"file_id": own.id}]
    )

    assert [a.file_id for a in message.attachments] == [own.id]
    assert Message.objects.filter(public_id=message.id).exists()
    store = alice.vector_stores.create(name="Alice's", file_ids=[own.id])
    run = alice.beta.threads.create_and_run(
        assistant_id=assistant.id, tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    assert Run.objects.get(public_id=run.id).tool_resources == {"file_search": {"vector_store_ids": [store.id]}}
