"""CSAT on the metrics page: ratings split AI-only against human-handled (agents.metrics.human_handled), by agent."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from agents import metrics
from agents.metrics import Period
from agents.models import Escalation
from runtime.models import ConversationRating, Message, Thread
from runtime.serializers import text_part

PERIOD = Period(date(2026, 3, 1), date(2026, 3, 7))


def at(day: int, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(2026, 3, day, hour))


def rated(thread: Thread, score: int, *, day: int = 3, comment: str = "") -> None:
    Message.objects.create(thread=thread, role="user", author="customer", content=[text_part("hi")], created_at=at(day))
    ConversationRating.objects.create(thread=thread, score=score, comment=comment, created_at=at(day, 13))


def taken_by(thread: Thread, agent) -> None:
    Escalation.objects.create(
        thread=thread,
        trigger="customer_request",
        reason="r",
        status="resolved",
        assigned_to=agent,
        assigned_at=at(3),
        resolved_at=at(3, 14),
        sla_due_at=at(3) + timedelta(minutes=15),
    )


@pytest.fixture
def ratings(assistant, agent, colleague):
    def thread() -> Thread:
        return Thread.objects.create(assistant=assistant, mode="closed")

    rated(thread(), 5)  # the assistant alone
    rated(thread(), 4, comment="Fast answer")  # the assistant alone
    escalated_unanswered = thread()  # escalated, nobody came: still no person's action
    Escalation.objects.create(
        thread=escalated_unanswered, trigger="model_tool", reason="r", status="handed_back", sla_due_at=at(3)
    )
    rated(escalated_unanswered, 1)
    ann_1, ann_2, bob = thread(), thread(), thread()
    taken_by(ann_1, agent)
    taken_by(ann_2, agent)
    taken_by(bob, colleague)
    rated(ann_1, 2, comment="<b>Slow</b> to answer")
    rated(ann_2, 5)
    rated(bob, 4)
    rated(thread(), 1, day=20)  # outside the period


@pytest.mark.django_db
def test_csat_splits_ai_only_from_human_handled_and_by_agent(ratings):
    csat = metrics.csat(PERIOD)
    assert (csat.all.ratings, csat.all.satisfied) == (6, 4)
    assert (csat.ai_only.ratings, csat.ai_only.satisfied, csat.ai_only.average) == (3, 2, 10 / 3)
    assert (csat.human_handled.ratings, csat.human_handled.satisfied) == (3, 2)
    assert csat.human_handled.csat == pytest.approx(2 / 3)
    assert [(g.label, g.ratings, g.satisfied, g.average) for g in csat.by_agent] == [
        ("Ann", 2, 1, 3.5),
        ("Bob", 1, 1, 4.0),
    ]
    assert [(c.score, c.comment, c.handled_by) for c in csat.comments] == [
        (2, "<b>Slow</b> to answer", "Ann"),
        (4, "Fast answer", "AI only"),
    ]


@pytest.mark.django_db
def test_no_ratings_means_no_rates_rather_than_zero():
    csat = metrics.csat(PERIOD)
    assert csat.all.ratings == 0 and csat.all.csat is None and csat.all.average is None and csat.by_agent == []


@pytest.mark.django_db
def test_the_metrics_page_shows_csat_and_escapes_comments(supervisor_client, ratings):
    page = supervisor_client.get("/console/metrics/?from=2026-03-01&to=2026-03-07").content.decode()
    assert "Customer satisfaction (CSAT)" in page
    assert '<td>AI only</td><td class="num">3</td><td class="num">67%</td><td class="num">3.3 / 5</td>' in page
    assert '<td>Human-handled</td><td class="num">3</td><td class="num">67%</td>' in page
    assert '<td>Ann</td><td class="num">2</td><td class="num">50%</td><td class="num">3.5 / 5</td>' in page
    assert "&lt;b&gt;Slow&lt;/b&gt; to answer" in page and "<b>Slow</b>" not in page


@pytest.mark.django_db
def test_agents_who_are_not_supervisors_do_not_see_the_metrics(agent_client):
    assert agent_client.get("/console/metrics/").status_code == 403
