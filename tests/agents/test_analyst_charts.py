"""The Analyst really answers: a supervisor's question runs code in the sandbox over the exported
CSV files (the offline model writes it, as in the demo), and the answer carries the figures it
computed and the chart it drew, served to that supervisor by the console's chart route.

These run real sandbox sessions (bubblewrap): without it they skip locally and fail in CI (CI=1).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.analyst import answers, services
from runtime.models import Message, Run, RunStep, Thread, ToolCall
from runtime.serializers import text_part
from tests.agents import sandboxed
from tests.agents.conftest import signed_in

# The tool runs in a pool thread on a connection of its own: it must see what the test wrote.
pytestmark = pytest.mark.django_db(transaction=True)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

sandbox = sandboxed.sandbox  # a real sandbox for the tests that run code


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def conversations(assistant):
    """Five widget conversations over three days, and their tool calls: 3 get_order_status, 1 track_shipment."""
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    threads = []
    for days_ago in (2, 2, 1, 0, 0):
        thread = Thread.objects.create(
            assistant=assistant, metadata={"channel": "widget"}, created_at=today - timedelta(days=days_ago)
        )
        Message.objects.create(thread=thread, role="user", author="customer", content=[text_part("Where is my order?")])
        threads.append(thread)
    run = Run.objects.create(thread=threads[0], assistant=assistant, model="m", status="completed")
    step = RunStep.objects.create(run=run, type="tool_calls", status="completed")
    for index, name in enumerate(["get_order_status", "get_order_status", "track_shipment", "get_order_status"]):
        ToolCall.objects.create(
            step=step,
            index=index,
            call_id=f"call_{index}",
            name=name,
            side="server",
            status="completed",
            duration_ms=30,
        )
    return threads


def asked(supervisor, question: str, capture) -> dict:
    with capture(execute=True):
        run = services.ask(supervisor=supervisor, question=question)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, run.last_error
    return answers.exchange_of(run)


def test_a_chart_of_conversations_per_day_is_drawn_and_served(
    sandbox, conversations, supervisor, supervisor_client, django_capture_on_commit_callbacks
):
    exchange = asked(supervisor, "plot conversations per day in conversations.csv", django_capture_on_commit_callbacks)

    (code,) = exchange["code"]
    assert "conversations.csv" in code["input"]
    (image,) = exchange["images"]
    response = supervisor_client.get(image["url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(PNG_SIGNATURE)
    assert [line.split(": ")[1] for line in code["logs"].splitlines()[1:4]] == ["2", "1", "2"]  # per day, in order
    # The figures behind the chart, as the code wrote them, are linked from the answer.
    (figures,) = exchange["files"]
    assert figures["link"] in exchange["answer"]
    download = supervisor_client.get(figures["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content).decode().splitlines()[1:] == [
        line.replace(": ", ",") for line in code["logs"].splitlines()[1:4]
    ]
    # Another supervisor, asking their own questions, never sees it.
    other = signed_in(type(supervisor).objects.create(username="sam", is_staff=True, is_superuser=True))
    assert other.get(image["url"]).status_code == 404


def test_counts_come_from_the_exported_rows(sandbox, conversations, supervisor, django_capture_on_commit_callbacks):
    exchange = asked(supervisor, "count tool calls by name in tool_calls.csv", django_capture_on_commit_callbacks)

    (code,) = exchange["code"]
    assert "tool_calls.csv" in code["input"]
    assert code["logs"].splitlines()[1:] == ["get_order_status: 3", "track_shipment: 1", "All: 4"]
    assert "get_order_status: **3**" in exchange["answer"]
    assert exchange["images"] == []
