"""A code_interpreter call streamed on the real-provider path (the openai SDK against a scripted model
on loopback, and the real sandbox): the step opens at the call's first fragment, its code goes out
in `code_interpreter.input` deltas as the model writes it, its outputs once the code ran; a stream
cut and retried sends no piece twice; a step the model's call never finished is closed.
"""

from __future__ import annotations

import json

import pytest

from knowledge.services import output_file_create
from runtime import runs
from runtime.models import Assistant, Message, RunStep, Thread, ToolCall
from sandbox import bubblewrap
from tests.runtime.conftest import EventTap
from tests.runtime.scripted_model import ScriptedModel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox")]

CODE = "total = sum(range(10))\nprint('total:', total)\n"
ARGUMENTS = json.dumps({"code": CODE})


@pytest.fixture
def scripted(settings):
    model = ScriptedModel().start()
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = model.base_url
    settings.MODEL_RETRY_BASE_SECONDS = 0.01
    settings.STREAM_BATCH_MS = 0  # every piece its own delta, so the test sees each one
    yield model
    model.stop()


@pytest.fixture
def thread(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    data = output_file_create(owner=None, filename="numbers.csv", data=b"n\n1\n2\n", content_type="text/csv")
    assistant = Assistant.objects.create(
        name="Analyst",
        model="gpt-4o",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [data.public_id]}},
    )
    return Thread.objects.create(assistant=assistant)


def start(thread):
    runs.message_create(thread=thread, role="user", content="Add up 0 to 9.", author=Message.Author.CUSTOMER)
    return runs.run_create(thread=thread, assistant=thread.assistant)


def step_deltas(received: list[dict]) -> list[dict]:
    return [
        call
        for m in received
        if m["event"] == "thread.run.step.delta"
        for call in m["data"]["delta"]["step_details"]["tool_calls"]
    ]


def test_the_code_streams_as_the_model_writes_it_then_its_outputs(scripted, thread):
    scripted.tool_calls(("code_interpreter", {"code": CODE}), split=8)
    scripted.text("The total is 45.")
    tap = EventTap(thread.public_id)

    run = start(thread)

    run.refresh_from_db()
    assert run.status == "completed"
    asked = scripted.requests[0]
    assert [tool["function"]["name"] for tool in asked["tools"]] == ["code_interpreter"]
    assert "Files for code_interpreter, in /mnt/data: /mnt/data/numbers.csv." in asked["messages"][0]["content"]
    received = tap.drain()
    names = [m["event"] for m in received if m["event"] not in ("thread.message.delta", "conversation.activity")]
    assert names[3:8] == [
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",  # the call opens
        "thread.run.step.delta",  # its first piece of code
    ]
    deltas = step_deltas(received)
    (step,) = RunStep.objects.filter(run=run, type=RunStep.Type.TOOL_CALLS)
    (call,) = ToolCall.objects.filter(step=step)
    assert deltas[0] == {
        "index": 0,
        "id": call.call_id,
        "type": "code_interpreter",
        "code_interpreter": {"input": "", "outputs": []},
    }
    pieces = [d["code_interpreter"]["input"] for d in deltas[1:-1]]
    assert "".join(pieces) == CODE
    assert len(pieces) >= 6  # piece by piece as the fragments came, not the whole at the end
    assert deltas[-1] == {
        "index": 0,
        "type": "code_interpreter",
        "code_interpreter": {"outputs": [{"index": 0, "type": "logs", "logs": "total: 45"}]},
    }
    created = next(m for m in received if m["event"] == "thread.run.step.created")
    assert created["data"]["id"] == step.public_id  # announced before it was stored, under its stored id
    completed = next(
        m["data"]
        for m in received
        if m["event"] == "thread.run.step.completed" and m["data"]["step_details"]["type"] == "tool_calls"
    )
    assert completed["step_details"]["tool_calls"] == [
        {
            "id": call.call_id,
            "type": "code_interpreter",
            "code_interpreter": {"input": CODE, "outputs": [{"type": "logs", "logs": "total: 45"}]},
        }
    ]


def test_a_stream_cut_mid_code_is_retried_without_sending_a_piece_twice(scripted, thread):
    scripted.tool_calls(("code_interpreter", {"code": CODE}), split=8)
    scripted.script[-1].cut_after = 6  # the opening chunks and a few fragments, then the connection drops
    scripted.tool_calls(("code_interpreter", {"code": CODE}), split=8)
    scripted.text("The total is 45.")
    tap = EventTap(thread.public_id)

    run = start(thread)

    run.refresh_from_db()
    assert run.status == "completed" and len(scripted.requests) == 3
    received = tap.drain()
    assert [m["event"] for m in received].count("thread.run.step.created") == 2  # the tool step, the answer's
    pieces = [d["code_interpreter"].get("input") for d in step_deltas(received)[1:-1]]
    assert "".join(pieces) == CODE


def test_a_step_opened_by_a_call_that_never_finished_is_closed(scripted, thread, settings):
    settings.MODEL_MAX_ATTEMPTS = 2
    for _ in range(2):
        scripted.tool_calls(("code_interpreter", {"code": CODE}), split=8)
        scripted.script[-1].cut_after = 6
    tap = EventTap(thread.public_id)

    run = start(thread)

    run.refresh_from_db()
    assert run.status == "failed"
    received = tap.drain()
    opened = [m["data"]["id"] for m in received if m["event"] == "thread.run.step.created"]
    failed = [m["data"] for m in received if m["event"] == "thread.run.step.failed"]
    assert [step["id"] for step in failed] == opened and failed[0]["status"] == "failed"
    assert not RunStep.objects.filter(run=run).exists()  # nothing stored: the model never finished
    assert [m["event"] for m in received][-1] == "thread.run.failed"


def test_without_the_sandbox_the_model_is_not_offered_the_tool(scripted, thread, settings):
    settings.SANDBOX_PYTHON = "/nonexistent/sandbox/python"
    bubblewrap.forget_availability()
    scripted.text("I can't run code here.")

    run = start(thread)

    run.refresh_from_db()
    assert run.status == "completed"
    assert "tools" not in scripted.requests[0]
    assert "/mnt/data" not in scripted.requests[0]["messages"][0]["content"]
    bubblewrap.forget_availability()


def test_a_tool_choice_of_code_interpreter_names_its_function_for_the_model(scripted, thread, settings):
    scripted.text("Nothing to run.")
    runs.message_create(thread=thread, role="user", content="Hi", author=Message.Author.CUSTOMER)

    runs.run_create(thread=thread, assistant=thread.assistant, tool_choice={"type": "code_interpreter"})

    assert scripted.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "code_interpreter"}}
