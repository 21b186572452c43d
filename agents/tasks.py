"""Background work of the human side: writing the AI summary of an escalated conversation."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from agents import services
from agents.models import Escalation
from orders.assistant.proofs import shop_facts
from runtime import events
from runtime.engine.prompt import conversation_for_model
from runtime.llm.client import default_model
from runtime.summaries import summarize
from runtime.tools.context import ToolContext


@shared_task(name="agents.tasks.write_summary", ignore_result=True, acks_late=True)
def write_summary(escalation_id: int) -> bool:
    """Summarize the conversation for the person taking it over. Safe to run twice; the newest wins."""
    escalation = Escalation.objects.select_related("thread__assistant").filter(pk=escalation_id).first()
    if escalation is None:
        return False
    started = timezone.now()
    thread = escalation.thread
    model = thread.assistant.model if thread.assistant_id else default_model()
    # Who is signed in and which orders are proven: the person taking over sees them on the card, so
    # the summary must know them too.
    facts = shop_facts(None, ToolContext(thread=thread))
    summary = summarize(conversation_for_model(thread), model=model, facts=facts)
    if summary is None:
        return False
    summary = services.summary_in_words(summary)
    # Compare-and-set: an older run of this task never overwrites a newer summary.
    updated = Escalation.objects.filter(
        Q(summary_updated_at__isnull=True) | Q(summary_updated_at__lt=started), pk=escalation.pk
    ).update(summary=summary, summary_updated_at=started)
    if updated:
        services.notify_consoles(escalation, "escalation.summary")
        events.publish(thread.public_id, "escalation.summary", {"thread_id": thread.public_id, "summary": summary})
    return bool(updated)


@shared_task(name="agents.tasks.retry_missing_summaries", ignore_result=True)
def retry_missing_summaries() -> None:
    services.retry_missing_summaries()
