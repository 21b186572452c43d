"""The official openai Python SDK, unchanged, against a live Concierge: files, vector stores, search,
and an assistant answering from them with file_search and file_citation annotations.

The server is this module's own daphne (tests/e2e/conftest.running_daphne), so uploads go to a
directory of the test session's, not the checkout's media/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import AssistantEventHandler, OpenAI
from openai.types.beta.threads import Message
from openai.types.beta.threads.runs import RunStep
from typing_extensions import override

from accounts.models import ApiKey
from tests.e2e.conftest import LiveServer, running_daphne, server_environment
from tests.factories import UserFactory
from tests.knowledge.v1 import NOT_A_PDF, RETURNS_MD, SHIPPING_MD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # the SDK marks the Assistants API deprecated
]

CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
QUESTION = "What is your return policy?"


@pytest.fixture(scope="module")
def knowledge_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        env = {**server_environment(), "MEDIA_ROOT": str(tmp_path_factory.mktemp("media"))}
    with running_daphne(env, tmp_path_factory.mktemp("daphne") / "daphne.log") as server:
        yield server


@pytest.fixture
def client(knowledge_server, transactional_db) -> OpenAI:
    if knowledge_server.process.poll() is not None:
        pytest.fail(f"the live server died:\n{knowledge_server.log_tail()}")
    _, raw = ApiKey.issue(owner=UserFactory(username="sdk-knowledge"), name="sdk test")
    return OpenAI(base_url=f"{knowledge_server.url}/v1", api_key=raw, timeout=60)


@pytest.fixture
def returns_file(client):
    return client.files.create(file=("returns.md", RETURNS_MD), purpose="assistants")


@pytest.fixture
def policies(client, returns_file):
    """A store holding returns.md, ingested (create_and_poll polls until it is)."""
    store = client.vector_stores.create(name="Policies", metadata={"team": "support"})
    added = client.vector_stores.files.create_and_poll(
        file_id=returns_file.id, vector_store_id=store.id, attributes={"topic": "returns"}
    )
    assert added.status == "completed", added
    return client.vector_stores.retrieve(store.id)


def test_files_are_uploaded_listed_read_and_deleted(client, returns_file):
    assert returns_file.id.startswith("file-") and returns_file.object == "file"
    assert returns_file.filename == "returns.md" and returns_file.bytes == len(RETURNS_MD)
    assert returns_file.purpose == "assistants" and returns_file.status == "processed"

    assert client.files.retrieve(returns_file.id) == returns_file
    assert client.files.content(returns_file.id).read() == RETURNS_MD
    assert client.files.wait_for_processing(returns_file.id).status == "processed"
    expiring = client.files.create(
        file=("shipping.md", SHIPPING_MD), purpose="assistants", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert expiring.expires_at == expiring.created_at + 3600
    assert [f.id for f in client.files.list()] == [expiring.id, returns_file.id]
    assert [f.id for f in client.files.list(purpose="assistants", order="asc", limit=1)] == [
        returns_file.id,
        expiring.id,
    ]  # auto-pagination, one file a page

    deleted = client.files.delete(returns_file.id)
    assert deleted.deleted is True and deleted.id == returns_file.id
    with pytest.raises(Exception) as missing:
        client.files.retrieve(returns_file.id)
    assert getattr(missing.value, "status_code", None) == 404


def test_stores_their_files_batches_and_search(client, policies, returns_file):
    assert policies.status == "completed" and policies.metadata == {"team": "support"}
    assert policies.file_counts.completed == 1 and policies.usage_bytes > 0

    batch = client.vector_stores.file_batches.upload_and_poll(
        vector_store_id=policies.id,
        files=[("shipping.md", SHIPPING_MD), ("broken.pdf", NOT_A_PDF)],
        chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}},
    )
    assert batch.id.startswith("vsfb_") and batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.failed, batch.file_counts.total) == (1, 1, 2)
    in_batch = list(client.vector_stores.file_batches.list_files(batch_id=batch.id, vector_store_id=policies.id))
    assert {f.status for f in in_batch} == {"completed", "failed"}
    (failed,) = client.vector_stores.files.list(vector_store_id=policies.id, filter="failed")
    assert failed.last_error.code == "invalid_file"
    assert [f.id for f in client.vector_stores.files.list(vector_store_id=policies.id, limit=1)] == [
        f.id for f in client.vector_stores.files.list(vector_store_id=policies.id)
    ]  # one a page, followed by `after`
    assert len(list(client.vector_stores.files.list(vector_store_id=policies.id))) == 3

    hits = list(client.vector_stores.search(vector_store_id=policies.id, query="How long does express shipping take?"))
    assert hits and hits[0].filename == "shipping.md" and "express" in hits[0].content[0].text
    only_returns = client.vector_stores.search(
        vector_store_id=policies.id,
        query="shipping refund",
        filters={"type": "eq", "key": "topic", "value": "returns"},
        max_num_results=5,
    )
    assert {hit.file_id for hit in only_returns} == {returns_file.id}
    passages = list(client.vector_stores.files.content(file_id=returns_file.id, vector_store_id=policies.id))
    assert passages and "30 days" in " ".join(p.text for p in passages)

    updated = client.vector_stores.files.update(
        file_id=returns_file.id, vector_store_id=policies.id, attributes={"topic": "refunds"}
    )
    assert updated.attributes == {"topic": "refunds"}
    assert client.vector_stores.files.delete(file_id=returns_file.id, vector_store_id=policies.id).deleted
    assert returns_file.id not in {hit.file_id for hit in client.vector_stores.search(policies.id, query="refund")}
    assert client.files.retrieve(returns_file.id).id == returns_file.id  # detached, not deleted
    renamed = client.vector_stores.update(
        policies.id, name="FAQ", expires_after={"anchor": "last_active_at", "days": 3}
    )
    assert renamed.name == "FAQ" and renamed.expires_after.days == 3 and renamed.expires_at
    assert policies.id in [s.id for s in client.vector_stores.list()]
    assert client.vector_stores.delete(policies.id).deleted is True


def searching_assistant(client: OpenAI, store_id: str):
    return client.beta.assistants.create(
        model="gpt-4o",
        name="Policy helper",
        instructions="Answer questions about the shop's policies from its documents.",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
    )


def check_citations(message: Message, file_id: str) -> None:
    """The answer cites the file: each annotation spans exactly its marker in the text."""
    (part,) = message.content
    text = part.text.value
    citations = [a for a in part.text.annotations if a.type == "file_citation"]
    assert citations, text
    for citation in citations:
        assert text[citation.start_index : citation.end_index] == citation.text
        assert citation.file_citation.file_id == file_id


def file_search_calls(steps: list[RunStep]):
    return [
        call
        for step in steps
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
        if call.type == "file_search"
    ]


def test_an_assistant_answers_from_the_store_with_citations(client, policies, returns_file):
    assistant = searching_assistant(client, policies.id)
    assert assistant.tool_resources.file_search.vector_store_ids == [policies.id]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)

    assert run.status == "completed", run.last_error
    steps = list(client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id))
    (call,) = file_search_calls(steps)
    assert call.file_search.results and {r.file_id for r in call.file_search.results} == {returns_file.id}
    assert all(r.file_name == "returns.md" and r.content is None for r in call.file_search.results)
    with_content = list(client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, include=[CONTENT]))
    (call,) = file_search_calls(with_content)
    assert all(r.content and r.content[0].type == "text" and r.content[0].text for r in call.file_search.results)
    step = next(s for s in with_content if file_search_calls([s]))
    retrieved = client.beta.threads.runs.steps.retrieve(
        step_id=step.id, thread_id=thread.id, run_id=run.id, include=[CONTENT]
    )
    assert retrieved == step

    answer = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data[0]
    assert answer.role == "assistant"
    check_citations(answer, returns_file.id)


class AnnotationCollector(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.streamed_annotations = []
        self.texts_done = []
        self.tool_calls = []

    @override
    def on_text_delta(self, delta, snapshot) -> None:
        self.streamed_annotations.extend(delta.annotations or [])

    @override
    def on_text_done(self, text) -> None:
        self.texts_done.append(text)

    @override
    def on_tool_call_created(self, tool_call) -> None:
        # Not on_tool_call_done: the SDK calls that again at every later step and run end.
        self.tool_calls.append(tool_call)


def test_a_streamed_run_gives_the_same_annotations_in_the_final_message(client, policies, returns_file):
    assistant = searching_assistant(client, policies.id)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    handler = AnnotationCollector()

    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as s:
        s.until_done()
        final_run = s.get_final_run()
        (final,) = s.get_final_messages()

    assert final_run.status == "completed"
    assert [call.type for call in handler.tool_calls] == ["file_search"]
    check_citations(final, returns_file.id)
    stored = client.beta.threads.messages.retrieve(message_id=final.id, thread_id=thread.id)
    assert stored.content == final.content
    assert handler.texts_done == [final.content[0].text]  # what an app renders footnotes from
    # Annotations are not streamed in the deltas yet (only thread.message.completed has them); any
    # that are must be the final ones, each sent once.
    final_annotations = [
        (i, a.text, a.start_index, a.end_index) for i, a in enumerate(final.content[0].text.annotations)
    ]
    streamed = [(a.index, a.text, a.start_index, a.end_index) for a in handler.streamed_annotations]
    assert streamed in ([], final_annotations)
