"""code_interpreter in /v1 runs, on the offline model and the real sandbox: the input files (the
assistant's, the thread's, a message's attachments) copied into /mnt/data, the computed answer, the
run step's code and outputs, charts as image_file parts, written files as assistants_output files
cited with file_path annotations, errors given back to the model, sessions that keep their state.

Transactional: each request commits, so the run executes at once (RUN_DISPATCH inline).
"""

from __future__ import annotations

import pytest

from knowledge.models import File
from runtime.models import ToolCall
from sandbox import sessions
from tests.api import key_client
from tests.knowledge.v1 import upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox")]

SALES_CSV = b"""Date,Region,Product,Revenue,Units
2024-01-05,North,Mug,120.50,3
2024-01-17,South,Mug,80.00,2
2024-02-03,North,Teapot,200.00,1
2024-02-20,East,Mug,40.25,1
2024-03-11,South,Teapot,210.00,1
2024-03-28,North,Mug,99.75,2
"""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def roomy_limits(sandbox_settings, settings, tmp_path):
    """Time enough for pandas and matplotlib to load in a fresh session on a busy machine."""
    settings.SANDBOX_WALL_SECONDS = 30.0
    settings.SANDBOX_CPU_SECONDS = 30.0
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def acme():
    return key_client("acme")[1]


@pytest.fixture
def sales(acme) -> dict:
    response = upload(acme, "sales.csv", SALES_CSV)
    assert response.status_code == 200, response.content
    return response.json()


def analyst(client, **fields) -> dict:
    body = {"model": "gpt-4o", "instructions": "You analyse data files.", "tools": [{"type": "code_interpreter"}]}
    response = client.post("/v1/assistants", {**body, **fields})
    assert response.status_code == 200, response.content
    return response.json()


def run_on(client, thread_id: str, assistant_id: str) -> dict:
    created = client.post(f"/v1/threads/{thread_id}/runs", {"assistant_id": assistant_id})
    assert created.status_code == 200, created.content
    run = client.get(f"/v1/threads/{thread_id}/runs/{created.json()['id']}").json()
    assert run["status"] == "completed", run
    return run


def ask(client, assistant: dict, question, *, thread: dict | None = None, attachments=None) -> tuple[dict, dict]:
    """Ask in a new thread (or `thread`), run the assistant; the thread and the answer message."""
    message = {"role": "user", "content": question}
    if attachments:
        message["attachments"] = attachments
    if thread is None:
        thread = client.post("/v1/threads", {"messages": [message]}).json()
    else:
        assert client.post(f"/v1/threads/{thread['id']}/messages", message).status_code == 200
    run = run_on(client, thread["id"], assistant["id"])
    answers = client.get(f"/v1/threads/{thread['id']}/messages", {"run_id": run["id"]}).json()["data"]
    assert answers and answers[0]["role"] == "assistant"
    return thread, {**answers[0], "run": run}


def code_calls(client, thread_id: str, run_id: str) -> list[dict]:
    steps = client.get(f"/v1/threads/{thread_id}/runs/{run_id}/steps", {"order": "asc"}).json()["data"]
    return [
        call
        for step in steps
        if step["type"] == "tool_calls"
        for call in step["step_details"]["tool_calls"]
        if call["type"] == "code_interpreter"
    ]


def text_of(message: dict) -> str:
    return "".join(part["text"]["value"] for part in message["content"] if part["type"] == "text")


def test_the_total_revenue_by_region_of_the_assistants_file_is_computed(acme, sales):
    assistant = analyst(acme, tool_resources={"code_interpreter": {"file_ids": [sales["id"]]}})
    assert assistant["tool_resources"] == {"code_interpreter": {"file_ids": [sales["id"]]}}

    thread, answer = ask(acme, assistant, "What is the total revenue by region?")

    text = text_of(answer)
    assert "North: **420.25**" in text and "South: **290.00**" in text and "East: **40.25**" in text
    assert "All together: **750.50**" in text
    (call,) = code_calls(acme, thread["id"], answer["run"]["id"])
    assert call["id"].startswith("call_")
    assert "pd.read_csv('/mnt/data/sales.csv'" in call["code_interpreter"]["input"]
    (logs,) = call["code_interpreter"]["outputs"]
    assert logs["type"] == "logs" and "North: 420.25" in logs["logs"]


def test_a_chart_is_an_image_in_the_answer_and_its_figures_a_linked_file(acme, sales):
    assistant = analyst(acme)
    thread, answer = ask(
        acme,
        assistant,
        "Plot sales per month",
        attachments=[{"file_id": sales["id"], "tools": [{"type": "code_interpreter"}]}],
    )

    text_part, image_part = answer["content"]
    assert image_part == {
        "type": "image_file",
        "image_file": {"file_id": image_part["image_file"]["file_id"], "detail": "auto"},
    }
    chart = acme.get(f"/v1/files/{image_part['image_file']['file_id']}")
    assert chart.json()["purpose"] == "assistants_output" and chart.json()["filename"] == "image-1.png"
    content = acme.get(f"/v1/files/{image_part['image_file']['file_id']}/content")
    assert content.status_code == 200 and content["Content-Type"] == "image/png"
    assert b"".join(content.streaming_content).startswith(PNG_SIGNATURE)

    text = text_part["text"]["value"]
    assert "2024-01: **200.50**" in text and "2024-03: **309.75**" in text
    (annotation,) = text_part["text"]["annotations"]
    assert annotation["type"] == "file_path"
    assert annotation["text"] == "sandbox:/mnt/data/total_revenue_by_month.csv"
    assert text[annotation["start_index"] : annotation["end_index"]] == annotation["text"]
    table = acme.get(f"/v1/files/{annotation['file_path']['file_id']}/content")
    assert b"".join(table.streaming_content).decode().splitlines()[1:] == [
        "2024-01,200.5",
        "2024-02,240.25",
        "2024-03,309.75",
    ]
    (call,) = code_calls(acme, thread["id"], answer["run"]["id"])
    logs, image = call["code_interpreter"]["outputs"]
    assert logs["type"] == "logs" and image == {
        "type": "image",
        "image": {"file_id": image_part["image_file"]["file_id"]},
    }


def test_a_python_block_runs_as_written_and_the_session_keeps_its_variables(acme):
    assistant = analyst(acme)
    thread, first = ask(acme, assistant, "Please run:\n```python\nanswer = 6 * 7\nprint('set', answer)\n```")
    assert "set 42" in text_of(first)

    _, second = ask(acme, assistant, "```python\nprint(answer + 1)\n```", thread=thread)

    assert "43" in text_of(second)
    (call,) = code_calls(acme, thread["id"], second["run"]["id"])
    assert call["code_interpreter"] == {"input": "print(answer + 1)\n", "outputs": [{"type": "logs", "logs": "43"}]}


def test_a_fresh_session_is_told_to_the_model(acme):
    assistant = analyst(acme)
    thread, _ = ask(acme, assistant, "```python\nanswer = 42\n```")
    sessions.close(thread["id"])  # expired, evicted, or on another host

    _, second = ask(acme, assistant, "```python\nprint(answer)\n```", thread=thread)

    text = text_of(second)
    assert "NameError" in text and "new session" in text


def test_an_endless_loop_is_an_error_the_model_reads_and_the_run_completes(acme, settings):
    settings.SANDBOX_WALL_SECONDS = 1.0
    assistant = analyst(acme)

    thread, answer = ask(acme, assistant, "```python\nprint('start')\nwhile True:\n    pass\n```")

    assert answer["run"]["status"] == "completed"
    assert "Execution timed out after 1 s" in text_of(answer)
    call = ToolCall.objects.get(step__run__public_id=answer["run"]["id"])
    assert call.status == ToolCall.Status.COMPLETED and '"error": "Execution timed out' in call.output
    _, after = ask(acme, assistant, "```python\nprint('still here')\n```", thread=thread)
    assert "still here" in text_of(after)


def test_files_the_code_writes_belong_to_the_threads_owner_only(acme, sales):
    globex = key_client("globex")[1]
    assistant = analyst(acme)
    _, answer = ask(
        acme,
        assistant,
        "```python\nopen('/mnt/data/report.csv', 'w').write('a,b\\n1,2\\n')\n```",
        attachments=[{"file_id": sales["id"], "tools": [{"type": "code_interpreter"}]}],
    )

    (annotation,) = answer["content"][0]["text"]["annotations"]
    file_id = annotation["file_path"]["file_id"]
    assert annotation["text"] == "sandbox:/mnt/data/report.csv"
    stored = File.objects.get(public_id=file_id)
    assert (stored.purpose, stored.filename, stored.content_type) == ("assistants_output", "report.csv", "text/csv")
    assert b"".join(acme.get(f"/v1/files/{file_id}/content").streaming_content) == b"a,b\n1,2\n"
    assert globex.get(f"/v1/files/{file_id}/content").status_code == 404
    assert globex.get(f"/v1/files/{file_id}").status_code == 404
    assert [f["id"] for f in acme.get("/v1/files", {"purpose": "assistants_output"}).json()["data"]] == [file_id]


def test_another_owners_file_is_refused_naming_the_param(acme, sales):
    globex = key_client("globex")[1]
    theirs = {"code_interpreter": {"file_ids": [sales["id"]]}}

    refused = [
        globex.post("/v1/assistants", {"model": "gpt-4o", "tool_resources": theirs}),
        globex.post("/v1/threads", {"tool_resources": theirs}),
        globex.post(
            "/v1/threads",
            {
                "messages": [
                    {
                        "role": "user",
                        "content": "total revenue by region",
                        "attachments": [{"file_id": sales["id"], "tools": [{"type": "code_interpreter"}]}],
                    }
                ]
            },
        ),
    ]

    assert [r.status_code for r in refused] == [400, 400, 400]
    assert [r.json()["error"]["param"] for r in refused] == [
        "tool_resources.code_interpreter.file_ids",
        "tool_resources.code_interpreter.file_ids",
        "attachments[0].file_id",
    ]
    assert all(f"No file found with id '{sales['id']}'" in r.json()["error"]["message"] for r in refused)
    thread = acme.post("/v1/threads", {}).json()
    modified = globex.post(f"/v1/threads/{thread['id']}", {"tool_resources": theirs})
    assert modified.status_code == 404  # not even the thread is theirs
    mine = globex.post("/v1/threads", {}).json()
    assert globex.post(f"/v1/threads/{mine['id']}", {"tool_resources": theirs}).status_code == 400


@pytest.mark.parametrize(
    ("resources", "param"),
    [
        ({"code_interpreter": {"file_ids": "file-abc"}}, "tool_resources.code_interpreter.file_ids"),
        ({"code_interpreter": {"file_ids": [1, 2]}}, "tool_resources.code_interpreter.file_ids"),
        (
            {"code_interpreter": {"file_ids": [f"file-{n}" for n in range(21)]}},
            "tool_resources.code_interpreter.file_ids",
        ),
        ({"code_interpreter": {"file_ids": [], "extra": 1}}, "tool_resources.code_interpreter.extra"),
    ],
)
def test_malformed_code_interpreter_resources_are_refused_naming_the_param(acme, resources, param):
    response = acme.post("/v1/assistants", {"model": "gpt-4o", "tool_resources": resources})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_an_attachment_for_code_with_no_file_id_is_refused(acme):
    attachment = {"file_id": None, "tools": [{"type": "code_interpreter"}]}
    thread = acme.post("/v1/threads", {}).json()

    response = acme.post(
        f"/v1/threads/{thread['id']}/messages", {"role": "user", "content": "hi", "attachments": [attachment]}
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "attachments[0].file_id"
    assert acme.get(f"/v1/threads/{thread['id']}/messages").json()["data"] == []
