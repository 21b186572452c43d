"""Compacting a long thread: older turns become a summary kept on the thread, not silently dropped.

Once a thread holds more than THREAD_COMPACT_AFTER_MESSAGES messages past its last compaction,
all but the most recent KEEP_RECENT are summarized (with the previous summary, and the tool calls
among them) and later prompts carry the summary instead. Whoever wins the compare-and-set on the
thread stores it; a failed summary leaves the thread as it was (truncation still applies).
"""

from __future__ import annotations

from django.conf import settings

from support.engine.prompt import history
from support.models import Message, Run, Thread
from support.summaries import render_summary, summarize

KEEP_RECENT = 10


def compact_if_long(run: Run) -> bool:
    thread = run.thread
    messages = thread.messages.exclude(status=Message.Status.IN_PROGRESS)
    if thread.compacted_until:
        messages = messages.filter(created_at__gt=thread.compacted_until)
    stamps = list(messages.order_by("created_at", "id").values_list("created_at", flat=True))
    if len(stamps) <= settings.THREAD_COMPACT_AFTER_MESSAGES:
        return False
    boundary = stamps[-KEEP_RECENT - 1]
    chat = []
    if thread.compacted_summary:
        chat.append({"role": "user", "content": "(Summary of what came before) " + thread.compacted_summary})
    chat += [m for turn in history(thread) if turn.at and turn.at <= boundary for m in turn.messages]
    summary = summarize(chat, model=run.model)
    if summary is None:
        return False
    updated = Thread.objects.filter(pk=thread.pk, compacted_until=thread.compacted_until).update(
        compacted_summary=render_summary(summary), compacted_until=boundary
    )
    thread.refresh_from_db(fields=["compacted_summary", "compacted_until"])
    return bool(updated)
