"""`stream: true`: server-sent events of exactly one run, in the API's order and framing, ending with done."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.utils import timezone

from runtime import events, runs
from runtime.api import sse
from runtime.api.sse import RunRelay
from runtime.errors import ThreadBusy
from runtime.models import Run, Thread
from tests.api import read_events

pytestmark = pytest.mark.django_db(transaction=True)

STATUS_QUESTION = "What's the status of order ORD-123? My email is jo@example.com"


def new_thread(client, text: str) -> dict:
    return client.post("/v1/threads", {"messages": [{"role": "user", "content": text}]}).json()


def without_deltas(names: list[str]) -> list[str]:
    return [name for name in names if not name.endswith(".delta")]


def test_a_streamed_text_answer_follows_the_api_order_and_ends_with_done(client, assistant):
    thread = new_thread(client, "Hi! What can you help me with?")
    response = client.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], "stream": True})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["x-request-id"].startswith("req_")
    received = read_events(response)
    names = [name for name, _ in received]
    assert without_deltas(names) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
        "done",
    ]
    assert received[-1] == ("done", "[DONE]")
    created = received[names.index("thread.message.created")][1]
    assert created["content"] == [] and created["status"] == "in_progress"
    deltas = [data for name, data in received if name == "thread.message.delta"]
    text = "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas)
    completed = received[names.index("thread.message.completed")][1]
    assert text and completed["content"][0]["text"]["value"] == text
    run = Run.objects.get(public_id=received[0][1]["id"])
    assert run.status == "completed"


def test_a_client_function_ends_the_stream_at_requires_action_and_outputs_continue_in_a_new_one(client, assistant):
    thread = new_thread(client, STATUS_QUESTION)
    first = read_events(
        client.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], "stream": True})
    )
    names = [name for name, _ in first]

    assert without_deltas(names)[-2:] == ["thread.run.requires_action", "done"]
    step_created = first[names.index("thread.run.step.created")][1]
    assert step_created["step_details"] == {"type": "tool_calls", "tool_calls": []}
    step_deltas = [
        data["delta"]["step_details"]["tool_calls"][0] for name, data in first if name.endswith("step.delta")
    ]
    assert step_deltas[0]["id"].startswith("call_") and step_deltas[0]["function"]["name"] == "get_order_status"
    assert all("id" not in d and "name" not in d["function"] for d in step_deltas[1:])
    run = first[names.index("thread.run.requires_action")][1]
    (call,) = run["required_action"]["submit_tool_outputs"]["tool_calls"]

    submit_url = f"/v1/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs"
    for outputs, words in [
        ([{"tool_call_id": "call_other", "output": "{}"}], "No tool call found with id 'call_other'"),
        ([], "Expected tool outputs for call_ids"),
        ([{"tool_call_id": call["id"], "output": "a"}] * 2, "Duplicate tool output"),
    ]:
        refused = client.post(submit_url, {"tool_outputs": outputs, "stream": True})
        assert refused.status_code == 400 and words in refused.json()["error"]["message"]

    output = json.dumps({"orderId": "ORD-123", "status": "shipped", "carrier": "UPS"})
    second = read_events(
        client.post(
            f"/v1/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
            {"tool_outputs": [{"tool_call_id": call["id"], "output": output}], "stream": True},
        )
    )
    names = without_deltas([name for name, _ in second])

    assert names[:4] == [
        "thread.run.step.completed",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
    ]
    assert names[-3:] == ["thread.run.step.completed", "thread.run.completed", "done"]
    tool_step = second[0][1]
    assert tool_step["step_details"]["tool_calls"][0]["function"]["output"] == output
    final = next(data for name, data in second if name == "thread.message.completed")
    assert "shipped" in final["content"][0]["text"]["value"].lower()


def test_create_thread_and_run_streams_thread_created_first(owner_client, assistant):
    owner, client = owner_client
    received = read_events(
        client.post(
            "/v1/threads/runs",
            {
                "assistant_id": assistant["id"],
                "thread": {"messages": [{"role": "user", "content": "Hi"}]},
                "stream": True,
            },
        )
    )

    name, thread = received[0]
    assert name == "thread.created" and thread["object"] == "thread"
    assert received[1][0] == "thread.run.created" and received[1][1]["thread_id"] == thread["id"]
    assert received[-2][0] == "thread.run.completed" and received[-1][0] == "done"
    assert Thread.objects.get(public_id=thread["id"]).owner == owner


def test_a_run_that_cannot_start_after_the_stream_opened_reports_an_error_event(client, assistant, monkeypatch):
    thread = new_thread(client, "Hi")

    def refuse(**kwargs):
        raise ThreadBusy(f"Thread {thread['id']} already has an active run run_other.")

    monkeypatch.setattr(runs, "run_create", refuse)
    received = read_events(
        client.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], "stream": True})
    )

    assert [name for name, _ in received] == ["error", "done"]
    error = received[0][1]
    assert error["error"]["message"] == f"Thread {thread['id']} already has an active run run_other."
    assert error["message"] == error["error"]["message"] and error["type"] == "invalid_request_error"


def test_the_relay_keeps_only_the_runs_own_events():
    relay = RunRelay("run_A")

    kept = [
        relay.accepts(name, data)
        for name, data in [
            ("thread.run.created", {"id": "run_A"}),
            ("thread.run.created", {"id": "run_B"}),
            ("thread.message.completed", {"id": "msg_user", "run_id": None}),
            ("thread.run.step.created", {"id": "step_A", "run_id": "run_A"}),
            ("thread.run.step.delta", {"id": "step_A"}),
            ("thread.run.step.delta", {"id": "step_B"}),
            ("thread.message.created", {"id": "msg_A", "run_id": "run_A"}),
            ("thread.message.delta", {"id": "msg_A"}),
            ("thread.message.delta", {"id": "msg_B"}),
            ("conversation.activity", {"run_id": "run_A"}),
            ("agent.message", {"text": "hi"}),
        ]
    ]

    assert kept == [True, False, False, True, True, False, True, True, False, False, False]


def test_events_of_the_thread_outside_the_run_are_not_relayed(client, assistant, monkeypatch):
    thread = new_thread(client, "Hi")
    real_run_create = runs.run_create

    def create_with_noise(**kwargs):
        events.publish(thread["id"], "agent.message", {"text": "I'm a person"})
        events.publish(thread["id"], "thread.message.created", {"id": "msg_other", "run_id": None})
        return real_run_create(**kwargs)

    monkeypatch.setattr(runs, "run_create", create_with_noise)
    received = read_events(
        client.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], "stream": True})
    )

    assert received[0][0] == "thread.run.created"
    assert all(name.startswith("thread.") or name == "done" for name, _ in received)
    assert all(data.get("id") != "msg_other" for _, data in received if isinstance(data, dict))


def raw_body(response) -> str:
    async def collect():
        return [chunk async for chunk in response.streaming_content]

    return b"".join(async_to_sync(collect)()).decode()


def quiet_run(status: str):
    """A run_create that writes the run but publishes nothing, as if every event were lost."""

    def create(*, thread, assistant, **options):
        return Run.objects.create(thread=thread, assistant=assistant, model=assistant.model, status=status)

    return create


def test_a_quiet_stream_checks_the_database_and_ends_with_the_runs_resting_state(client, assistant, monkeypatch):
    thread = new_thread(client, "Hi")
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(runs, "run_create", quiet_run("completed"))

    received = read_events(
        client.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], "stream": True})
    )

    assert [name for name, _ in received] == ["thread.run.completed", "done"]
    assert received[0][1]["status"] == "completed" and received[0][1]["usage"] is not None


def test_a_stream_sends_keep_alives_and_gives_up_after_the_runs_lifetime(settings, client, assistant, monkeypatch):
    thread = new_thread(client, "Hi")
    settings.RUN_EXPIRES_AFTER_SECONDS = 0
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.1)
    monkeypatch.setattr(sse, "STREAM_MARGIN_SECONDS", 0.5)
    monkeypatch.setattr(runs, "run_create", quiet_run("queued"))

    body = raw_body(client.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], "stream": True}))

    assert body.startswith(": keep-alive\n\n")
    assert body.endswith("event: done\ndata: [DONE]\n\n")
    error = json.loads(body.split("event: error\ndata: ")[1].split("\n")[0])
    assert error["error"]["code"] == "timeout"


async def members(layer, group: str) -> int:
    """How many channels the layer has in `group` (in-memory or Redis)."""
    if isinstance(layer, InMemoryChannelLayer):
        return len(layer.groups.get(group, {}))
    if isinstance(layer, RedisPubSubChannelLayer):
        loop_layer = layer._get_layer()  # the members on this event loop
        return len(loop_layer.groups.get(loop_layer._get_group_channel_name(group), set()))
    connection = layer.connection(layer.consistent_hash(group))
    return await connection.zcard(layer._group_key(group))


async def test_a_closed_stream_leaves_the_threads_group():
    layer = get_channel_layer()
    group = events.group_for("thread_gone")
    stream = sse.relay_run(
        thread_id="thread_gone", start=lambda: None, preface=[("thread.created", {"id": "thread_gone"})]
    )

    first = await stream.__anext__()
    subscribed = await members(layer, group)
    await stream.aclose()  # what Django does when the client disconnects

    assert first.startswith(b"event: thread.created\n")
    assert subscribed == 1
    assert await members(layer, group) == 0


def test_streamed_tool_outputs_for_an_expired_run_are_400_and_the_run_expires(client, assistant):
    thread = new_thread(client, STATUS_QUESTION)
    first = read_events(
        client.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], "stream": True})
    )
    run = next(data for name, data in first if name == "thread.run.requires_action")
    Run.objects.filter(public_id=run["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]

    refused = client.post(
        f"/v1/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": call_id, "output": "{}"}], "stream": True},
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == f"Run {run['id']} has expired and can no longer accept tool outputs."
    assert Run.objects.get(public_id=run["id"]).status == "expired"
