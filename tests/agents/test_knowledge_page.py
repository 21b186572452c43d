"""The console's Knowledge page (/console/knowledge/): agents see the help centre's files and try
questions on them; supervisors also upload and remove. Uploads are read in the background (after
commit: RUN_DISPATCH is inline here, so the commit callbacks are the ingestion), and the page shows
where each file stands, its passages, and why a file could not be read. Under the files, the
questions the documents could not answer, grouped."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from knowledge import services
from knowledge.help_centre import ensure_help_centre, help_centre_store
from knowledge.models import Chunk, File, UnansweredQuestion, VectorStore, VectorStoreFile
from tests.agents.conftest import signed_in, staff_member
from tests.factories import UserFactory

PAGE = "/console/knowledge/"
FILES = "/console/knowledge/files/"
UPLOAD = "/console/knowledge/upload/"
JSON = {"HTTP_ACCEPT": "application/json"}

RETURNS = b"""# Returns and refunds

## Returns window

You can return any item within 30 days of delivery for a full refund, as long as it is unused.

## Final sale

Items marked final sale cannot be returned.
"""
SHIPPING = b"""# Shipping

## Countries

We ship to the United States and Canada. Delivery takes three to five business days.
"""
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def remove_url(file: File) -> str:
    return f"/console/knowledge/files/{file.public_id}/remove/"


def upload(client: Client, name: str, data: bytes, **fields) -> object:
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data), **fields}, follow=True)


def uploaded(client, name: str, data: bytes, capture, **fields) -> VectorStoreFile:
    """Upload through the page and read it, as the background worker would after the commit."""
    with capture(execute=True):
        upload(client, name, data, **fields)
    return VectorStoreFile.objects.select_related("file").latest("created_at", "id")


def row_of(html: str, file: File) -> str:
    match = re.search(rf'<tr data-file="{file.public_id}".*?</tr>', html, re.DOTALL)
    assert match, f"no row for {file.filename}"
    return match.group()


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- who may do what -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [PAGE, FILES])
def test_anonymous_visitors_are_sent_to_the_console_login(url, db):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/console/login/?next={url}"


def test_anonymous_visitors_cannot_upload(db):
    response = Client().post(UPLOAD, {"file": SimpleUploadedFile("returns.md", RETURNS)})
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")
    assert not File.objects.exists()


def test_staff_outside_the_console_get_403(db):
    client = signed_in(staff_member("carol", group=None))
    assert client.get(PAGE).status_code == 403
    assert client.post(UPLOAD, {"file": SimpleUploadedFile("returns.md", RETURNS)}).status_code == 403
    assert not File.objects.exists()


def test_an_agent_sees_the_page_and_the_nav_link_but_cannot_upload_or_remove(agent_client, db):
    store, _ = ensure_help_centre()
    file = services.file_create(owner=None, upload=SimpleUploadedFile("returns.md", RETURNS), purpose="assistants")
    services.store_file_add(store, file)
    html = agent_client.get(PAGE).content.decode()
    assert "returns.md" in html
    assert 'href="/console/knowledge/"' in agent_client.get("/console/").content.decode()  # in the nav
    assert 'id="upload-form"' not in html and remove_url(file) not in html
    assert agent_client.post(UPLOAD, {"file": SimpleUploadedFile("shipping.md", SHIPPING)}).status_code == 403
    assert agent_client.post(remove_url(file)).status_code == 403
    assert list(File.objects.values_list("filename", flat=True)) == ["returns.md"]


def test_a_supervisor_gets_the_upload_form_and_remove_buttons(supervisor_client, db):
    store, _ = ensure_help_centre()
    file = services.file_create(owner=None, upload=SimpleUploadedFile("returns.md", RETURNS), purpose="assistants")
    services.store_file_add(store, file)
    html = supervisor_client.get(PAGE).content.decode()
    assert 'id="upload-form"' in html and 'enctype="multipart/form-data"' in html
    assert remove_url(file) in html


# --- upload and ingestion ---------------------------------------------------------------------------


def test_the_first_upload_starts_the_help_centre(supervisor_client, django_capture_on_commit_callbacks):
    assert help_centre_store() is None
    assert "There is no help centre yet" in supervisor_client.get(PAGE).content.decode()
    store_file = uploaded(supervisor_client, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    assert store_file.vector_store == help_centre_store()
    assert store_file.file.owner is None and store_file.file.help_slug is None


def test_an_upload_is_in_progress_then_completed_with_its_passages(
    supervisor_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as ingestion:
        response = upload(supervisor_client, "returns.md", RETURNS)
    assert "returns.md is uploaded and being read" in flash(response)[0]
    store_file = VectorStoreFile.objects.select_related("file").get()
    assert store_file.status == VectorStoreFile.Status.IN_PROGRESS

    html = supervisor_client.get(PAGE).content.decode()
    assert 'data-status="in_progress"' in row_of(html, store_file.file)
    assert ">In progress<" in row_of(html, store_file.file)
    assert re.search(r'id="reading"\s*>', html), "the 'reading' notice is shown"
    polled = supervisor_client.get(FILES, **JSON).json()["files"]
    assert [(f["file_id"], f["status"], f["chunks"]) for f in polled] == [(store_file.file.public_id, "in_progress", 0)]

    for callback in ingestion:  # the background worker, after the commit
        callback()

    chunks = Chunk.objects.filter(store_file=store_file).count()
    assert chunks > 0
    row = row_of(supervisor_client.get(PAGE).content.decode(), store_file.file)
    assert 'data-status="completed"' in row and ">Completed<" in row
    assert f'data-field="chunks">{chunks}<' in row
    polled = supervisor_client.get(FILES, **JSON).json()["files"]
    assert polled == [
        {
            "file_id": store_file.file.public_id,
            "status": "completed",
            "status_label": "Completed",
            "chunks": chunks,
            "error": "",
            "error_code": "",
        }
    ]


@pytest.mark.parametrize(
    ("name", "data", "code", "message"),
    [
        ("manual.pdf", PNG, "unsupported_file", "This file (a PNG image) can't be searched."),
        ("manual.pdf", b"%PDF-1.7\nnot a PDF at all", "invalid_file", "The PDF is damaged and can't be read."),
    ],
    ids=["png-named-pdf", "bytes-that-are-not-a-pdf"],
)
def test_a_file_that_cannot_be_read_shows_its_error(
    name, data, code, message, supervisor_client, django_capture_on_commit_callbacks
):
    store_file = uploaded(supervisor_client, name, data, django_capture_on_commit_callbacks)
    assert store_file.status == VectorStoreFile.Status.FAILED
    row = row_of(supervisor_client.get(PAGE).content.decode(), store_file.file)
    assert ">Failed<" in row
    assert message.replace("'", "&#x27;") in row and f"<code>{code}</code>" in row
    [polled] = supervisor_client.get(FILES, **JSON).json()["files"]
    assert polled["status"] == "failed" and polled["error_code"] == code and polled["error"].startswith(message)


@pytest.mark.django_db(transaction=True)
def test_the_upload_message_says_how_reading_went(supervisor_client):
    # Outside a test's transaction the upload commits, and inline dispatch reads it before the answer.
    response = upload(supervisor_client, "returns.md", RETURNS)
    assert flash(response) == ["returns.md is uploaded and searchable."]
    response = upload(supervisor_client, "manual.pdf", PNG)
    assert flash(response)[0].startswith("manual.pdf is uploaded but could not be read: This file (a PNG image)")


def test_publishing_makes_a_help_article_with_a_slug_from_its_title(
    supervisor_client, django_capture_on_commit_callbacks
):
    first = uploaded(
        supervisor_client,
        "returns.md",
        RETURNS,
        django_capture_on_commit_callbacks,
        publish="on",
        title="Returns & refunds",
    )
    assert (first.file.help_slug, first.file.title) == ("returns-refunds", "Returns & refunds")
    article = Client().get("/help/returns-refunds/")
    assert article.status_code == 200 and "within 30 days of delivery" in article.content.decode()
    assert Client().get(f"/help/files/{first.file.public_id}/")["Location"] == "/help/returns-refunds/"

    second = uploaded(
        supervisor_client, "returns-eu.md", RETURNS, django_capture_on_commit_callbacks, publish="on", title=""
    )
    assert (second.file.help_slug, second.file.title) == ("returns-eu", "Returns eu")
    third = uploaded(
        supervisor_client,
        "other.md",
        RETURNS,
        django_capture_on_commit_callbacks,
        publish="on",
        title="Returns: refunds",
    )
    assert third.file.help_slug == "returns-refunds-2"
    row = row_of(supervisor_client.get(PAGE).content.decode(), first.file)
    assert 'href="/help/returns-refunds/"' in row


def test_only_markdown_or_text_can_be_published(supervisor_client):
    response = upload(supervisor_client, "manual.pdf", b"%PDF-1.7\n...", publish="on", title="Manual")
    assert "Only Markdown or plain-text files can be published" in flash(response)[0]
    assert not File.objects.exists()


def test_an_upload_without_a_file_is_refused(supervisor_client):
    response = supervisor_client.post(UPLOAD, {"title": "Nothing"}, follow=True)
    assert flash(response) == ["Choose a file to upload."]
    response = supervisor_client.post(UPLOAD, {"title": "Nothing"}, **JSON)
    assert response.status_code == 400 and response.json()["error"]["message"] == "Choose a file to upload."
    assert not File.objects.exists()


def test_an_empty_or_oversized_file_is_refused(supervisor_client, settings):
    assert flash(upload(supervisor_client, "empty.md", b"")) == ["The file is empty."]
    settings.KNOWLEDGE_MAX_UPLOAD_BYTES = 100
    assert "the limit is 100 bytes" in flash(upload(supervisor_client, "returns.md", RETURNS))[0]
    assert not File.objects.exists()


# --- remove -------------------------------------------------------------------------------------------


def test_a_supervisor_removes_a_file_and_searches_stop_finding_it(
    supervisor_client, django_capture_on_commit_callbacks
):
    store_file = uploaded(
        supervisor_client, "returns.md", RETURNS, django_capture_on_commit_callbacks, publish="on", title="Returns"
    )
    assert "within 30 days" in supervisor_client.get(PAGE, {"q": "return policy"}).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(remove_url(store_file.file), follow=True)
    assert flash(response) == ["returns.md is removed."]
    assert not File.objects.exists() and not Chunk.objects.exists()
    assert VectorStore.objects.filter(pk=store_file.vector_store_id).exists()  # the help centre stays
    assert "within 30 days" not in supervisor_client.get(PAGE, {"q": "return policy"}).content.decode()
    assert Client().get("/help/returns/").status_code == 404


def test_remove_refuses_a_file_that_is_not_the_help_centres(supervisor_client):
    ensure_help_centre()
    theirs = services.file_create(
        owner=UserFactory(username="api-owner"), upload=SimpleUploadedFile("secret.md", RETURNS), purpose="assistants"
    )
    response = supervisor_client.post(remove_url(theirs), **JSON)
    assert response.status_code == 404
    assert "No help-centre file" in response.json()["error"]["message"]
    assert File.objects.filter(pk=theirs.pk).exists()
    assert "secret.md" not in supervisor_client.get(PAGE).content.decode()


# --- try a question -------------------------------------------------------------------------------------


def test_trying_a_question_shows_the_passages_found(
    agent_client, supervisor_client, django_capture_on_commit_callbacks
):
    uploaded(
        supervisor_client, "returns.md", RETURNS, django_capture_on_commit_callbacks, publish="on", title="Returns"
    )
    uploaded(supervisor_client, "shipping.md", SHIPPING, django_capture_on_commit_callbacks)
    response = agent_client.get(PAGE, {"q": "What is your return policy?"})
    assert response.status_code == 200
    passages = response.context["passages"]
    assert passages, "something was found"
    best = passages[0]
    assert (best.filename, best.heading) == ("returns.md", "Returns window")
    assert "within 30 days of delivery" in best.text and best.counts
    html = response.content.decode()
    listed = html[html.index('id="passages"') :]
    assert '<span class="score"' in listed and f">{best.score:.2f}<" in listed
    assert "<strong>Returns</strong>" in listed and "returns.md" in listed and "Returns window" in listed
    assert 'value="What is your return policy?"' in html


def test_passages_below_the_threshold_are_shown_as_not_given_to_the_assistant(
    agent_client, supervisor_client, settings, django_capture_on_commit_callbacks
):
    uploaded(supervisor_client, "returns.md", RETURNS, django_capture_on_commit_callbacks)
    settings.KNOWLEDGE_SCORE_THRESHOLD = 1.01  # nothing can score this
    response = agent_client.get(PAGE, {"q": "return policy"})
    assert response.context["passages"] and not any(p.counts for p in response.context["passages"])
    assert "below the threshold (1.01): not given to the assistant" in response.content.decode()


def test_a_question_nothing_answers_says_so(agent_client, db):
    ensure_help_centre()
    response = agent_client.get(PAGE, {"q": "zebra xylophone"})
    assert response.context["passages"] == []
    assert "the assistant would say the documents don't cover this" in response.content.decode()


# --- what the documents could not answer ---------------------------------------------------------------


def ask(question: str, *, normalized: str, reason: str, thread: str, days_ago: float) -> UnansweredQuestion:
    return UnansweredQuestion.objects.create(
        question=question,
        normalized=normalized,
        reason=reason,
        thread_public_id=thread,
        created_at=timezone.now() - timedelta(days=days_ago),
    )


def test_unanswered_questions_are_grouped_most_asked_first(agent_client, db):
    nothing, handed = UnansweredQuestion.Reason.NOTHING_FOUND, UnansweredQuestion.Reason.HANDED_OVER
    ask("Do you gift wrap?", normalized="gift wrap", reason=nothing, thread="thread_a", days_ago=3)
    ask("do you GIFT wrap", normalized="gift wrap", reason=handed, thread="thread_b", days_ago=2)
    ask("Can you gift wrap it?", normalized="gift wrap", reason=nothing, thread="thread_c", days_ago=1)
    ask("What are your store hours?", normalized="store hours", reason=nothing, thread="thread_d", days_ago=0.5)
    ask("Old question", normalized="old question", reason=nothing, thread="thread_e", days_ago=200)

    response = agent_client.get(PAGE)
    groups = response.context["unanswered"]
    assert [(g["normalized"], g["asked"], g["nothing_found"], g["handed_over"]) for g in groups] == [
        ("gift wrap", 3, 2, 1),
        ("store hours", 1, 1, 0),
    ]
    assert (groups[0]["example"], groups[0]["example_thread"]) == ("Can you gift wrap it?", "thread_c")
    html = response.content.decode()
    table = html[html.index('id="unanswered"') :]
    assert "“Can you gift wrap it?”" in table
    assert "Nothing in the documents × 2" in table and "Went to a person after a search × 1" in table
    assert 'href="/console/conversations/thread_c/"' in table
    assert table.index("gift wrap") < table.index("store hours")
    assert "Old question" not in table


def test_no_unanswered_questions_reads_as_none(agent_client, db):
    assert "No unanswered questions in this period." in agent_client.get(PAGE).content.decode()


# --- hostile input ----------------------------------------------------------------------------------------


def test_a_nul_in_the_question_is_refused_before_the_page(agent_client, db):
    assert agent_client.get(PAGE, {"q": "returns\x00"}).status_code == 400


def test_a_long_question_is_cut_to_its_limit(agent_client, db):
    ensure_help_centre()
    response = agent_client.get(PAGE, {"q": "return " * 500})
    assert response.status_code == 200 and len(response.context["question"]) == 1000


def test_a_files_path_and_markup_are_stored_and_shown_as_harmless_text(
    supervisor_client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    title = '<img src=x onerror="alert(1)"> Returns'
    file = uploaded(supervisor_client, "../../etc/returns.md", RETURNS, capture, publish="on", title=title).file
    assert file.filename == "returns.md"
    assert (file.title, file.help_slug) == (title, "img-srcx-onerroralert1-returns")
    html = supervisor_client.get(PAGE).content.decode()
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; Returns" in html
