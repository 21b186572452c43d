"""Background work of the human side: writing the AI summary of an escalated conversation."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from agents.models import Escalation
from runtime import events
from runtime.engine.prompt import history
from runtime.llm.client import default_model
from runtime.summaries import summarize


@shared_task(name="agents.tasks.write_summary", ignore_result=True, acks_late=True)
def write_summary(escalation_id: int) -> bool:
    """Summarize the conversation for the person taking it over. Safe to run twice; the newest wins."""
    from agents.services import _notify

    escalation = Escalation.objects.select_related("thread__assistant").filter(pk=escalation_id).first()
    if escalation is None:
        return False
    started = timezone.now()
    thread = escalation.thread
    chat = [message for turn in history(thread) for message in turn.messages]
    if thread.compacted_summary:
        chat.insert(0, {"role": "user", "content": "(Summary of what came before) " + thread.compacted_summary})
    model = thread.assistant.model if thread.assistant_id else default_model()
    summary = summarize(chat, model=model)
    if summary is None:
        return False
    # Compare-and-set: an older run of this task never overwrites a newer summary.
    updated = Escalation.objects.filter(
        Q(summary_updated_at__isnull=True) | Q(summary_updated_at__lt=started), pk=escalation.pk
    ).update(summary=summary, summary_updated_at=started)
    if updated:
        _notify(escalation, "escalation.summary")
        events.publish(thread.public_id, "escalation.summary", {"thread_id": thread.public_id, "summary": summary})
    return bool(updated)


@shared_task(name="agents.tasks.retry_missing_summaries", ignore_result=True)
def retry_missing_summaries() -> None:
    from agents.services import retry_missing_summaries

    retry_missing_summaries()
