"""Compacting a long thread: older turns become a summary kept on the thread, not silently dropped.

Once a thread's history holds more than THREAD_COMPACT_AFTER_MESSAGES messages past its last
compaction, all but the most recent KEEP_RECENT are summarized (with the previous summary, and the tool calls
among them) and later prompts carry the summary instead. Whoever wins the compare-and-set on the
thread stores it; a failed summary leaves the thread as it was (truncation still applies).
"""

from __future__ import annotations

from django.conf import settings

from runtime.engine.prompt import Turn
from runtime.models import Run, Thread
from runtime.summaries import render_summary, summarize

KEEP_RECENT = 10


def compact_if_long(run: Run, turns: list[Turn]) -> bool:
    """Compact the thread if `turns` (its history past the last compaction) hold too many messages.
    True when a summary was stored: the caller reads the history again."""
    thread = run.thread
    stamps = [turn.at for turn in turns if turn.is_message]
    if len(stamps) <= settings.THREAD_COMPACT_AFTER_MESSAGES:
        return False
    boundary = stamps[-KEEP_RECENT - 1]
    chat = []
    if thread.compacted_summary:
        chat.append({"role": "user", "content": "(Summary of what came before) " + thread.compacted_summary})
    chat += [m for turn in turns if turn.at and turn.at <= boundary for m in turn.messages]
    summary = summarize(chat, model=run.model)
    if summary is None:
        return False
    updated = Thread.objects.filter(pk=thread.pk, compacted_until=thread.compacted_until).update(
        compacted_summary=render_summary(summary), compacted_until=boundary
    )
    thread.refresh_from_db(fields=["compacted_summary", "compacted_until"])
    return bool(updated)
