"""Reading the Analyst's answers back: each question with its run, the answer's text, the code that
ran and what it printed, and the charts; and who may see a chart.

Nothing here writes. A chart is a knowledge File of the shop's (purpose assistants_output) that an
answer in the supervisor's own analyst thread shows; no other file is ever served through the
console's chart route.
"""

from __future__ import annotations

from django.urls import reverse

from agents.analyst.threads import analyst_threads_of
from common.errors import NotFound
from knowledge.models import File
from runtime.models import Message, Run, Thread, ToolCall
from runtime.serializers import json_object, tool_call_obj
from runtime.tools import registry
from sandbox import sessions

CODE_INTERPRETER = "code_interpreter"
SHOWN_EXCHANGES = 20  # the latest questions the page shows


def chart_url(file_id: str) -> str:
    return reverse("console:analyst-chart", args=[file_id])


def download_url(file_id: str) -> str:
    return reverse("console:analyst-file", args=[file_id])


def image_ids(content: list) -> list[str]:
    """The file ids of a message's image_file parts, in order."""
    return [
        part["image_file"]["file_id"]
        for part in content or []
        if part.get("type") == "image_file" and (part.get("image_file") or {}).get("file_id")
    ]


def file_links(content: list) -> dict[str, str]:
    """The files a message's text links to (its file_path annotations): link text → file id."""
    return {
        annotation["text"]: annotation["file_path"]["file_id"]
        for part in content or []
        if part.get("type") == "text"
        for annotation in (part.get("text") or {}).get("annotations") or []
        if annotation.get("type") == "file_path" and (annotation.get("file_path") or {}).get("file_id")
    }


def chart_file_ids(thread: Thread) -> set[str]:
    """Every file the thread's answers show as an image, and every image its code produced."""
    ids = {
        file_id
        for content in thread.messages.filter(role=Message.Role.ASSISTANT).values_list("content", flat=True)
        for file_id in image_ids(content)
    }
    for call in ToolCall.objects.filter(step__run__thread=thread, name=CODE_INTERPRETER):
        ids.update(output["image"]["file_id"] for output in code_outputs(call) if output.get("type") == "image")
    return ids


def made_file_ids(thread: Thread) -> set[str]:
    """Every file the thread's code made: its charts, the files its answers link to, and any other
    file a call's result named (`message_files`, the runtime's contract for a built-in tool's files)."""
    ids = chart_file_ids(thread)
    for content in thread.messages.filter(role=Message.Role.ASSISTANT).values_list("content", flat=True):
        ids.update(file_links(content).values())
    for output in ToolCall.objects.filter(step__run__thread=thread, name=CODE_INTERPRETER).values_list(
        "output", flat=True
    ):
        ids.update(
            made["file_id"]
            for made in json_object(output).get("message_files") or []
            if isinstance(made, dict) and isinstance(made.get("file_id"), str)
        )
    return ids


def code_view(call: ToolCall) -> dict:
    """A code_interpreter call as the page shows it: the code, and the logs it printed."""
    details = tool_call_obj(call).get(CODE_INTERPRETER) or {}
    outputs = details.get("outputs") or []
    return {
        "call_id": call.call_id,
        "input": details.get("input") or "",
        "logs": "\n".join(o.get("logs") or "" for o in outputs if o.get("type") == "logs"),
        "images": [o["image"]["file_id"] for o in outputs if o.get("type") == "image"],
        "status": call.status,
    }


def code_outputs(call: ToolCall) -> list[dict]:
    return (tool_call_obj(call).get(CODE_INTERPRETER) or {}).get("outputs") or []


def exchange_view(question: Message | None, run: Run) -> dict:
    """One question and the Analyst's answer to it, as the page's script draws it."""
    answers = list(run.messages.filter(role=Message.Role.ASSISTANT).order_by("created_at", "id"))
    calls = ToolCall.objects.filter(step__run=run, name=CODE_INTERPRETER).order_by("step__created_at", "index")
    images = [file_id for message in answers for file_id in image_ids(message.content)]
    links = {link: file_id for message in answers for link, file_id in file_links(message.content).items()}
    error = (run.last_error or {}).get("message", "")
    if run.status in (Run.Status.EXPIRED, Run.Status.CANCELLED) and not error:
        error = f"The Analyst stopped ({run.get_status_display().lower()})."
    return {
        "run_id": run.public_id,
        "poll_url": reverse("console:analyst-run", args=[run.public_id]),
        "status": run.status,
        "done": run.status not in Run.ACTIVE,
        "question": question.text if question else "",
        "asked_at": int(run.created_at.timestamp()),
        "answer": "\n\n".join(m.text for m in answers if m.text),
        "images": [{"file_id": file_id, "url": chart_url(file_id)} for file_id in images],
        # The answer names these as sandbox:/mnt/data/… links; the page links them to their download.
        "files": [{"link": link, "file_id": file_id, "url": download_url(file_id)} for link, file_id in links.items()],
        "code": [code_view(call) for call in calls],
        "error": error,
    }


def exchange_of(run: Run) -> dict:
    """The run's question (the last asked before it) and its answer."""
    question = (
        run.thread.messages.filter(role=Message.Role.USER, created_at__lte=run.created_at)
        .order_by("-created_at", "-id")
        .first()
    )
    return exchange_view(question, run)


def exchanges(thread: Thread | None, limit: int = SHOWN_EXCHANGES) -> list[dict]:
    """The thread's latest questions with their answers, oldest first. A run's question is the last
    question asked before it was created (run_create stores it in the same transaction)."""
    if thread is None:
        return []
    latest = list(thread.runs.order_by("-created_at", "-id")[:limit])[::-1]
    questions = list(
        thread.messages.filter(role=Message.Role.USER).order_by("created_at", "id").only("content", "created_at")
    )
    out = []
    for run in latest:
        asked = [q for q in questions if q.created_at <= run.created_at]
        out.append(exchange_view(asked[-1] if asked else None, run))
    return out


def access_run(supervisor, run_id: str) -> Run:
    """One of the supervisor's own analyst runs; any other reads as not found."""
    run = Run.objects.filter(public_id=run_id, thread__in=analyst_threads_of(supervisor)).first()
    if run is None:
        raise NotFound("No such question.")
    return run


# The raster formats a chart may be served as, by their first bytes. Never SVG: opened directly, its
# scripts would run on the console's origin.
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(head: bytes) -> str | None:
    """The raster image type `head` (a file's first bytes) starts, or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for signature, kind in IMAGE_SIGNATURES if head.startswith(signature)), None)


def access_output(supervisor, file_id: str, *, chart: bool = False) -> File:
    """A file the code of one of the supervisor's analyst threads made (`chart`: one its answers show
    as an image); any other file reads as not found (another supervisor's, the exports, help-centre
    files, /v1 callers' files)."""
    file = File.objects.filter(public_id=file_id, owner__isnull=True, purpose=File.Purpose.ASSISTANTS_OUTPUT).first()
    made = chart_file_ids if chart else made_file_ids
    if file is None or not any(file_id in made(t) for t in analyst_threads_of(supervisor)):
        raise NotFound("No such file.")
    return file


def code_interpreter_offered() -> tuple[bool, str]:
    """Whether runs can run code on this server, and if not, why (the page says so)."""
    if registry.get(CODE_INTERPRETER) is None:
        return False, "the code_interpreter tool is not installed."
    return sessions.availability()
