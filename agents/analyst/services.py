"""Asking the Analyst: the support data exported into the session, the supervisor's thread, a run.

Each supervisor has one analyst thread of the shop's (no owner, like the widget's; marked by
agents.analyst.threads) answered by the shop's Analyst assistant with code_interpreter. Its
tool_resources name the latest export's files; a question more than EXPORT_FRESH_FOR old re-exports,
and the previous export's files are deleted once the thread points at the new ones, so files never
pile up. Runs go through runtime.runs like every other caller's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agents.analyst.answers import code_interpreter_offered, made_file_ids
from agents.analyst.exports import TABLES, export_all
from agents.analyst.threads import CHANNEL, SUPERVISOR_KEY, analyst_threads_of
from agents.permissions import check_supervisor
from common.errors import InvalidInput, InvalidState
from knowledge import services as knowledge_services
from knowledge.models import File
from runtime import runs
from runtime.api import services as assistant_services
from runtime.errors import ThreadBusy
from runtime.models import Assistant, Run, Thread

ANALYST = "Support Data Analyst"  # the shop's assistant that answers analyst threads (found by name, owner-less)
CODE_INTERPRETER = {"type": "code_interpreter"}
MAX_QUESTION_CHARS = 2000
EXPORT_FRESH_FOR = timedelta(minutes=2)  # a follow-up question within this reuses the export
EXPORT_KEPT_FOR = timedelta(days=1)  # the files expire anyway (knowledge's expiry sweep), should a delete be missed
EXPORTED_AT = "exported_at"  # thread metadata: when its files were exported (ISO 8601)


def instructions() -> str:
    """The Analyst's instructions: what it is for and what each exported file holds."""
    lines = [
        "You are the support team's data analyst. Supervisors ask about the shop's own customer-support "
        "data; answer with figures computed with Python (pandas, matplotlib) over the CSV files in "
        "/mnt/data, and draw a chart when it helps. Say how you counted. The files:",
    ]
    for table in TABLES:
        lines.append(
            f"- {table.filename}: one row per {table.row}. Columns: "
            + "; ".join(f"{c.name} ({c.meaning})" for c in table.columns)
        )
    lines.append("Times are the shop's local time. These files have no customer satisfaction (CSAT) ratings.")
    return "\n".join(lines)


def analyst_assistant() -> Assistant:
    """The shop's Analyst assistant, created on first use and kept in step with the exports' columns."""
    fields = {
        "name": ANALYST,
        "description": "Answers supervisors' questions about the support data, with code and charts.",
        "model": settings.CONCIERGE_MODEL,
        "instructions": instructions(),
        "tools": [CODE_INTERPRETER],
        "server_tools": [],
    }
    existing = Assistant.objects.filter(owner__isnull=True, name=ANALYST).order_by("created_at", "id").first()
    if existing is None:
        return assistant_services.assistant_create(owner=None, fields=fields)
    if existing.instructions != fields["instructions"] or existing.tools != fields["tools"]:
        return assistant_services.assistant_modify(existing, fields=fields)
    return existing


def analyst_thread(supervisor) -> Thread:
    """The supervisor's analyst thread, made on first use (one per supervisor, even from two tabs at once:
    the supervisor's user row is locked while it is looked for and made)."""
    thread = analyst_threads_of(supervisor).order_by("created_at", "id").first()
    if thread is not None:
        return thread
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=supervisor.pk).first()
        thread = analyst_threads_of(supervisor).order_by("created_at", "id").first()
        if thread is None:
            thread = runs.thread_create(
                owner=None,
                assistant=analyst_assistant(),
                metadata={"channel": CHANNEL, SUPERVISOR_KEY: str(supervisor.pk)},
            )
    return thread


def export_file_ids(thread: Thread) -> list[str]:
    return list(((thread.tool_resources or {}).get("code_interpreter") or {}).get("file_ids") or [])


def exported_at(thread: Thread) -> datetime | None:
    value = (thread.metadata or {}).get(EXPORTED_AT)
    return parse_datetime(value) if value else None


def export_is_fresh(thread: Thread, now: datetime) -> bool:
    at = exported_at(thread)
    return bool(export_file_ids(thread)) and at is not None and now - at < EXPORT_FRESH_FOR


def export_files() -> list[File]:
    """The support data, read now, as the shop's knowledge files (purpose assistants, expiring)."""
    files = []
    try:
        for filename, data in export_all():
            files.append(
                knowledge_services.file_create(
                    owner=None,
                    upload=ContentFile(data, name=filename),
                    purpose=File.Purpose.ASSISTANTS,
                    expires_after_seconds=int(EXPORT_KEPT_FOR.total_seconds()),
                )
            )
    except Exception:
        delete_files(files)
        raise
    return files


def delete_files(files: list[File]) -> None:
    for file in files:
        knowledge_services.file_delete(file)


def previous_exports(file_ids: list[str]) -> list[File]:
    """The shop's export files among `file_ids` (never anything else a thread might name)."""
    filenames = [table.filename for table in TABLES]
    return list(
        File.objects.filter(
            public_id__in=file_ids, owner__isnull=True, purpose=File.Purpose.ASSISTANTS, filename__in=filenames
        )
    )


def ask(*, supervisor, question: str) -> Run:
    """Ask the supervisor's Analyst `question`: the data exported again unless the last export is
    fresh, then a run with code_interpreter on their analyst thread. Refused while the Analyst is
    still answering the previous question (InvalidState)."""
    check_supervisor(supervisor)
    question = question.strip()
    if not question:
        raise InvalidInput("Ask a question about the support data.", param="question")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"Keep the question under {MAX_QUESTION_CHARS} characters.", param="question")
    offered, why = code_interpreter_offered()
    if not offered:  # its answer could only be that it cannot compute anything
        raise InvalidState(f"The Analyst cannot run code on this server: {why}", code="sandbox_unavailable")
    assistant = analyst_assistant()
    thread = analyst_thread(supervisor)
    if thread.runs.active().exists():
        raise InvalidState("The Analyst is still answering your last question.", code="analyst_busy")
    now = timezone.now()
    new_files = [] if export_is_fresh(thread, now) else export_files()
    try:
        with transaction.atomic():
            # Read again under the thread's lock: another question may have replaced the export since.
            thread = Thread.objects.select_for_update().get(pk=thread.pk)
            old_ids = export_file_ids(thread)
            if new_files:
                runs.thread_modify(
                    thread,
                    fields={
                        "tool_resources": {"code_interpreter": {"file_ids": [f.public_id for f in new_files]}},
                        "metadata": {**thread.metadata, EXPORTED_AT: now.isoformat()},
                    },
                )
            run = runs.run_create(
                thread=thread,
                assistant=assistant,
                additional_messages=[{"role": "user", "content": question}],
                tools=[CODE_INTERPRETER],
            )
            if new_files:
                stale = previous_exports(old_ids)
                transaction.on_commit(lambda: delete_files(stale))
    except ThreadBusy:
        delete_files(new_files)
        raise InvalidState("The Analyst is still answering your last question.", code="analyst_busy") from None
    except Exception:
        delete_files(new_files)
        raise
    return run


def start_over(*, supervisor) -> int:
    """Forget the supervisor's analyst threads: their runs are cancelled, their messages, the exports
    and the charts and files their code made deleted. Returns how many threads went."""
    check_supervisor(supervisor)
    threads = list(analyst_threads_of(supervisor))
    for thread in threads:
        outputs = list(
            File.objects.filter(
                owner__isnull=True, purpose=File.Purpose.ASSISTANTS_OUTPUT, public_id__in=made_file_ids(thread)
            )
        )
        exports = previous_exports(export_file_ids(thread))
        runs.thread_delete(thread)
        delete_files(outputs + exports)
    return len(threads)
