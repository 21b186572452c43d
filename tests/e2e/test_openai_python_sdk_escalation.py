"""The official openai Python SDK against a live Concierge: a /v1 thread is never handed to a person
by the escalation rules (its caller has no console), and one its assistant's model did hand over
(escalate_to_human, a server tool the caller chose) shows that in its `mode` and is given back with
a documented update. Answers come from the offline model, through the real transport."""

from __future__ import annotations

import openai
import pytest
from django.conf import settings
from openai import OpenAI

from accounts.models import ApiKey
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # the SDK marks the Assistants API deprecated
]

MISSING_ORDER = "What's the status of order A9999? My email is jane@example.com"


@pytest.fixture
def client(live_server_url) -> OpenAI:
    _, raw = ApiKey.issue(owner=UserFactory(username="sdk-escalation"), name="sdk test")
    return OpenAI(base_url=f"{live_server_url}/v1", api_key=raw, timeout=60, max_retries=0)


def assistant_with(client: OpenAI, *server_tools: str):
    return client.beta.assistants.create(
        model="gpt-4o-mini", name="Shop backend", extra_body={"server_tools": list(server_tools)}
    )


def ask(client: OpenAI, thread_id: str, assistant_id: str, text: str):
    client.beta.threads.messages.create(thread_id=thread_id, role="user", content=text)
    return client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)


def test_failed_lookups_never_leave_an_api_thread_waiting_for_a_person(client):
    assistant = assistant_with(client, "get_order_status")
    thread = client.beta.threads.create()

    for _ in range(settings.ESCALATE_AFTER_FAILURES + 1):
        run = ask(client, thread.id, assistant.id, MISSING_ORDER)
        assert run.status == "completed", run.last_error
        [step] = [
            s for s in client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id) if s.type == "tool_calls"
        ]
        assert '"not_found"' in step.step_details.tool_calls[0].function.output

    assert client.beta.threads.retrieve(thread.id).model_extra["mode"] == "assistant"


def test_a_thread_the_model_handed_over_shows_it_and_is_given_back(client):
    assistant = assistant_with(client, "get_order_status", "escalate_to_human")
    thread = client.beta.threads.create()
    run = ask(client, thread.id, assistant.id, "I'd like to speak with a representative please")
    assert run.status == "completed", run.last_error

    assert client.beta.threads.retrieve(thread.id).model_extra["mode"] == "waiting_human"
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert 'modify the thread with {"mode": "assistant"}' in refused.value.message

    given_back = client.beta.threads.update(thread.id, extra_body={"mode": "assistant"})

    assert given_back.model_extra["mode"] == "assistant"
    run = ask(client, thread.id, assistant.id, "Hello again, what can you help me with?")
    assert run.status == "completed", run.last_error
    with pytest.raises(openai.BadRequestError) as wrong:
        client.beta.threads.update(thread.id, extra_body={"mode": "human"})
    assert wrong.value.body["param"] == "mode"
