"""Handing a conversation to a person: the thread stops being the assistant's to answer.

The agents app records the escalation (reason, priority, SLA) and writes the AI summary; this is
the single entry point every trigger goes through.
"""

from __future__ import annotations

from django.db import transaction

from support import events
from support.models import Thread

PRIORITIES = ("low", "normal", "high", "urgent")


def request_human(*, thread: Thread, trigger: str, reason: str, priority: str = "normal") -> dict:
    """Mark the thread as waiting for a human and tell everyone listening. Idempotent per thread."""
    if priority not in PRIORITIES:
        priority = "normal"
    with transaction.atomic():
        moved = Thread.objects.filter(pk=thread.pk, mode=Thread.Mode.ASSISTANT).update(mode=Thread.Mode.WAITING_HUMAN)
        thread.refresh_from_db(fields=["mode"])
        if moved:
            events.publish_on_commit(
                thread.public_id,
                "conversation.escalated",
                {"thread_id": thread.public_id, "trigger": trigger, "reason": reason, "priority": priority},
            )
    return {
        "escalated": True,
        "already_waiting": not moved,
        "message": "A person from our support team will join this conversation shortly.",
    }
