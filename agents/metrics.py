"""The supervisor's metrics: containment, resolution, escalations, first human reply, CSAT, tools, tokens.

Reads only, over a period of days; the console's metrics page renders them (agents.views.pages).
Whether a person handled a conversation is decided in one place, `human_handled`: containment and
CSAT (AI-only against human-handled) both read it.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from agents.models import Escalation
from runtime.models import ConversationRating, Message, Run, ToolApproval, ToolCall

# The customer said the problem is solved. Kept narrow on purpose: "thanks" alone is politeness.
RESOLUTION_CONFIRMED = re.compile(
    r"\b(that|this|it)('s| has| is)? (solved|fixed|sorted|resolved|answered) (it|my (problem|issue|question))\b"
    r"|\b(that|this|it) (solved|fixed|sorted|answered) (it|everything|my)\b"
    r"|\bthat (worked|helps|helped|did it)\b"
    r"|\b(problem|issue) (is )?(solved|resolved|fixed|sorted)\b"
    r"|\bthanks?( you)?,? that'?s (all|everything|it)\b"
    r"|\bthat'?s all I needed\b"
    r"|\b(perfect|great|awesome|excellent),? thank(s| you)\b"
    r"|\ball (sorted|good|set) now\b",
    re.IGNORECASE,
)
ASSUMED_RESOLVED_AFTER = timedelta(hours=24)


def confirms_resolution(text: str) -> bool:
    return bool(RESOLUTION_CONFIRMED.search(text))


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0–100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass
class Period:
    """Whole days, both ends included: [start 00:00, end + 1 day 00:00) in the server's time zone."""

    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first_day, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.last_day + timedelta(days=1), time.min))

    @classmethod
    def last_days(cls, days: int = 7, today: date | None = None) -> Period:
        today = today or timezone.localdate()
        return cls(today - timedelta(days=days - 1), today)


@dataclass
class ConversationMetrics:
    conversations: int
    escalated: int
    human_handled: int
    contained: int
    resolved_confirmed: int
    resolved_assumed: int

    def share(self, count: int) -> float | None:
        return count / self.conversations if self.conversations else None

    @property
    def containment_rate(self) -> float | None:
        return self.share(self.contained)

    @property
    def confirmed_rate(self) -> float | None:
        return self.share(self.resolved_confirmed)

    @property
    def assumed_rate(self) -> float | None:
        return self.share(self.resolved_assumed)


@dataclass
class ToolMetrics:
    name: str
    calls: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.calls if self.calls else None


@dataclass
class CsatGroup:
    """Ratings of one kind of conversation (or one agent's): how many, how many satisfied (4 or 5 of 5)."""

    label: str
    ratings: int = 0
    satisfied: int = 0
    score_total: int = 0

    def add(self, score: int) -> None:
        self.ratings += 1
        self.satisfied += score >= ConversationRating.SATISFIED_FROM
        self.score_total += score

    @property
    def csat(self) -> float | None:
        return self.satisfied / self.ratings if self.ratings else None

    @property
    def average(self) -> float | None:
        return self.score_total / self.ratings if self.ratings else None


@dataclass
class RatingComment:
    score: int
    comment: str
    at: datetime
    handled_by: str  # "AI only", or the agent's name


@dataclass
class CsatMetrics:
    all: CsatGroup
    ai_only: CsatGroup
    human_handled: CsatGroup
    by_agent: list[CsatGroup]
    comments: list[RatingComment]  # the latest first


@dataclass
class Metrics:
    period: Period
    conversations: ConversationMetrics
    escalations_by_trigger: list[tuple[str, str, int]]  # (trigger, label, count)
    first_reply_median_s: float | None
    first_reply_average_s: float | None
    first_reply_count: int
    csat: CsatMetrics
    tools: list[ToolMetrics]
    prompt_tokens: int
    completion_tokens: int
    estimated_cost: Decimal

    @property
    def escalations_total(self) -> int:
        return sum(count for _, _, count in self.escalations_by_trigger)


def human_handled(thread_ids: set[int]) -> set[int]:
    """Those of these conversations in which a person acted: an agent replied in it, took it over
    (claimed or was assigned its escalation, resolved it or handed it back), or decided one of its
    requests for approval (a return approved or declined in the console). The one definition of
    "human-handled"; every other conversation is AI-only."""
    replied = Message.objects.filter(thread_id__in=thread_ids, author=Message.Author.AGENT)
    took_over = Escalation.objects.filter(thread_id__in=thread_ids).filter(
        Q(assigned_at__isnull=False) | Q(resolved_at__isnull=False) | Q(handed_back_at__isnull=False)
    )
    decided = ToolApproval.objects.filter(
        thread_id__in=thread_ids, status__in=[ToolApproval.Status.APPROVED, ToolApproval.Status.DECLINED]
    )
    return {
        thread_id
        for rows in (replied, took_over, decided)
        for thread_id in rows.values_list("thread_id", flat=True).distinct()
    }


def conversation_metrics(period: Period, *, now: datetime | None = None) -> ConversationMetrics:
    """Conversations (threads with a customer message in the period) and how they ended.

    - human_handled: a person acted in it (`human_handled`);
    - contained: neither escalated nor human-handled (the assistant handled it alone);
    - resolved (confirmed or assumed): as `resolutions` tells.
    """
    in_period = Message.objects.filter(
        author=Message.Author.CUSTOMER, created_at__gte=period.start, created_at__lt=period.end
    )
    thread_ids = set(in_period.values_list("thread_id", flat=True).distinct())
    escalated = set(Escalation.objects.filter(thread_id__in=thread_ids).values_list("thread_id", flat=True))
    humans = human_handled(thread_ids)
    outcomes = list(resolutions(thread_ids, now=now).values())
    return ConversationMetrics(
        conversations=len(thread_ids),
        escalated=len(escalated),
        human_handled=len(humans),
        contained=len(thread_ids - escalated - humans),
        resolved_confirmed=outcomes.count(CONFIRMED),
        resolved_assumed=outcomes.count(ASSUMED),
    )


CONFIRMED, ASSUMED = "confirmed", "assumed"


def resolutions(thread_ids: set[int], *, now: datetime | None = None) -> dict[int, str]:
    """How each of these conversations was resolved, for those that were (the others are left out):

    - CONFIRMED: a customer message says it was solved (RESOLUTION_CONFIRMED);
    - ASSUMED: not confirmed, and no customer message came within 24 hours of the last assistant
      or agent reply (which is at least 24 hours old), and no escalation is still open.
    """
    now = now or timezone.now()
    still_open = set(
        Escalation.objects.filter(thread_id__in=thread_ids, status__in=Escalation.OPEN).values_list(
            "thread_id", flat=True
        )
    )
    messages: dict[int, list[tuple[datetime, str, str]]] = {}
    for thread_id, created_at, author, content in (
        Message.objects.filter(thread_id__in=thread_ids, status=Message.Status.COMPLETED)
        .exclude(author=Message.Author.API)
        .order_by("created_at", "id")
        .values_list("thread_id", "created_at", "author", "content")
    ):
        text = "".join(p["text"]["value"] for p in content if p.get("type") == "text")
        messages.setdefault(thread_id, []).append((created_at, author, text))

    out = {}
    for thread_id in thread_ids:
        rows = messages.get(thread_id, [])
        if any(author == Message.Author.CUSTOMER and confirms_resolution(text) for _, author, text in rows):
            out[thread_id] = CONFIRMED
            continue
        if thread_id in still_open:
            continue
        replies = [at for at, author, _ in rows if author in (Message.Author.ASSISTANT, Message.Author.AGENT)]
        if not replies:
            continue
        last_reply = replies[-1]
        window_end = last_reply + ASSUMED_RESOLVED_AFTER
        came_back = any(author == Message.Author.CUSTOMER and last_reply < at <= window_end for at, author, _ in rows)
        if now >= window_end and not came_back:
            out[thread_id] = ASSUMED
    return out


AI_ONLY, UNKNOWN_AGENT = "AI only", "Unknown agent"
LATEST_COMMENTS = 10


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def conversation_agents(thread_ids: set[int]) -> dict[int, str]:
    """The person who handled each of these conversations, by name: the agent of its latest escalation
    a person took, else whoever decided its latest request for approval (left out: neither)."""
    out: dict[int, str] = {}
    for approval in (
        ToolApproval.objects.filter(thread_id__in=thread_ids, decided_by__isnull=False)
        .select_related("decided_by")
        .order_by("decided_at", "id")
    ):
        out[approval.thread_id] = _name(approval.decided_by)
    for escalation in (
        Escalation.objects.filter(thread_id__in=thread_ids, assigned_to__isnull=False)
        .select_related("assigned_to")
        .order_by("created_at", "id")
    ):
        out[escalation.thread_id] = _name(escalation.assigned_to)
    return out


def csat(period: Period) -> CsatMetrics:
    """Ratings submitted in the period: all, AI-only against human-handled (`human_handled`), per agent,
    and the latest comments."""
    ratings = list(
        ConversationRating.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .order_by("-created_at", "-id")
        .values_list("thread_id", "score", "comment", "created_at")
    )
    rated = {thread_id for thread_id, _, _, _ in ratings}
    humans = human_handled(rated)
    agents = conversation_agents(humans)
    result = CsatMetrics(
        all=CsatGroup("All conversations"),
        ai_only=CsatGroup("AI only"),
        human_handled=CsatGroup("Human-handled"),
        by_agent=[],
        comments=[],
    )
    by_agent: dict[str, CsatGroup] = {}
    for thread_id, score, comment, created_at in ratings:
        result.all.add(score)
        if thread_id in humans:
            result.human_handled.add(score)
            agent = agents.get(thread_id, UNKNOWN_AGENT)
            by_agent.setdefault(agent, CsatGroup(agent)).add(score)
        else:
            result.ai_only.add(score)
        if comment and len(result.comments) < LATEST_COMMENTS:
            handled_by = agents.get(thread_id, UNKNOWN_AGENT) if thread_id in humans else AI_ONLY
            result.comments.append(RatingComment(score, comment, created_at, handled_by))
    result.by_agent = sorted(by_agent.values(), key=lambda group: group.label.lower())
    return result


def escalations_by_trigger(period: Period) -> list[tuple[str, str, int]]:
    counts = dict(
        Escalation.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .values_list("trigger")
        .annotate(n=Count("id"))
        .values_list("trigger", "n")
    )
    return [(value, label, counts.get(value, 0)) for value, label in Escalation.Trigger.choices]


def first_human_reply_seconds(period: Period) -> list[float]:
    """For escalations opened in the period: seconds from escalation to the first human reply."""
    return [
        (replied - created).total_seconds()
        for created, replied in Escalation.objects.filter(
            created_at__gte=period.start, created_at__lt=period.end, first_human_reply_at__isnull=False
        ).values_list("created_at", "first_human_reply_at")
    ]


def tool_metrics(period: Period) -> list[ToolMetrics]:
    """Server-side tool calls finished in the period, per tool: count, failures, latency p50/p95.

    Calls that waited for a person's approval or a caller's output are left out: their duration is
    a person's or a client's, not the tool's.
    """
    calls: dict[str, list[tuple[str, int | None]]] = {}
    for name, status, duration in ToolCall.objects.filter(
        side=ToolCall.Side.SERVER,
        status__in=[ToolCall.Status.COMPLETED, ToolCall.Status.FAILED],
        finished_at__gte=period.start,
        finished_at__lt=period.end,
    ).values_list("name", "status", "duration_ms"):
        calls.setdefault(name, []).append((status, duration))
    out = []
    for name in sorted(calls):
        rows = calls[name]
        durations = [float(duration) for _, duration in rows if duration is not None]
        out.append(
            ToolMetrics(
                name=name,
                calls=len(rows),
                failures=sum(status == ToolCall.Status.FAILED for status, _ in rows),
                p50_ms=percentile(durations, 50),
                p95_ms=percentile(durations, 95),
            )
        )
    return out


def token_usage(period: Period) -> tuple[int, int, Decimal]:
    """Prompt and completion tokens of runs created in the period, and their estimated cost in dollars."""
    totals = Run.objects.filter(created_at__gte=period.start, created_at__lt=period.end).aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens")
    )
    prompt, completion = totals["prompt"] or 0, totals["completion"] or 0
    cost = (
        Decimal(prompt) * Decimal(str(settings.COST_PER_MILLION_PROMPT_TOKENS))
        + Decimal(completion) * Decimal(str(settings.COST_PER_MILLION_COMPLETION_TOKENS))
    ) / Decimal(1_000_000)
    return prompt, completion, cost.quantize(Decimal("0.0001"))


def metrics(period: Period, *, now: datetime | None = None) -> Metrics:
    replies = first_human_reply_seconds(period)
    prompt, completion, cost = token_usage(period)
    return Metrics(
        period=period,
        conversations=conversation_metrics(period, now=now),
        escalations_by_trigger=escalations_by_trigger(period),
        first_reply_median_s=statistics.median(replies) if replies else None,
        first_reply_average_s=statistics.fmean(replies) if replies else None,
        first_reply_count=len(replies),
        csat=csat(period),
        tools=tool_metrics(period),
        prompt_tokens=prompt,
        completion_tokens=completion,
        estimated_cost=cost,
    )
