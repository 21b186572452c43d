"""The official openai Python SDK, unchanged, over real HTTP against a live Concierge: the seed's data
analyst with code_interpreter, on the offline model and the real sandbox (bubblewrap).

An assistant with code_interpreter and a CSV in its tool_resources computes the total revenue by
region; a chart asked for with the CSV attached to the message comes back as an image_file whose
content downloads as a PNG, with its figures in a file cited by a file_path annotation; a streamed
run's AssistantEventHandler sees the code as it is written and the outputs when they come. Another
owner's file is refused with a 400, and a server that cannot run bubblewrap does not offer the tool.

Without bubblewrap these tests skip, and fail under CI=1: the sandbox must run there.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import openai
import pytest
from openai import AssistantEventHandler, OpenAI
from typing_extensions import override

from accounts.models import ApiKey
from tests import needs
from tests.e2e.conftest import LiveServer, running_daphne, server_environment
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # the SDK marks the Assistants API deprecated
]

SALES_CSV = b"""date,region,product,revenue,units
2024-01-05,North,Mug,120.50,3
2024-01-17,South,Mug,80.00,2
2024-02-03,North,Teapot,200.00,1
2024-02-20,East,Mug,40.25,1
2024-02-21,East,Kettle,310.10,4
2024-03-11,South,Teapot,210.00,1
2024-03-28,North,Mug,99.75,2
"""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSTRUCTIONS = "You are a data analyst. Answer questions about the files with code, and show your figures."


def totals(key) -> dict[str, str]:
    """The CSV's revenue summed by `key(row)`, worked out here with exact decimals, as the answer shows it."""
    summed: dict[str, Decimal] = defaultdict(Decimal)
    for row in csv.DictReader(io.StringIO(SALES_CSV.decode())):
        summed[key(row)] += Decimal(row["revenue"])
    return {name: f"{amount:,.2f}" for name, amount in summed.items()}


@pytest.fixture(scope="module")
def sandbox_available():
    needs.sandbox()


def code_server(tmp_path_factory, **env) -> Iterator[LiveServer]:
    """A daphne of this module's own: uploads in a temporary MEDIA_ROOT, sandbox sessions under a
    short SANDBOX_ROOT (a Unix socket's path is short), the offline model's chunks 5 ms apart so that
    the code streams in several pieces."""
    root = tempfile.mkdtemp(prefix="sbx-")
    environment = {
        **server_environment(),
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
        "SANDBOX_ROOT": root,
        "OFFLINE_MODEL_TOKEN_DELAY_MS": "5",
        **env,
    }
    try:
        with running_daphne(environment, tmp_path_factory.mktemp("daphne") / "daphne.log") as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(sandbox_available, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        yield from code_server(tmp_path_factory)


@pytest.fixture(scope="module")
def server_without_sandbox(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    """A server whose sandbox runtime is missing (SANDBOX_PYTHON): bubblewrap cannot run it."""
    with django_db_blocker.unblock():
        yield from code_server(tmp_path_factory, SANDBOX_PYTHON="/nonexistent/sandbox/bin/python")


def client_of(server: LiveServer, username: str) -> OpenAI:
    if server.process.poll() is not None:
        pytest.fail(f"the live server died:\n{server.log_tail()}")
    _, raw = ApiKey.issue(owner=UserFactory(username=username), name="sdk test")
    return OpenAI(base_url=f"{server.url}/v1", api_key=raw, timeout=120)


@pytest.fixture
def client(server, transactional_db) -> OpenAI:
    return client_of(server, "analyst")


@pytest.fixture
def sales(client):
    return client.files.create(file=("sales.csv", SALES_CSV), purpose="assistants")


def code_calls(client: OpenAI, thread_id: str, run_id: str):
    steps = client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=run_id, order="asc")
    return [
        call
        for step in steps
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
        if call.type == "code_interpreter"
    ]


def test_the_data_analyst_computes_totals_and_draws_a_chart(client, sales):
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        name="Data analyst",
        instructions=INSTRUCTIONS,
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [sales.id]}},
    )
    assert assistant.tool_resources.code_interpreter.file_ids == [sales.id]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is the total revenue by region?"}])

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)

    assert run.status == "completed", run.last_error
    (answer,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    text = answer.content[0].text.value
    by_region = totals(lambda row: row["region"])
    assert by_region == {"North": "420.25", "South": "290.00", "East": "350.35"}
    for region, amount in by_region.items():
        assert f"{region}: **{amount}**" in text
    assert "All together: **1,060.60**" in text
    (call,) = code_calls(client, thread.id, run.id)
    assert "/mnt/data/sales.csv" in call.code_interpreter.input
    (logs,) = call.code_interpreter.outputs
    assert logs.type == "logs" and "North: 420.25" in logs.logs

    # A chart, the CSV attached to the question this time.
    client.beta.threads.messages.create(
        thread_id=thread.id,
        role="user",
        content="Plot revenue per month",
        attachments=[{"file_id": sales.id, "tools": [{"type": "code_interpreter"}]}],
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)

    assert run.status == "completed", run.last_error
    (chart_answer,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    text_part, image_part = chart_answer.content
    assert image_part.type == "image_file"
    image = client.files.retrieve(image_part.image_file.file_id)
    assert image.purpose == "assistants_output" and image.filename.endswith(".png")
    assert client.files.content(image_part.image_file.file_id).read().startswith(PNG_SIGNATURE)
    by_month = totals(lambda row: row["date"][:7])
    for month, amount in by_month.items():
        assert f"{month}: **{amount}**" in text_part.text.value
    (cited,) = text_part.text.annotations
    assert cited.type == "file_path" and cited.text == "sandbox:/mnt/data/total_revenue_by_month.csv"
    assert text_part.text.value[cited.start_index : cited.end_index] == cited.text
    saved = client.files.content(cited.file_path.file_id).read().decode().splitlines()
    assert [line.split(",")[0] for line in saved[1:]] == sorted(by_month)


class CodeWatcher(AssistantEventHandler):
    """What an app shows while code_interpreter works: the code as it is written, then its outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.created = []
        self.inputs: list[str] = []
        self.outputs = []
        self.images_done = []

    @override
    def on_tool_call_created(self, tool_call) -> None:
        self.created.append(tool_call)

    @override
    def on_tool_call_delta(self, delta, snapshot) -> None:
        if delta.type == "code_interpreter":
            if delta.code_interpreter.input:
                self.inputs.append(delta.code_interpreter.input)
            self.outputs += delta.code_interpreter.outputs or []

    @override
    def on_image_file_done(self, image_file) -> None:
        self.images_done.append(image_file)


def test_a_streamed_run_shows_the_code_as_it_is_written_and_its_outputs(client, sales):
    assistant = client.beta.assistants.create(
        model="gpt-4o", instructions=INSTRUCTIONS, tools=[{"type": "code_interpreter"}]
    )
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "Plot revenue by region",
                "attachments": [{"file_id": sales.id, "tools": [{"type": "code_interpreter"}]}],
            }
        ]
    )
    watcher = CodeWatcher()

    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=watcher) as s:
        s.until_done()
        final_run = s.get_final_run()
        steps = s.get_final_run_steps()
        (final,) = s.get_final_messages()

    assert final_run.status == "completed"
    (created,) = watcher.created
    assert created.type == "code_interpreter" and created.code_interpreter.input == ""
    (stored,) = code_calls(client, thread.id, final_run.id)
    assert stored.id == created.id
    assert len(watcher.inputs) > 1 and "".join(watcher.inputs) == stored.code_interpreter.input
    logs, image = watcher.outputs
    assert (logs.index, logs.type, image.index, image.type) == (0, "logs", 1, "image")
    assert "North: 420.25" in logs.logs
    (tool_step,) = [step for step in steps if step.step_details.type == "tool_calls"]
    (accumulated,) = tool_step.step_details.tool_calls
    assert accumulated.code_interpreter.input == stored.code_interpreter.input
    assert [o.type for o in accumulated.code_interpreter.outputs] == ["logs", "image"]
    assert final.content[1].type == "image_file" and final.content[1].image_file.file_id == image.image.file_id
    assert watcher.images_done == [final.content[1].image_file]
    retrieved = client.beta.threads.messages.retrieve(message_id=final.id, thread_id=thread.id)
    assert retrieved.content == final.content
    assert client.files.content(image.image.file_id).read().startswith(PNG_SIGNATURE)


def test_another_owners_file_is_refused_with_a_400(server, client, sales):
    other = client_of(server, "someone-else")

    with pytest.raises(openai.BadRequestError) as refused:
        other.beta.assistants.create(
            model="gpt-4o",
            tools=[{"type": "code_interpreter"}],
            tool_resources={"code_interpreter": {"file_ids": [sales.id]}},
        )

    assert refused.value.status_code == 400
    assert refused.value.body["param"] == "tool_resources.code_interpreter.file_ids"
    with pytest.raises(openai.NotFoundError):
        other.files.content(sales.id)


def test_a_server_that_cannot_run_bubblewrap_does_not_offer_the_tool(server_without_sandbox, transactional_db):
    client = client_of(server_without_sandbox, "no-sandbox")
    data = client.files.create(file=("sales.csv", SALES_CSV), purpose="assistants")
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [data.id]}},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is the total revenue by region?"}])

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)

    assert run.status == "completed"
    assert code_calls(client, thread.id, run.id) == []  # nothing ran, not even outside a sandbox
    (answer,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    assert "North" not in answer.content[0].text.value
