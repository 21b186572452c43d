"""Retention: conversations idle for longer than RETENTION_DAYS are deleted, with their files.

A conversation (a runtime Thread) goes when its last activity (created, changed, a message, a run,
an escalation or an agent's note) is older than the cutoff and nobody is on it: never one waiting
for a person or owned by one, with an open escalation, or with an active run. What cascades from
the thread goes with it (messages, runs, steps, tool calls, approvals, escalations, notes, the
orders it had proven, not the orders). Its files go too: those its messages show (image_file parts,
file_path annotations) or carry as attachments, and the thread's own vector store (the one made for
its attachments); never a file used anywhere else (another conversation, an assistant's or any
other store, the help centre). Orders and returns are never deleted: nothing of theirs points to a
thread.

Each conversation is deleted in a transaction of its own, holding its row lock and checking again
under it: a customer's message takes that lock too, so a conversation that just came back to life
is kept, and two purges at once never delete anything twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from agents.models import Escalation, InternalNote
from knowledge import services as knowledge
from knowledge.models import File, UnansweredQuestion, VectorStore, VectorStoreFile
from runtime.models import Assistant, Message, Run, RunStep, Thread

BATCH = 200
# What a purge reports, in this order: the models' labels → the words the command prints.
COUNTED = {
    Thread._meta.label: "conversations",
    Message._meta.label: "messages",
    Run._meta.label: "runs",
    RunStep._meta.label: "run steps",
    Escalation._meta.label: "escalations",
    InternalNote._meta.label: "notes",
    File._meta.label: "files",
}


MAX_DAYS = 36_500  # a century: further back than any conversation, and than datetime's arithmetic allows


def cutoff_for(days: int) -> datetime:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"A retention period is at least 1 day and at most {MAX_DAYS}.")
    return timezone.now() - timedelta(days=days)


def expired_threads(cutoff: datetime) -> QuerySet[Thread]:
    """The conversations a purge at `cutoff` deletes: idle since before it, and nobody on them."""
    return (
        Thread.objects.filter(created_at__lt=cutoff, updated_at__lt=cutoff)
        .exclude(mode__in=[Thread.Mode.WAITING_HUMAN, Thread.Mode.HUMAN])
        .exclude(runs__status__in=Run.ACTIVE)
        .exclude(escalations__status__in=Escalation.OPEN)
        .exclude(messages__created_at__gte=cutoff)
        .exclude(runs__created_at__gte=cutoff)
        .exclude(runs__completed_at__gte=cutoff)
        .exclude(escalations__created_at__gte=cutoff)
        .exclude(escalations__resolved_at__gte=cutoff)
        .exclude(escalations__handed_back_at__gte=cutoff)
        .exclude(internal_notes__created_at__gte=cutoff)
        .order_by("pk")
    )


def purge_conversations(*, days: int, dry_run: bool = False) -> Counter:
    """Delete the conversations idle for more than `days` days and their files; return the counts
    by kind (COUNTED's words). With `dry_run`, count what would go and delete nothing."""
    cutoff = cutoff_for(days)
    if dry_run:
        return _would_delete(list(expired_threads(cutoff).values_list("pk", flat=True)))
    counts: Counter = Counter()
    last_pk = 0
    while batch := list(expired_threads(cutoff).filter(pk__gt=last_pk).values_list("pk", flat=True)[:BATCH]):
        for pk in batch:
            counts.update(_delete_thread(pk, cutoff))
        last_pk = batch[-1]
    return counts


def _delete_thread(pk: int, cutoff: datetime) -> Counter:
    with transaction.atomic():
        thread = Thread.objects.select_for_update(of=("self",)).filter(pk=pk).first()
        if thread is None or not expired_threads(cutoff).filter(pk=pk).exists():
            return Counter()  # deleted by another purge, or alive again: a message came meanwhile
        file_ids = referenced_files([pk])
        stores = own_stores([thread])
        UnansweredQuestion.objects.filter(thread_public_id=thread.public_id).delete()
        _, deleted = thread.delete()
        for store in stores:
            knowledge.vector_store_delete(store)
        files = deletable_files(file_ids, leaving_threads=[pk])
        for file in files:
            knowledge.file_delete(file)  # the stored blob goes once the transaction commits
    counts = Counter({COUNTED[label]: n for label, n in deleted.items() if label in COUNTED})
    counts["files"] += len(files)
    return counts


def _would_delete(thread_ids: list[int]) -> Counter:
    files = deletable_files(referenced_files(thread_ids), leaving_threads=thread_ids)
    return Counter(
        {
            "conversations": len(thread_ids),
            "messages": Message.objects.filter(thread_id__in=thread_ids).count(),
            "runs": Run.objects.filter(thread_id__in=thread_ids).count(),
            "run steps": RunStep.objects.filter(run__thread_id__in=thread_ids).count(),
            "escalations": Escalation.objects.filter(thread_id__in=thread_ids).count(),
            "notes": InternalNote.objects.filter(thread_id__in=thread_ids).count(),
            "files": len(files),
        }
    )


# --- Files ------------------------------------------------------------------------------------------


def message_file_ids(content, attachments) -> set[str]:
    """The files a message shows or carries: image_file parts, file_path annotations, attachments.
    (file_citation annotations cite the knowledge base's documents, which are not the thread's.)"""
    found = set()
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        image = part.get("image_file")
        if part.get("type") == "image_file" and isinstance(image, dict):
            found.add(image.get("file_id"))
        text = part.get("text")
        for annotation in text.get("annotations") or [] if isinstance(text, dict) else []:
            if isinstance(annotation, dict) and annotation.get("type") == "file_path":
                found.add((annotation.get("file_path") or {}).get("file_id"))
    for attachment in attachments if isinstance(attachments, list) else []:
        if isinstance(attachment, dict):
            found.add(attachment.get("file_id"))
    return {file_id for file_id in found if isinstance(file_id, str) and file_id}


def referenced_files(thread_ids: Iterable[int]) -> set[str]:
    found: set[str] = set()
    for content, attachments in Message.objects.filter(thread_id__in=thread_ids).values_list("content", "attachments"):
        found |= message_file_ids(content, attachments)
    return found


def own_stores(threads: Iterable[Thread]) -> list[VectorStore]:
    """The vector stores made for the threads' attachments (knowledge.receivers names them in the
    thread's tool_resources, with its id in their metadata); a store the caller made stays theirs."""
    stores = []
    for thread in threads:
        named = ((thread.tool_resources or {}).get("file_search") or {}).get("vector_store_ids") or []
        stores += VectorStore.objects.filter(public_id__in=named, metadata__thread_id=thread.public_id)
    return stores


def deletable_files(public_ids: set[str], *, leaving_threads: list[int]) -> list[File]:
    """The files among `public_ids` that nothing but the leaving threads (and their own stores) uses."""
    leaving = Thread.objects.filter(pk__in=leaving_threads)
    leaving_stores = [store.pk for store in own_stores(leaving)]
    return [
        file
        for file in File.objects.filter(public_id__in=public_ids, help_slug=None)
        if not _used_elsewhere(file, leaving_threads=leaving_threads, leaving_stores=leaving_stores)
    ]


def _used_elsewhere(file: File, *, leaving_threads: list[int], leaving_stores: list[int]) -> bool:
    # A text search over the JSON: it may see a use that is none (the id quoted in a message's text),
    # which only keeps a file; it never misses one.
    mentioned = Q(tool_resources__icontains=file.public_id)
    return (
        VectorStoreFile.objects.filter(file=file).exclude(vector_store_id__in=leaving_stores).exists()
        or Message.objects.exclude(thread_id__in=leaving_threads)
        .filter(Q(content__icontains=file.public_id) | Q(attachments__icontains=file.public_id))
        .exists()
        or Thread.objects.exclude(pk__in=leaving_threads).filter(mentioned).exists()
        or Run.objects.exclude(thread_id__in=leaving_threads).filter(mentioned).exists()
        or Assistant.objects.filter(mentioned).exists()
    )
