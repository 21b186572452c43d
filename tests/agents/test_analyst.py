"""The supervisor's Analyst (/console/analyst/): supervisors only; a question exports the support
data into the supervisor's own analyst thread and starts a code_interpreter run; the previous
export's files go; analyst threads never reach the agents' queue, inbox or conversation pages; and
the chart route serves only images the supervisor's own answers show.

(That the run really computes and draws: test_analyst_charts.py, with the sandbox.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.files.base import ContentFile
from django.utils import timezone

from agents import inbox, selectors
from agents.analyst import answers, services
from agents.analyst.exports import TABLES
from agents.analyst.threads import analyst_threads_of
from agents.models import Escalation
from agents.triggers import check_run_outcome
from knowledge import services as knowledge_services
from knowledge.models import File
from runtime import runs
from runtime.models import Message, Run, Thread
from runtime.serializers import text_part
from sandbox import sessions
from tests.agents import sandboxed
from tests.agents.conftest import console_socket, signed_in, staff_member
from tests.factories import UserFactory

PAGE = "/console/analyst/"
ASK = "/console/analyst/ask/"
START_OVER = "/console/analyst/start-over/"
JSON = {"HTTP_ACCEPT": "application/json"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
EXPORTS = sorted(table.filename for table in TABLES)

sandbox = sandboxed.sandbox  # a real sandbox for the tests that run code
# Tests whose question is answered: the tool runs in a pool thread, on a connection of its own, which
# must see the exported files (and whose writes must not outlive the test).
ANSWERED = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def other_supervisor(db):
    return staff_member("sam", group="Supervisors", first_name="Sam")


def chart_url(file: File) -> str:
    return f"/console/analyst/charts/{file.public_id}/"


def download_url(file: File) -> str:
    return f"/console/analyst/files/{file.public_id}/"


def run_url(run: Run) -> str:
    return f"/console/analyst/runs/{run.public_id}/"


def export_files() -> list[File]:
    return list(File.objects.filter(owner=None, purpose="assistants", filename__in=EXPORTS).order_by("filename"))


def asked(supervisor, question: str, capture) -> Run:
    """A question through the service, its run executed as a worker would after the commit."""
    with capture(execute=True):
        run = services.ask(supervisor=supervisor, question=question)
    run.refresh_from_db()
    return run


def an_image(owner=None, name: str = "chart.png", data: bytes = PNG) -> File:
    return knowledge_services.file_create(owner=owner, upload=ContentFile(data, name=name), purpose="assistants_output")


def shown_in(thread: Thread, file: File) -> Message:
    """An answer in `thread` that shows `file` as an image (as code_interpreter's answers do)."""
    return runs.message_create(
        thread=thread,
        role="assistant",
        author="assistant",
        content=[{"type": "image_file", "image_file": {"file_id": file.public_id}}],
    )


def linked_in(thread: Thread, file: File) -> Message:
    """An answer in `thread` whose text links `file` (a file_path annotation, as code_interpreter's answers do)."""
    link = f"sandbox:/mnt/data/{file.filename}"
    text = f"The figures are in [{file.filename}]({link})."
    start = text.index(link)
    annotation = {
        "type": "file_path",
        "text": link,
        "start_index": start,
        "end_index": start + len(link),
        "file_path": {"file_id": file.public_id},
    }
    message = runs.message_create(thread=thread, role="assistant", author="assistant", content=text)
    Message.objects.filter(pk=message.pk).update(content=[text_part(text, [annotation])])  # as the engine stores it
    return message


# --- who may use it ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/?next=/console/analyst/")


@pytest.mark.parametrize(
    "url", [PAGE, "/console/analyst/runs/run_x/", "/console/analyst/charts/file-x/", "/console/analyst/files/file-x/"]
)
def test_agents_are_refused(agent_client, url):
    assert agent_client.get(url).status_code == 403
    assert agent_client.get(url, **JSON).json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("url", [ASK, START_OVER])
def test_agents_cannot_ask_or_start_over(agent_client, agent, url):
    response = agent_client.post(url, {"question": "plot conversations per day in conversations.csv"}, **JSON)

    assert response.status_code == 403
    assert not analyst_threads_of(agent).exists()
    assert not File.objects.exists()


def test_staff_outside_the_console_are_refused(db):
    outsider = UserFactory(username="olga", is_staff=True)
    outsider.save()

    assert signed_in(outsider).get(PAGE).status_code == 403


def test_the_service_refuses_an_agent_whatever_the_view_does(agent):
    with pytest.raises(Exception) as refused:
        services.ask(supervisor=agent, question="plot conversations per day in conversations.csv")

    assert getattr(refused.value, "code", "") == "permission_denied"
    assert not Thread.objects.exists()


def test_supervisors_see_the_page_with_the_data_described_and_questions_to_try(supervisor_client):
    response = supervisor_client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    for name in EXPORTS:
        assert f"<code>{name}</code>" in html
    assert "no satisfaction (CSAT) ratings: those are on the metrics page" in html
    assert 'value="plot conversations per day in conversations.csv"' in html
    assert 'href="/console/analyst/" aria-current="page"' in html


def test_without_the_sandbox_the_page_says_why_and_nothing_is_asked(supervisor, supervisor_client, monkeypatch):
    monkeypatch.setattr(sessions, "availability", lambda: (False, "bubblewrap is not installed."))

    page = supervisor_client.get(PAGE).content.decode()
    response = supervisor_client.post(ASK, {"question": "describe escalations.csv"}, **JSON)

    assert "The Analyst cannot run code on this server: bubblewrap is not installed." in page
    assert 'id="ask-button" disabled' in page
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "sandbox_unavailable"
    assert not Thread.objects.exists() and not File.objects.exists()


def test_agents_do_not_get_the_analyst_in_their_menu(agent_client):
    assert "/console/analyst/" not in agent_client.get("/console/").content.decode()


# --- asking ------------------------------------------------------------------------------------------


@ANSWERED
def test_a_question_exports_the_data_into_the_supervisor_analyst_thread_and_runs_code_interpreter(
    sandbox, supervisor, supervisor_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(ASK, {"question": "count tool calls by name in tool_calls.csv"}, **JSON)

    assert response.status_code == 200, response.content
    (thread,) = analyst_threads_of(supervisor)
    assert thread.owner is None  # the shop's, like the widget's threads
    assert thread.metadata["channel"] == "analyst"
    files = export_files()
    assert [f.filename for f in files] == EXPORTS
    assert sorted(thread.tool_resources["code_interpreter"]["file_ids"]) == sorted(f.public_id for f in files)
    assert all(f.expires_at is not None for f in files)
    (run,) = thread.runs.all()
    assert run.tools == [{"type": "code_interpreter"}]
    assert run.assistant.name == services.ANALYST and run.assistant.owner is None
    assert run.status not in Run.ACTIVE
    exchange = response.json()["exchange"]
    assert exchange["question"] == "count tool calls by name in tool_calls.csv"
    assert exchange["poll_url"] == run_url(run)
    assert supervisor_client.get(run_url(run)).json()["exchange"]["done"] is True


@ANSWERED
def test_each_supervisor_has_a_thread_of_their_own(
    sandbox, supervisor, other_supervisor, django_capture_on_commit_callbacks
):
    mine = asked(supervisor, "describe escalations.csv", django_capture_on_commit_callbacks)
    asked(supervisor, "count tool calls by name in tool_calls.csv", django_capture_on_commit_callbacks)
    theirs = asked(other_supervisor, "describe escalations.csv", django_capture_on_commit_callbacks)

    assert analyst_threads_of(supervisor).count() == 1
    assert mine.thread.runs.count() == 2
    assert theirs.thread_id != mine.thread_id
    assert signed_in(other_supervisor).get(run_url(mine), **JSON).status_code == 404


@ANSWERED
def test_a_stale_export_is_replaced_and_its_files_deleted(sandbox, supervisor, django_capture_on_commit_callbacks):
    first = asked(supervisor, "describe escalations.csv", django_capture_on_commit_callbacks)
    before = export_files()
    asked(supervisor, "count tool calls by name in tool_calls.csv", django_capture_on_commit_callbacks)
    assert export_files() == before  # a follow-up within minutes reuses the export

    thread = first.thread
    thread.refresh_from_db()
    older = (timezone.now() - services.EXPORT_FRESH_FOR - timedelta(seconds=1)).isoformat()
    runs.thread_modify(thread, fields={"metadata": {**thread.metadata, services.EXPORTED_AT: older}})
    asked(supervisor, "plot conversations per day in conversations.csv", django_capture_on_commit_callbacks)

    after = export_files()
    assert [f.filename for f in after] == EXPORTS
    assert not {f.pk for f in after} & {f.pk for f in before}
    assert not File.objects.filter(pk__in=[f.pk for f in before]).exists()
    thread.refresh_from_db()
    assert sorted(thread.tool_resources["code_interpreter"]["file_ids"]) == sorted(f.public_id for f in after)


def test_a_question_while_the_last_is_being_answered_is_refused_and_leaves_no_files(
    sandbox, supervisor, supervisor_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the run stays queued: no worker took it
        supervisor_client.post(ASK, {"question": "describe escalations.csv"}, **JSON)
    thread = analyst_threads_of(supervisor).get()
    runs.thread_modify(
        thread, fields={"metadata": {**thread.metadata, services.EXPORTED_AT: "2000-01-01T00:00:00+00:00"}}
    )

    response = supervisor_client.post(ASK, {"question": "count tool calls by name in tool_calls.csv"}, **JSON)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "analyst_busy"
    assert len(export_files()) == len(EXPORTS)
    assert thread.runs.count() == 1


@pytest.mark.parametrize("question", ["", "   ", "x" * (services.MAX_QUESTION_CHARS + 1)])
def test_an_empty_or_oversized_question_is_refused(sandbox, supervisor, supervisor_client, question):
    response = supervisor_client.post(ASK, {"question": question}, **JSON)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert not Thread.objects.exists() and not File.objects.exists()


@ANSWERED
def test_a_plain_form_post_returns_to_the_page(sandbox, supervisor_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(ASK, {"question": "describe escalations.csv"}, follow=True)

    assert response.redirect_chain[-1][0] == PAGE
    assert "describe escalations.csv" in response.content.decode()


@ANSWERED
def test_starting_over_deletes_the_thread_its_exports_and_its_charts(
    sandbox, supervisor, supervisor_client, other_supervisor, django_capture_on_commit_callbacks
):
    mine = asked(supervisor, "describe escalations.csv", django_capture_on_commit_callbacks)
    theirs = asked(other_supervisor, "describe escalations.csv", django_capture_on_commit_callbacks)
    chart = an_image()
    shown_in(mine.thread, chart)
    figures = an_image(name="figures.csv", data=b"day,count\n2026-03-02,3\n")
    linked_in(mine.thread, figures)

    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(START_OVER, **JSON)

    assert response.status_code == 200
    assert not analyst_threads_of(supervisor).exists()
    assert not File.objects.filter(pk__in=[chart.pk, figures.pk]).exists()
    remaining = set(File.objects.values_list("public_id", flat=True))
    assert remaining == set(theirs.thread.tool_resources["code_interpreter"]["file_ids"])


# --- kept out of the agents' work --------------------------------------------------------------------


def test_failing_analyst_runs_never_call_a_person(supervisor, settings, django_capture_on_commit_callbacks):
    thread = services.analyst_thread(supervisor)
    assistant = services.analyst_assistant()
    for _ in range(settings.ESCALATE_AFTER_FAILURES + 1):
        with django_capture_on_commit_callbacks(execute=False):
            run = runs.run_create(thread=thread, assistant=assistant)
        runs.run_fail(run, code="server_error", message="The sandbox fell over.")
        check_run_outcome(Run.objects.get(pk=run.pk))

    assert not Escalation.objects.exists()
    assert selectors.queue() == []


@ANSWERED
def test_analyst_threads_are_not_conversations(sandbox, supervisor, agent_client, django_capture_on_commit_callbacks):
    run = asked(supervisor, "describe escalations.csv", django_capture_on_commit_callbacks)

    assert run.thread not in list(inbox.conversations())
    assert agent_client.get(f"/console/conversations/{run.thread.public_id}/").status_code == 404
    assert signed_in(supervisor).get(f"/console/conversations/{run.thread.public_id}/").status_code == 404


@pytest.mark.django_db(transaction=True)
async def test_the_console_socket_will_not_watch_an_analyst_thread(agent, supervisor):
    thread = await database_sync_to_async(services.analyst_thread)(supervisor)
    comm, connected, _ = await console_socket(agent)
    assert connected
    assert (await comm.receive_json_from())["type"] == "hello"

    await comm.send_json_to({"type": "watch", "thread_id": thread.public_id})

    assert (await comm.receive_json_from())["code"] == "not_found"
    await comm.disconnect()


# --- charts ------------------------------------------------------------------------------------------


def test_a_chart_of_the_supervisor_own_answer_is_served_inline(supervisor, supervisor_client):
    chart = an_image()
    shown_in(services.analyst_thread(supervisor), chart)

    response = supervisor_client.get(chart_url(chart))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == PNG


@ANSWERED
def test_a_file_the_code_wrote_is_downloaded_by_its_supervisor_only(
    supervisor, supervisor_client, agent_client, other_supervisor
):
    figures = an_image(name="figures.csv", data=b"day,count\n2026-03-02,3\n")
    linked_in(services.analyst_thread(supervisor), figures)
    exchange_files = answers.file_links(Message.objects.filter(role="assistant").get().content)

    response = supervisor_client.get(download_url(figures))

    assert exchange_files == {"sandbox:/mnt/data/figures.csv": figures.public_id}
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"day,count\n2026-03-02,3\n"
    assert signed_in(other_supervisor).get(download_url(figures)).status_code == 404
    assert agent_client.get(download_url(figures)).status_code == 403
    # Linked is not shown: the chart route serves only the answers' images.
    assert supervisor_client.get(chart_url(figures)).status_code == 404


def test_the_chart_route_serves_nothing_else(
    sandbox, supervisor, supervisor_client, other_supervisor, django_capture_on_commit_callbacks
):
    asked(supervisor, "describe escalations.csv", django_capture_on_commit_callbacks)
    an_export = export_files()[0]
    unshown = an_image()  # an output file no answer of theirs shows
    theirs = an_image()
    shown_in(services.analyst_thread(other_supervisor), theirs)
    developer = UserFactory(username="shop-backend")
    a_callers = an_image(owner=developer)
    shown_in(Thread.objects.create(owner=developer), a_callers)
    customers = an_image()
    shown_in(Thread.objects.create(metadata={"channel": "widget"}), customers)

    # Shown in their own answer, but not a raster image: code can write anything under any name.
    scripted = an_image(name="chart.png", data=b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    shown_in(services.analyst_thread(supervisor), scripted)

    for file in (an_export, unshown, theirs, a_callers, customers, scripted):
        assert supervisor_client.get(chart_url(file)).status_code == 404, file.filename
        if file is not scripted:  # what their own code wrote may be downloaded, whatever it is
            assert supervisor_client.get(download_url(file)).status_code == 404, file.filename
    assert supervisor_client.get("/console/analyst/charts/file-nothing/").status_code == 404


def test_an_agent_cannot_fetch_a_supervisor_chart(supervisor, agent_client):
    chart = an_image()
    shown_in(services.analyst_thread(supervisor), chart)

    assert agent_client.get(chart_url(chart)).status_code == 403
