"""Every change on the human side of a conversation, one function each.

Escalating (from any trigger), claiming, assigning, replying, noting, tagging, deciding approvals,
handing back and resolving. Each takes the acting user explicitly, checks their rights, writes in one
transaction under the thread's row lock, and tells the widget (the thread's group) and every
console (the staff group) after commit.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents import signals
from agents.models import ConversationTag, Escalation, InternalNote
from agents.permissions import check_agent, check_supervisor, is_supervisor
from common.errors import DomainError, InvalidInput, InvalidState, PermissionDenied
from common.signals import send_on_commit
from runtime import events, runs
from runtime.dispatch import enqueue
from runtime.engine.model import ModelCallFailed, call_model
from runtime.engine.prompt import conversation_for_model
from runtime.llm.client import default_model
from runtime.models import Message, Thread, ToolApproval
from runtime.runs import threads

API_CALLER = "the API caller"  # who gave a /v1 thread back, as the conversation's events name them

PRIORITIES = Escalation.Priority.values
# What staff may type, at most (characters): the widget's limit for a reply, room for a note.
MAX_REPLY_CHARS = 4000
MAX_NOTE_CHARS = 4000
MAX_REASON_CHARS = 2000
MAX_DECISION_NOTE_CHARS = 2000
MAX_TAGS_PER_CONVERSATION = 20
TAG_CHARS = re.compile(r"^\w[\w .&+-]*$")
# Raw codes a summary may carry from a tool's result, and the words the console shows instead.
SUMMARY_WORDS = {"awaiting_approval": "waiting for a person's approval"}


def check_length(text: str, *, limit: int, what: str, param: str) -> str:
    """`text`, or InvalidInput naming the field when it is longer than `limit`."""
    if len(text) > limit:
        raise InvalidInput(f"Keep {what} to {limit} characters (this one has {len(text)}).", param=param)
    return text


def display_name(user) -> str:
    """How the console and the customer read a member of staff: their full name, else their login."""
    return user.get_full_name() or user.get_username()


def summary_in_words(summary: dict | None) -> dict | None:
    """The AI summary with raw result codes (`awaiting_approval`) put in words, as agents read it."""
    if not summary:
        return summary

    def words(value):
        if isinstance(value, str):
            for code, text in SUMMARY_WORDS.items():
                value = value.replace(code, text)
            return value
        if isinstance(value, list):
            return [words(item) for item in value]
        return value

    return {key: words(value) for key, value in summary.items()}


def escalation_view(escalation: Escalation) -> dict:
    """What a console needs to show an escalation in the queue."""
    thread = escalation.thread
    summary = escalation.summary or {}
    return {
        "id": escalation.pk,
        "thread_id": thread.public_id,
        "trigger": escalation.trigger,
        "trigger_label": escalation.get_trigger_display(),
        "reason": escalation.reason,
        "priority": escalation.priority,
        "status": escalation.status,
        "assigned_to": escalation.assigned_to.get_username() if escalation.assigned_to_id else None,
        "assigned_to_name": display_name(escalation.assigned_to) if escalation.assigned_to_id else None,
        "customer": thread.customer.name if thread.customer_id else None,
        "customer_email": thread.customer.email if thread.customer_id else None,
        "headline": summary.get("headline") or escalation.reason,
        "created_at": int(escalation.created_at.timestamp()),
        "sla_due_at": int(escalation.sla_due_at.timestamp()),
    }


WRITE_SUMMARY = "agents.tasks.write_summary"


def notify_consoles(escalation: Escalation, event: str) -> None:
    """Tell every console (after commit) how the escalation stands now."""
    escalation = Escalation.objects.select_related("thread__customer", "assigned_to").get(pk=escalation.pk)
    events.notify_staff_on_commit(event, escalation_view(escalation))


def open_escalation(thread: Thread) -> Escalation | None:
    return thread.escalations.filter(status__in=Escalation.OPEN).first()


def escalate(*, thread: Thread, trigger: str, reason: str, priority: str = "normal") -> Escalation:
    """Hand the conversation to a person: the single entry point of every trigger. Idempotent per thread.

    The thread stops being the assistant's to start runs on; the AI summary is written in the
    background and never holds this up.
    """
    if priority not in PRIORITIES:
        priority = Escalation.Priority.NORMAL
    with transaction.atomic():
        locked = threads.lock(thread)
        existing = open_escalation(locked)
        if existing is not None:
            if Escalation.PRIORITY_RANK[priority] < existing.priority_rank:
                existing.priority = priority
                existing.save(update_fields=["priority", "priority_rank"])
                notify_consoles(existing, "escalation.updated")
            return existing
        threads.wait_for_person(locked)
        escalation = Escalation.objects.create(
            thread=locked,
            trigger=trigger,
            reason=reason[:2000],
            priority=priority,
            sla_due_at=Escalation.sla_for(priority),
        )
        events.publish_on_commit(
            locked.public_id,
            "conversation.escalated",
            {"thread_id": locked.public_id, "trigger": trigger, "reason": reason, "priority": priority},
        )
        notify_consoles(escalation, "escalation.created")
        send_on_commit(signals.conversation_escalated, sender=Escalation, escalation=escalation)
        enqueue(WRITE_SUMMARY, escalation.pk)
    thread.mode = locked.mode
    return escalation


def supervisor_escalate(*, thread: Thread, supervisor, reason: str, priority: str = "normal") -> Escalation:
    """A supervisor picks a conversation the assistant is handling and queues it for a person."""
    check_supervisor(supervisor)
    check_length(reason, limit=MAX_REASON_CHARS, what="the reason", param="reason")
    return escalate(thread=thread, trigger=Escalation.Trigger.SUPERVISOR, reason=reason, priority=priority)


def _lock_open(escalation: Escalation) -> Escalation:
    locked = Escalation.objects.select_for_update().select_related("thread").get(pk=escalation.pk)
    if not locked.is_open:
        raise InvalidState(f"This conversation was already {locked.get_status_display().lower()}.")
    return locked


def assign(*, escalation: Escalation, agent, by) -> Escalation:
    """Give the conversation to `agent` (by themselves: claiming; by a supervisor: assigning).

    A person now owns the thread: any run still going is cancelled, and the engine checks again
    before it posts, so the assistant never talks over the agent.
    """
    check_agent(by)
    check_agent(agent)
    if agent != by:
        check_supervisor(by)
    with transaction.atomic():
        locked = _lock_open(escalation)
        if locked.assigned_to_id and locked.assigned_to_id != agent.pk and not is_supervisor(by):
            raise PermissionDenied("Another agent already has this conversation.")
        joined = locked.assigned_to_id != agent.pk
        locked.status, locked.assigned_to = Escalation.Status.ASSIGNED, agent
        locked.assigned_at = locked.assigned_at or timezone.now()
        locked.save(update_fields=["status", "assigned_to", "assigned_at"])
        threads.give_to_person(locked.thread_id)
        if joined:
            events.publish_on_commit(
                locked.thread.public_id,
                "agent.joined",
                {"thread_id": locked.thread.public_id, "name": display_name(agent)},
            )
        notify_consoles(locked, "escalation.updated")
    return locked


def claim(*, escalation: Escalation, agent) -> Escalation:
    return assign(escalation=escalation, agent=agent, by=agent)


def _check_owner(escalation: Escalation, user) -> None:
    check_agent(user)
    if escalation.assigned_to_id != user.pk and not is_supervisor(user):
        raise PermissionDenied("Claim this conversation before acting on it.")


def agent_reply(*, escalation: Escalation, agent, text: str) -> Message:
    """The agent's reply, delivered live into the customer's widget."""
    text = check_length((text or "").strip(), limit=MAX_REPLY_CHARS, what="a reply", param="text")
    if not text:
        raise InvalidState("Write a reply first.", code="empty_reply")
    with transaction.atomic():
        locked = _lock_open(escalation)
        _check_owner(locked, agent)
        message = runs.message_create(
            thread=locked.thread,
            role=Message.Role.ASSISTANT,
            content=text,
            author=Message.Author.AGENT,
            author_name=display_name(agent),
            metadata={"author": "agent", "author_name": display_name(agent)},
            check_active_run=False,
        )
        first_reply = locked.first_human_reply_at is None
        if first_reply:
            locked.first_human_reply_at = message.created_at
            locked.save(update_fields=["first_human_reply_at"])
        # A person answering changes the situation the summary describes: rewrite it at once.
        refresh_summary_soon(locked, now=first_reply)
    return message


def add_note(*, thread: Thread, author, text: str) -> InternalNote:
    check_agent(author)
    text = check_length((text or "").strip(), limit=MAX_NOTE_CHARS, what="a note", param="text")
    if not text:
        raise InvalidState("Write the note first.", code="empty_note")
    note = InternalNote.objects.create(thread=thread, author=author, text=text)
    events.notify_staff_on_commit(
        "note.added",
        {"thread_id": thread.public_id, "author": display_name(author), "text": text, "id": note.pk},
    )
    return note


def tag_name(text: str) -> str:
    """A tag as stored: trimmed, lowercased, inner spaces collapsed; InvalidInput if it is not a plain label."""
    name = " ".join((text or "").split()).lower()
    if not name:
        raise InvalidInput("Write the tag first.", param="tag")
    limit = ConversationTag._meta.get_field("name").max_length
    check_length(name, limit=limit, what="a tag", param="tag")
    if not TAG_CHARS.match(name):
        raise InvalidInput("A tag is letters, digits, spaces and . & + - only.", param="tag")
    return name


def tag_add(*, thread: Thread, agent, text: str) -> ConversationTag:
    """Put a tag on the conversation (again is harmless: the existing one is returned)."""
    check_agent(agent)
    name = tag_name(text)
    with transaction.atomic():
        threads.lock(thread)
        existing = ConversationTag.objects.filter(thread=thread, name=name).first()
        if existing is not None:
            return existing
        if ConversationTag.objects.filter(thread=thread).count() >= MAX_TAGS_PER_CONVERSATION:
            raise InvalidState(f"A conversation has at most {MAX_TAGS_PER_CONVERSATION} tags.", code="too_many_tags")
        return ConversationTag.objects.create(thread=thread, name=name, added_by=agent)


def tag_remove(*, thread: Thread, agent, text: str) -> bool:
    """Take a tag off the conversation; False if it did not have it."""
    check_agent(agent)
    deleted, _ = ConversationTag.objects.filter(thread=thread, name=tag_name(text)).delete()
    return bool(deleted)


def hand_back(*, escalation: Escalation, agent) -> Escalation:
    """Give the conversation back to the assistant, which answers the next message with the agent's turns in view."""
    with transaction.atomic():
        locked = _lock_open(escalation)
        _check_owner(locked, agent)
        locked.status, locked.handed_back_at = Escalation.Status.HANDED_BACK, timezone.now()
        locked.save(update_fields=["status", "handed_back_at"])
        threads.give_back_to_assistant(locked.thread_id)
        events.publish_on_commit(
            locked.thread.public_id,
            "conversation.mode",
            {"thread_id": locked.thread.public_id, "mode": "assistant", "name": display_name(agent)},
        )
        notify_consoles(locked, "escalation.updated")
    return locked


def owner_took_back(*, thread: Thread) -> Escalation | None:
    """The thread's owner, a /v1 caller without a console, gave it back to the assistant
    (runtime.runs.thread_resume, in whose transaction this runs, the thread locked): its open
    escalation ends as handed back, and the consoles see it leave the queue."""
    escalation = Escalation.objects.select_for_update().filter(thread=thread, status__in=Escalation.OPEN).first()
    if escalation is None:
        return None
    escalation.status, escalation.handed_back_at = Escalation.Status.HANDED_BACK, timezone.now()
    escalation.save(update_fields=["status", "handed_back_at"])
    events.publish_on_commit(
        thread.public_id, "conversation.mode", {"thread_id": thread.public_id, "mode": "assistant", "name": API_CALLER}
    )
    notify_consoles(escalation, "escalation.updated")
    return escalation


def resolve(*, escalation: Escalation, agent) -> Escalation:
    with transaction.atomic():
        locked = _lock_open(escalation)
        _check_owner(locked, agent)
        locked.status, locked.resolved_at = Escalation.Status.RESOLVED, timezone.now()
        locked.save(update_fields=["status", "resolved_at"])
        threads.close(locked.thread_id)
        events.publish_on_commit(
            locked.thread.public_id, "conversation.mode", {"thread_id": locked.thread.public_id, "mode": "closed"}
        )
        notify_consoles(locked, "escalation.updated")
        send_on_commit(signals.conversation_resolved, sender=Escalation, escalation=locked)
    return locked


def decide_approval(*, approval: ToolApproval, agent, approve: bool, note: str = "") -> ToolApproval:
    """Approve (the tool then acts, through orders.services) or decline a request for approval; the
    customer is told in their conversation (runtime.runs.approvals). `note` is the reason they read
    when it is declined."""
    check_agent(agent)
    check_length(note, limit=MAX_DECISION_NOTE_CHARS, what="the note", param="note")
    try:
        return runs.decide(approval, by=agent, approve=approve, note=note)
    except runs.ApprovalClosed:
        # This console showed it as waiting: every console, this one included, reads the list again.
        events.notify_staff("approval.closed", {"thread_id": approval.thread.public_id, "id": approval.pk})
        raise


def retry_missing_summaries() -> int:
    """Try again to write the summaries that failed (the model unreachable, say): an open
    escalation without one, older than SUMMARY_REFRESH_SECONDS. Returns how many were retried."""
    cutoff = timezone.now() - timedelta(seconds=settings.SUMMARY_REFRESH_SECONDS)
    missing = list(
        Escalation.objects.filter(
            status__in=Escalation.OPEN, summary_updated_at__isnull=True, created_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for escalation_id in missing:
        enqueue(WRITE_SUMMARY, escalation_id)
    return len(missing)


def refresh_summary_soon(escalation: Escalation, *, now: bool = False) -> None:
    """Rewrite the summary as the conversation goes on, at most every SUMMARY_REFRESH_SECONDS, or
    `now` when the situation changed (a person answered)."""
    stale = (
        now
        or escalation.summary_updated_at is None
        or (timezone.now() - escalation.summary_updated_at).total_seconds() >= settings.SUMMARY_REFRESH_SECONDS
    )
    if escalation.is_open and stale:
        enqueue(WRITE_SUMMARY, escalation.pk)


SUGGEST_INSTRUCTIONS = (
    "You draft the next message a human support agent will send to the customer in this conversation. "
    "The agent will read and edit it before sending. Write only the message: friendly, brief, concrete, "
    "in the customer's language. Do not promise what the conversation does not show is possible."
)


class SuggestionUnavailable(DomainError):
    code = "suggestion_unavailable"
    http_status = 503


def suggest_reply(*, thread: Thread, agent) -> str:
    """An AI draft of the agent's next reply, from the whole conversation.

    One attempt, no retries with backoff: the agent waits on it, and asking again is one click."""
    check_agent(agent)
    chat = conversation_for_model(thread)
    model = thread.assistant.model if thread.assistant_id else default_model()
    request = {"model": model, "messages": [{"role": "system", "content": SUGGEST_INSTRUCTIONS}, *chat]}
    try:
        return call_model(request, max_attempts=1).text.strip()
    except ModelCallFailed as error:
        raise SuggestionUnavailable("No suggestion right now; try again.", code=error.code) from None
