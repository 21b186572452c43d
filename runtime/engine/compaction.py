"""Compacting a long thread: older turns become a summary kept on the thread, not silently dropped.

Once a thread's history holds more than THREAD_COMPACT_AFTER_MESSAGES messages past its last
compaction, all but the most recent KEEP_RECENT are summarized (with the previous summary, and the tool calls
among them) and later prompts carry the summary instead. Whoever wins the compare-and-set on the
thread stores it; a failed summary leaves the thread as it was (truncation still applies).
"""

from __future__ import annotations

from django.conf import settings

from runtime.engine.prompt import Turn, conversation_for_model
from runtime.models import Run
from runtime.runs.threads import store_compaction
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
    summary = summarize(
        conversation_for_model(thread, [t for t in turns if t.at and t.at <= boundary]), model=run.model
    )
    if summary is None:
        return False
    return store_compaction(thread, summary=render_summary(summary), until=boundary)
