"""The console's pages: the queue, one conversation, the inbox of conversations, metrics, knowledge,
the assistant's settings.

Server-rendered with what agents.selectors returns; console.js keeps them live over /ws/console/.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from agents import inbox, selectors
from agents.assistant_settings import assistant_changes, editable_assistant, tool_choices, version_of
from agents.forms import InboxFilterForm, MetricsPeriodForm
from agents.metrics import Period
from agents.metrics import metrics as compute_metrics
from agents.models import Escalation
from agents.permissions import is_supervisor
from agents.services import escalation_view, summary_in_words
from agents.views.access import access_thread, agent_required, supervisor_required
from knowledge.help_centre import help_centre_store
from runtime.llm.client import EmbeddingFailed
from runtime.models import ConversationRating

MAX_QUESTION_CHARS = 1000


def me_of(request: HttpRequest) -> dict:
    user = request.user
    return {
        "username": user.get_username(),
        "name": user.get_full_name() or user.get_username(),
        "supervisor": is_supervisor(user),
    }


@require_GET
@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    state = {"me": me_of(request), "queue": selectors.queue(), "approvals": selectors.pending_approvals()}
    return render(request, "console/queue.html", {"state": state, "page": "queue"})


@require_GET
@agent_required
def conversation(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    escalation = (
        thread.escalations.select_related("assigned_to", "thread__customer").order_by("-created_at", "-id").first()
    )
    is_open = escalation is not None and escalation.is_open
    me = me_of(request)
    owns = is_open and (escalation.assigned_to_id == request.user.pk or me["supervisor"])
    summary = next((e.summary for e in thread.escalations.exclude(summary=None).order_by("-created_at", "-id")), None)
    summary = summary_in_words(summary)
    timeline = selectors.timeline(thread)
    state = {
        "me": me,
        "thread_id": thread.public_id,
        "mode": thread.mode,
        "escalation": escalation_view(escalation) if escalation else None,
        "approvals": selectors.pending_approvals(thread),
        # The transcript is rendered as text; console.js draws each answer's sources from these.
        "citations": {
            entry["message"]["id"]: entry["message"]["citations"]
            for entry in timeline
            if entry["kind"] == "message" and entry["message"]["citations"]
        },
    }
    context = {
        "page": "conversation",
        "state": state,
        "thread": thread,
        "escalation": escalation,
        "is_open": is_open,
        "owns": owns,
        "summary": summary,
        "timeline": timeline,
        "orders": selectors.conversation_orders(thread),
        "language": selectors.customer_language(thread),
        "notes": selectors.thread_notes(thread),
        "canned": selectors.canned_replies(thread=thread, agent=request.user),
        "approvals": state["approvals"],
        "agents": selectors.assignable_agents() if me["supervisor"] else [],
        "priorities": Escalation.Priority.choices,
        "tags": list(thread.tags.values_list("name", flat=True)),
        "known_tags": inbox.known_tags(),
        "others": inbox.other_conversations(thread),
    }
    return render(request, "console/conversation.html", context)


@require_GET
@agent_required
def conversations(request: HttpRequest) -> HttpResponse:
    """The inbox: every conversation with a customer, searched (?q=) and filtered, 25 a page."""
    form = InboxFilterForm(request.GET)
    if form.is_valid():
        filters = form.filters()
    else:
        filters = inbox.InboxFilters()
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label or field.capitalize()}: {' '.join(errors)}")
    page, rows = inbox.page_of(filters, user=request.user, number=request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": "conversations",
        "state": {"me": me_of(request), "list": [row.thread.public_id for row in rows]},
        "form": form,
        "filters": filters,
        "filtering": filters != inbox.InboxFilters(),
        "results": page,
        "rows": rows,
        "query": query.urlencode(),
        "agents": selectors.assignable_agents(),
        "known_tags": inbox.known_tags(),
    }
    return render(request, "console/conversations.html", context)


@require_GET
@supervisor_required
def assistant_settings(request: HttpRequest) -> HttpResponse:
    """The assistant's instructions and tools, editable by supervisors, and the audit of their changes."""
    assistant = editable_assistant()
    changes = []
    if assistant is not None:
        for change in assistant_changes(assistant):
            added = removed = []
            if change.field == "tools":
                added = sorted(set(change.after) - set(change.before))
                removed = sorted(set(change.before) - set(change.after))
            changes.append({"change": change, "added": added, "removed": removed})
    context = {
        "page": "settings",
        "state": {"me": me_of(request)},
        "assistant": assistant,
        "tools": tool_choices(assistant) if assistant else [],
        "version": version_of(assistant) if assistant else "",
        "changes": changes,
    }
    return render(request, "console/settings.html", context)


@require_GET
@supervisor_required
def metrics(request: HttpRequest) -> HttpResponse:
    form = MetricsPeriodForm(request.GET or None)
    period = Period.last_days(7)
    if form.is_bound:
        if form.is_valid():
            period = form.period()
        else:
            for error in form.non_field_errors() or [e for errors in form.errors.values() for e in errors]:
                messages.error(request, error)
    m = compute_metrics(period)
    c = m.conversations
    tiles = [
        (str(c.conversations), "conversations (a customer wrote in the period)"),
        (_percent(c.containment_rate), f"contained: {c.contained} ended without a person (no escalation)"),
        (
            _percent(c.share(c.human_handled)),
            f"human-handled: {c.human_handled} where a person replied, took over or decided an approval",
        ),
        (_percent(c.confirmed_rate), f"resolved, confirmed by the customer ({c.resolved_confirmed})"),
        (_percent(c.assumed_rate), f"resolved, assumed: quiet for 24 h after our reply ({c.resolved_assumed})"),
        (
            _duration(m.first_reply_median_s),
            f"median time to first human reply (average {_duration(m.first_reply_average_s)}, "
            f"{m.first_reply_count} escalations answered)",
        ),
        (
            f"${m.estimated_cost}",
            f"estimated model cost: {m.prompt_tokens:,} prompt + {m.completion_tokens:,} completion tokens",
        ),
    ]
    tools = [
        (t.name, t.calls, f"{t.failures} ({_percent(t.failure_rate)})", _ms(t.p50_ms), _ms(t.p95_ms)) for t in m.tools
    ]
    csat = [
        (group.label, group.ratings, _percent(group.csat), _average(group.average))
        for group in (m.csat.ai_only, m.csat.human_handled, m.csat.all)
    ]
    csat_by_agent = [(g.label, g.ratings, _percent(g.csat), _average(g.average)) for g in m.csat.by_agent]
    context = {
        "page": "metrics",
        "metrics": m,
        "tiles": tiles,
        "tools": tools,
        "csat": csat,
        "csat_by_agent": csat_by_agent,
        "state": {"me": me_of(request)},
    }
    return render(request, "console/metrics.html", context)


@require_GET
@agent_required
def knowledge(request: HttpRequest) -> HttpResponse:
    """The help centre's files and their ingestion, a question to try on them (?q=), and the
    questions they could not answer. Supervisors also get the upload form and remove buttons."""
    me = me_of(request)
    store = help_centre_store()
    files = list(selectors.knowledge_files(store)) if store else []
    question = " ".join(request.GET.get("q", "").split())[:MAX_QUESTION_CHARS]
    passages, search_error = [], ""
    if question and store:
        try:
            passages = selectors.try_question(store, question)
        except EmbeddingFailed:
            search_error = "The search is unavailable right now (the embedding model did not answer). Try again."
    reading = sum(1 for f in files if f.status == f.Status.IN_PROGRESS)
    context = {
        "page": "knowledge",
        "state": {"me": me, "files_url": reverse("console:knowledge-files")},
        "store": store,
        "files": files,
        "reading": reading,
        "question": question,
        "passages": passages,
        "search_error": search_error,
        "threshold": settings.KNOWLEDGE_SCORE_THRESHOLD,
        "unanswered": selectors.unanswered_questions(),
        "unanswered_days": selectors.UNANSWERED_DAYS,
        "max_upload_mb": settings.KNOWLEDGE_MAX_UPLOAD_BYTES // (1024 * 1024),
    }
    return render(request, "console/knowledge.html", context)


@require_GET
@agent_required
def knowledge_files(request: HttpRequest) -> JsonResponse:
    """The help centre's files and where their ingestion stands, for the Knowledge page's poll."""
    store = help_centre_store()
    files = [selectors.knowledge_file_view(f) for f in selectors.knowledge_files(store)] if store else []
    return JsonResponse({"files": files})


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def _average(score: float | None) -> str:
    return "–" if score is None else f"{score:.1f} / {ConversationRating.SCALE}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"
