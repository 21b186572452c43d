"""The supervisor's Analyst page (/console/analyst/): questions about the support data, answered with
code and charts by the runtime's code_interpreter (agents.analyst). Supervisors only.

The page posts a question (JSON from analyst.js, or a plain form), then polls the question's run
until it rests. `chart` serves the images of the supervisor's own answers inline, `download` the other
files their code wrote (linked from the answer); nothing else is ever served through them.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from agents.analyst import answers, services
from agents.analyst.exports import MAX_ROWS, TABLES
from agents.analyst.threads import analyst_threads_of
from agents.views.access import done, failed, posted, supervisor_required
from agents.views.pages import me_of
from common.errors import DomainError, NotFound

# Questions the built-in offline model turns into code over these files (the demo and the tests run on
# it). Each names its file: the offline model reads the named file, else the last one listed.
SUGGESTED_QUESTIONS = (
    "plot conversations per day in conversations.csv",
    "count tool calls by name in tool_calls.csv",
    "average seconds_to_first_reply by agent in escalations.csv",
    "count returns by reason in returns.csv",
    "describe escalations.csv",
)


@require_GET
@supervisor_required
def page(request: HttpRequest) -> HttpResponse:
    thread = analyst_threads_of(request.user).order_by("created_at", "id").first()
    history = answers.exchanges(thread)
    offered, why = answers.code_interpreter_offered()
    context = {
        "page": "analyst",
        "state": {
            "me": me_of(request),
            "ask_url": reverse("console:analyst-ask"),
            "exchanges": history,
            "poll_ms": 700,
            "offered": offered,
        },
        "tables": TABLES,
        "max_rows": MAX_ROWS,
        "exchanges": history,
        "suggested": SUGGESTED_QUESTIONS,
        "offered": offered,
        "unavailable_because": why,
        "max_question_chars": services.MAX_QUESTION_CHARS,
    }
    return render(request, "console/analyst.html", context)


@require_POST
@supervisor_required
def ask(request: HttpRequest) -> HttpResponse:
    fallback = reverse("console:analyst")
    try:
        run = services.ask(supervisor=request.user, question=posted(request).get("question", ""))
    except DomainError as error:
        return failed(request, error, fallback=fallback)
    return done(
        request,
        message="The Analyst is working on it.",
        fallback=fallback,
        data={"exchange": answers.exchange_of(run)},
    )


@require_GET
@supervisor_required
def run(request: HttpRequest, run_id: str) -> JsonResponse:
    """Where one question stands, for the page's poll: its answer once the run rests."""
    try:
        found = answers.access_run(request.user, run_id)
    except NotFound as error:
        return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=404)
    return JsonResponse({"exchange": answers.exchange_of(found)})


def _not_found(message: str = "No such file.") -> JsonResponse:
    return JsonResponse({"error": {"code": "not_found", "message": message}}, status=404)


@require_GET
@supervisor_required
def chart(request: HttpRequest, file_id: str) -> HttpResponse:
    """A chart from one of the supervisor's own answers, inline; any other file is a 404."""
    try:
        file = answers.access_output(request.user, file_id, chart=True)
    except NotFound:
        return _not_found("No such chart.")
    content = file.content.open("rb")
    kind = answers.image_type(content.read(16))
    if kind is None:  # code may save anything under a .png name: only a real raster image is shown
        content.close()
        return _not_found("No such chart.")
    content.seek(0)
    response = FileResponse(content, content_type=kind)
    response["Content-Disposition"] = content_disposition_header(False, file.filename)
    return _guarded(response)


@require_GET
@supervisor_required
def download(request: HttpRequest, file_id: str) -> HttpResponse:
    """A file the code of one of the supervisor's own answers wrote (the figures as CSV, say), as a
    download; any other file is a 404."""
    try:
        file = answers.access_output(request.user, file_id)
    except NotFound:
        return _not_found()
    response = FileResponse(file.content.open("rb"), content_type=file.content_type or "application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, file.filename)
    return _guarded(response)


def _guarded(response: HttpResponse) -> HttpResponse:
    """What the code wrote is never read as a page of the console's: no sniffing, no scripts."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
@supervisor_required
def start_over(request: HttpRequest) -> HttpResponse:
    fallback = reverse("console:analyst")
    try:
        services.start_over(supervisor=request.user)
    except DomainError as error:
        return failed(request, error, fallback=fallback)
    return done(request, message="Started over: the earlier questions, exports and charts are gone.", fallback=fallback)
