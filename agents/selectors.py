"""Reads for the agent console: the queue, a conversation's timeline and context (the metrics: agents.metrics).

Nothing here writes. Views and the console socket render what these return; every change goes
through agents.services (or orders.services).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.contrib.auth import get_user_model
from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from agents.models import CannedReply, Escalation, InternalNote
from agents.permissions import AGENTS_GROUP, SUPERVISORS_GROUP
from agents.services import escalation_view
from knowledge.models import UnansweredQuestion, VectorStore, VectorStoreFile
from knowledge.search import rewrite, search
from orders.models import Order, OrderItem, Return, Shipment
from runtime.models import Message, Thread, ToolApproval, ToolCall
from runtime.serializers import conversation_message

# --- The queue ---------------------------------------------------------------------------------


def open_escalations() -> QuerySet[Escalation]:
    """Conversations waiting for or held by a person: most urgent first, then longest waiting."""
    return (
        Escalation.objects.filter(status__in=Escalation.OPEN)
        .select_related("thread__customer", "assigned_to")
        .order_by("priority_rank", "created_at", "id")
    )


def queue() -> list[dict]:
    return [escalation_view(escalation) for escalation in open_escalations()]


def approval_view(approval: ToolApproval) -> dict:
    return {
        "id": approval.pk,
        "thread_id": approval.thread.public_id,
        "kind": approval.kind,
        "summary": approval.summary,
        "amount": str(approval.amount) if approval.amount is not None else None,
        "currency": approval.currency,
        "details": approval.details,
        "status": approval.status,
        "customer": approval.thread.customer.name if approval.thread.customer_id else None,
        "created_at": int(approval.created_at.timestamp()),
        "expires_at": int(approval.expires_at.timestamp()),
    }


def pending_approvals(thread: Thread | None = None) -> list[dict]:
    """Requests waiting for a decision, oldest first: work for any agent, as the queue shows them.

    One past its deadline is left out before the sweep closes it (a decision would be refused)."""
    approvals = ToolApproval.objects.filter(
        status=ToolApproval.Status.PENDING, expires_at__gt=timezone.now()
    ).select_related("thread__customer")
    if thread is not None:
        approvals = approvals.filter(thread=thread)
    return [approval_view(approval) for approval in approvals.order_by("created_at", "id")]


# --- One conversation --------------------------------------------------------------------------


def pretty_json(text: str | None) -> str:
    """Tool arguments and outputs as indented JSON, or as they are when they are not JSON."""
    if text is None:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (json.JSONDecodeError, TypeError):
        return text


def tool_call_view(call: ToolCall) -> dict:
    return {
        "call_id": call.call_id,
        "name": call.name,
        "arguments": pretty_json(call.arguments),
        "output": pretty_json(call.output),
        "status": call.status,
        "error_code": call.error_code,
        "duration_ms": call.duration_ms,
        "side": call.side,
        # Whether it asked a person's approval, and how that stands.
        "approval": call.approval.get_status_display().lower() if hasattr(call, "approval") else None,
    }


def timeline(thread: Thread) -> list[dict]:
    """The conversation in order: messages and the assistant's tool calls with their results.

    Each entry is {"kind": "message", "at", "message"} or {"kind": "tool", "at", "call"}. Messages
    still being streamed are left out (the live socket shows them).
    """
    entries = [
        {"kind": "message", "at": m.created_at, "key": (m.created_at, 0, m.pk), "message": conversation_message(m)}
        for m in thread.messages.exclude(status=Message.Status.IN_PROGRESS).order_by("created_at", "id")
    ]
    calls = (
        ToolCall.objects.filter(step__run__thread=thread)
        .select_related("step", "approval")
        .order_by("step__created_at", "index")
    )
    entries += [
        {
            "kind": "tool",
            "at": call.started_at or call.step.created_at,
            "key": (call.step.created_at, 1, call.step_id * 1000 + call.index),
            "call": tool_call_view(call),
        }
        for call in calls
    ]
    entries.sort(key=lambda entry: entry["key"])
    for entry in entries:
        del entry["key"]
    return entries


def conversation_orders(thread: Thread) -> list[Order]:
    """The orders the console shows beside a conversation: the signed-in customer's and those verified in it."""
    match = Q(pk__in=thread.verified_orders.values("order"))
    if thread.customer_id:
        match |= Q(customer_id=thread.customer_id)
    return list(
        Order.objects.filter(match)
        .select_related("customer")
        .prefetch_related(
            Prefetch("items", queryset=OrderItem.objects.select_related("product")),
            Prefetch("returns", queryset=Return.objects.select_related("item")),
            Prefetch("shipments", queryset=Shipment.objects.order_by("-shipped_at", "-id")),
        )
        .order_by("-placed_at", "-id")[:20]
    )


def customer_language(thread: Thread) -> dict | None:
    """{code, name} of the language the customer writes in, as the widget noted it on the conversation
    (no note: English); None for a conversation from elsewhere that names none."""
    metadata = thread.metadata or {}
    code = metadata.get("language") or ("en" if metadata.get("channel") == "widget" else None)
    info = LANG_INFO.get(code) if isinstance(code, str) else None
    return {"code": code, "name": info["name"]} if info and "name" in info else None


def thread_notes(thread: Thread) -> QuerySet[InternalNote]:
    return thread.internal_notes.select_related("author").order_by("created_at", "id")


def canned_replies(*, thread: Thread, agent) -> list[dict]:
    """Canned replies with their placeholders filled in: {customer_name}, {agent_name}."""
    customer_name = thread.customer.name.split()[0] if thread.customer_id and thread.customer.name else "there"
    agent_name = agent.get_full_name() or agent.get_username()
    out = []
    for reply in CannedReply.objects.order_by("title"):
        text = reply.text.replace("{customer_name}", customer_name).replace("{agent_name}", agent_name)
        out.append({"id": reply.pk, "title": reply.title, "text": text})
    return out


def assignable_agents() -> QuerySet:
    """Staff a supervisor may give a conversation to (agents and supervisors)."""
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[AGENTS_GROUP, SUPERVISORS_GROUP]))
        .distinct()
        .order_by("username")
    )


# --- The knowledge base ----------------------------------------------------------------------------

UNANSWERED_DAYS = 90  # older questions have probably been answered by an article since
TRY_RESULTS = 8  # as many passages as file_search gives the assistant by default


def knowledge_files(store: VectorStore) -> QuerySet[VectorStoreFile]:
    """The store's files, newest first, each with its `chunk_count`."""
    return (
        VectorStoreFile.objects.filter(vector_store=store)
        .select_related("file")
        .annotate(chunk_count=Count("chunks"))
        .order_by("-created_at", "-id")
    )


def knowledge_file_view(store_file: VectorStoreFile) -> dict:
    """A file's ingestion as the Knowledge page's script updates it (a row of knowledge_files())."""
    error = store_file.last_error or {}
    return {
        "file_id": store_file.file.public_id,
        "status": store_file.status,
        "status_label": store_file.get_status_display(),
        "chunks": store_file.chunk_count,
        "error": error.get("message", ""),
        "error_code": error.get("code", ""),
    }


@dataclass(frozen=True)
class Passage:
    """A passage found for a question tried on the Knowledge page."""

    file_id: str
    filename: str
    title: str
    heading: str
    page: int | None
    score: float
    text: str
    counts: bool  # scored above the threshold: the assistant would be given it


def try_question(store: VectorStore, question: str) -> list[Passage]:
    """What file_search would find for `question` in `store` (the same rewrite of the question),
    below the threshold too, marked as not counting. Raises EmbeddingFailed when the provider fails."""
    threshold = settings.KNOWLEDGE_SCORE_THRESHOLD
    return [
        Passage(
            file_id=hit.chunk.store_file.file.public_id,
            filename=hit.chunk.store_file.file.filename,
            title=hit.chunk.store_file.file.title,
            heading=hit.chunk.heading,
            page=hit.chunk.page,
            score=hit.score,
            text=hit.chunk.text,
            counts=hit.score >= threshold,
        )
        for hit in search([store], [rewrite(question)], max_num_results=TRY_RESULTS)
    ]


def unanswered_questions(*, days: int = UNANSWERED_DAYS, limit: int = 50) -> list[dict]:
    """Questions the knowledge base could not answer in the last `days`, grouped by their
    normalized words, most asked first: how often, when last, for which reasons, and the latest
    one asked as the example (its words, its conversation)."""
    recent = UnansweredQuestion.objects.filter(created_at__gte=timezone.now() - timedelta(days=days))
    latest = recent.filter(normalized=OuterRef("normalized")).order_by("-created_at", "-id")
    reasons = UnansweredQuestion.Reason
    return list(
        recent.values("normalized")
        .annotate(
            asked=Count("id"),
            last_asked=Max("created_at"),
            nothing_found=Count("id", filter=Q(reason=reasons.NOTHING_FOUND)),
            handed_over=Count("id", filter=Q(reason=reasons.HANDED_OVER)),
            example=Subquery(latest.values("question")[:1]),
            example_thread=Subquery(latest.values("thread_public_id")[:1]),
        )
        .order_by("-asked", "-last_asked", "normalized")[:limit]
    )
