"""/v1 runs without streaming: create (queued, to poll), overrides, the busy-thread 400, cancel, tool outputs, steps.

Most tests here run inside a test transaction, where runs stay queued (they are dispatched on commit).
The ones marked transactional let the inline dispatcher execute the run on the offline model.
"""

from __future__ import annotations

import json

import pytest
from openai.types.beta.threads import Run as SdkRun
from openai.types.beta.threads.runs import RunStep as SdkRunStep

from runtime.models import Run, RunStep, Thread
from tests.api import ORDER_SUPPORT
from tests.factories import CustomerFactory, delivered_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(client):
    return client.post("/v1/threads", {"messages": [{"role": "user", "content": "Hello!"}]}).json()


def runs_url(thread) -> str:
    return f"/v1/threads/{thread['id']}/runs"


def test_a_created_run_is_answered_queued_with_every_field_of_the_api(client, assistant, thread):
    response = client.post(runs_url(thread), {"assistant_id": assistant["id"]})

    assert response.status_code == 200
    run = response.json()
    SdkRun.model_validate(run, strict=True)
    assert run["status"] == "queued" and run["object"] == "thread.run"
    assert run["thread_id"] == thread["id"] and run["assistant_id"] == assistant["id"]
    assert run["model"] == "gpt-4o" and run["instructions"] == ORDER_SUPPORT["instructions"]
    assert run["tools"] == ORDER_SUPPORT["tools"]
    assert run["usage"] is None and run["required_action"] is None and run["last_error"] is None
    assert run["expires_at"] > run["created_at"]
    assert run["truncation_strategy"] == {"type": "auto", "last_messages": None}
    assert run["tool_choice"] == "auto" and run["parallel_tool_calls"] is True
    assert response["openai-poll-after-ms"].isdigit()
    assert client.get(f"{runs_url(thread)}/{run['id']}").json() == run


def test_overrides_additional_instructions_and_additional_messages(client, assistant, thread):
    run = client.post(
        runs_url(thread),
        {
            "assistant_id": assistant["id"],
            "model": "gpt-4.1-mini",
            "additional_instructions": "Answer in French.",
            "additional_messages": [{"role": "user", "content": "Bonjour"}],
            "tools": [],
            "temperature": 0.3,
            "top_p": 0.9,
            "max_prompt_tokens": 2000,
            "max_completion_tokens": 500,
            "truncation_strategy": {"type": "last_messages", "last_messages": 4},
            "tool_choice": "none",
            "parallel_tool_calls": False,
            "response_format": {"type": "json_object"},
            "metadata": {"ticket": "42"},
        },
    ).json()

    assert run["model"] == "gpt-4.1-mini"
    assert run["instructions"] == ORDER_SUPPORT["instructions"] + "\n\nAnswer in French."
    assert run["tools"] == [] and run["temperature"] == 0.3 and run["top_p"] == 0.9
    assert (run["max_prompt_tokens"], run["max_completion_tokens"]) == (2000, 500)
    assert run["truncation_strategy"] == {"type": "last_messages", "last_messages": 4}
    assert run["tool_choice"] == "none" and run["parallel_tool_calls"] is False
    assert run["response_format"] == {"type": "json_object"} and run["metadata"] == {"ticket": "42"}
    texts = [
        m["content"][0]["text"]["value"] for m in client.get(f"/v1/threads/{thread['id']}/messages").json()["data"]
    ]
    assert texts == ["Bonjour", "Hello!"]
    assert Run.objects.get(public_id=run["id"]).model == "gpt-4.1-mini"


def test_a_second_run_on_a_busy_thread_is_400_with_the_api_message(client, assistant, thread):
    first = client.post(runs_url(thread), {"assistant_id": assistant["id"]}).json()
    second = client.post(runs_url(thread), {"assistant_id": assistant["id"]})
    streamed = client.post(runs_url(thread), {"assistant_id": assistant["id"], "stream": True})

    for response in (second, streamed):
        assert response.status_code == 400
        assert response.json()["error"]["message"] == (
            f"Thread {thread['id']} already has an active run {first['id']}."
        )
        assert response["Content-Type"] == "application/json"
    assert Run.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({}, "assistant_id"),
        ({"max_prompt_tokens": 255}, "max_prompt_tokens"),
        ({"max_completion_tokens": 10}, "max_completion_tokens"),
        ({"truncation_strategy": {"type": "first_messages"}}, "truncation_strategy.type"),
        ({"truncation_strategy": {"type": "last_messages"}}, "truncation_strategy"),
        ({"temperature": -0.1}, "temperature"),
        ({"tool_choice": "always"}, "tool_choice"),
        ({"additional_messages": [{"role": "tool", "content": "x"}]}, "additional_messages"),
        ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "tools[0].function.name"),
        ({"stream": "maybe"}, "stream"),
    ],
)
def test_invalid_runs_are_refused(client, assistant, thread, payload, param):
    body = {"assistant_id": assistant["id"], **payload} if param != "assistant_id" else payload
    response = client.post(runs_url(thread), body)

    assert response.status_code == 400, response.json()
    assert response.json()["error"]["param"] == param
    assert not Run.objects.exists()


def test_an_unknown_assistant_is_404(client, thread):
    response = client.post(runs_url(thread), {"assistant_id": "asst_nope"})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No assistant found with id 'asst_nope'."


def test_a_run_override_may_not_reuse_a_server_tool_name(client, thread):
    assistant = client.post("/v1/assistants", {"model": "m", "server_tools": ["get_order_status"]}).json()
    response = client.post(runs_url(thread), {"assistant_id": assistant["id"], "tools": ORDER_SUPPORT["tools"]})

    assert response.status_code == 400 and response.json()["error"]["param"] == "server_tools"


def test_runs_are_listed_modified_and_cancelled(client, assistant, thread):
    run = client.post(runs_url(thread), {"assistant_id": assistant["id"]}).json()
    url = f"{runs_url(thread)}/{run['id']}"

    listed = client.get(runs_url(thread)).json()
    modified = client.post(url, {"metadata": {"reviewed": "yes"}}).json()
    not_modifiable = client.post(url, {"model": "other"})
    cancelled = client.post(f"{url}/cancel")
    again = client.post(f"{url}/cancel")

    assert [r["id"] for r in listed["data"]] == [run["id"]]
    assert modified["metadata"] == {"reviewed": "yes"}
    assert not_modifiable.status_code == 400
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 400
    assert "Cannot cancel run with status 'cancelled'" in again.json()["error"]["message"]


def test_tool_outputs_to_a_run_not_waiting_for_them_are_400(client, assistant, thread):
    run = client.post(runs_url(thread), {"assistant_id": assistant["id"]}).json()
    url = f"{runs_url(thread)}/{run['id']}/submit_tool_outputs"

    response = client.post(url, {"tool_outputs": [{"tool_call_id": "call_x", "output": "{}"}]})
    streamed = client.post(url, {"tool_outputs": [{"tool_call_id": "call_x", "output": "{}"}], "stream": True})

    for answer in (response, streamed):
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == 'Runs in status "queued" do not accept tool outputs.'


def test_create_thread_and_run_makes_both(owner_client, assistant):
    owner, client = owner_client
    response = client.post(
        "/v1/threads/runs",
        {
            "assistant_id": assistant["id"],
            "thread": {"messages": [{"role": "user", "content": "Hi"}], "metadata": {"channel": "api"}},
            "instructions": "Be brief.",
        },
    )

    assert response.status_code == 200
    run = response.json()
    SdkRun.model_validate(run, strict=True)
    thread = Thread.objects.get(public_id=run["thread_id"])
    assert thread.owner == owner and thread.metadata == {"channel": "api"}
    assert thread.messages.get().text == "Hi"
    assert run["instructions"] == "Be brief." and run["status"] == "queued"


@pytest.mark.django_db(transaction=True)
def test_a_client_function_run_waits_for_outputs_then_completes_with_steps(owner_client):
    _, client = owner_client
    assistant = client.post("/v1/assistants", ORDER_SUPPORT).json()
    thread = client.post(
        "/v1/threads",
        {"messages": [{"role": "user", "content": "What's the status of order ORD-123? My email is jo@example.com"}]},
    ).json()

    created = client.post(runs_url(thread), {"assistant_id": assistant["id"]}).json()
    url = f"{runs_url(thread)}/{created['id']}"
    waiting = client.get(url).json()

    assert waiting["status"] == "requires_action"
    (call,) = waiting["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert call["function"]["name"] == "get_order_status"
    assert json.loads(call["function"]["arguments"]) == {"orderId": "ORD-123", "email": "jo@example.com"}
    wrong = client.post(f"{url}/submit_tool_outputs", {"tool_outputs": [{"tool_call_id": "call_nope", "output": "x"}]})
    assert wrong.status_code == 400 and "call_nope" in wrong.json()["error"]["message"]

    output = {"orderId": "ORD-123", "status": "shipped", "carrier": "UPS"}
    submitted = client.post(
        f"{url}/submit_tool_outputs", {"tool_outputs": [{"tool_call_id": call["id"], "output": json.dumps(output)}]}
    )
    assert submitted.status_code == 200 and submitted.json()["status"] == "queued"

    done = client.get(url).json()
    assert done["status"] == "completed" and done["usage"]["total_tokens"] > 0
    steps = client.get(f"{url}/steps", {"order": "asc"}).json()["data"]
    for step in steps:
        SdkRunStep.model_validate(step, strict=True)
    assert [(s["type"], s["status"]) for s in steps] == [("tool_calls", "completed"), ("message_creation", "completed")]
    assert steps[0]["step_details"]["tool_calls"][0]["function"]["output"] == json.dumps(output)
    assert client.get(f"{url}/steps/{steps[1]['id']}").json() == steps[1]
    reply = client.get(f"/v1/threads/{thread['id']}/messages", {"run_id": created["id"]}).json()["data"][0]
    assert reply["id"] == steps[1]["step_details"]["message_creation"]["message_id"]
    assert "shipped" in reply["content"][0]["text"]["value"].lower()


@pytest.mark.django_db(transaction=True)
def test_server_tools_run_on_the_server_and_show_as_completed_steps(owner_client):
    _, client = owner_client
    delivered_order(customer=CustomerFactory(email="alice@example.com"), number="A1001")
    assistant = client.post(
        "/v1/assistants", {"model": "gpt-4o-mini", "name": "Shop", "server_tools": ["get_order_status"]}
    ).json()
    thread = client.post(
        "/v1/threads",
        {"messages": [{"role": "user", "content": "Status of order A1001 please, my email is alice@example.com"}]},
    ).json()

    run = client.post(runs_url(thread), {"assistant_id": assistant["id"]}).json()
    done = client.get(f"{runs_url(thread)}/{run['id']}").json()

    assert done["status"] == "completed"
    tool_step = RunStep.objects.get(run__public_id=run["id"], type="tool_calls")
    assert tool_step.status == "completed"
    call = tool_step.tool_calls.get()
    assert call.name == "get_order_status" and call.side == "server" and '"delivered"' in call.output
    answer = client.get(f"/v1/threads/{thread['id']}/messages").json()["data"][0]
    assert "delivered" in answer["content"][0]["text"]["value"].lower()
