"""The supervisors' metrics against a small known dataset: exact numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from agents import metrics
from agents.metrics import Period, confirms_resolution, percentile
from agents.models import Escalation
from runtime.models import Message, Run, RunStep, Thread, ToolCall
from runtime.serializers import text_part

PERIOD = Period(date(2026, 3, 1), date(2026, 3, 7))
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def say(thread: Thread, author: str, when: datetime, text: str = "…") -> None:
    role = "user" if author == "customer" else "assistant"
    Message.objects.create(thread=thread, role=role, author=author, content=[text_part(text)], created_at=when)


def escalation(thread: Thread, trigger: str, created: datetime, *, replied_after_s: int | None, status: str) -> None:
    Escalation.objects.create(
        thread=thread,
        trigger=trigger,
        reason="r",
        status=status,
        created_at=created,
        sla_due_at=created + timedelta(minutes=15),
        first_human_reply_at=created + timedelta(seconds=replied_after_s) if replied_after_s is not None else None,
    )


@pytest.fixture
def dataset(assistant):
    def thread() -> Thread:
        return Thread.objects.create(assistant=assistant)

    # 1. Answered; the customer confirms it's solved. Contained.
    t1 = thread()
    say(t1, "customer", at(2, 10), "Where is A1001?")
    say(t1, "assistant", at(2, 10, 1))
    say(t1, "customer", at(2, 10, 5), "Perfect, thank you!")
    # 2. Answered; the customer never came back. Contained, resolution assumed.
    t2 = thread()
    say(t2, "customer", at(3, 9))
    say(t2, "assistant", at(3, 9, 1))
    # 3. Escalated (customer asked), first human reply after 120 s, resolved; quiet afterwards: assumed.
    t3 = thread()
    say(t3, "customer", at(4, 12), "I want a human")
    escalation(t3, "customer_request", at(4, 12, 0, 5), replied_after_s=120, status="resolved")
    say(t3, "agent", at(4, 12, 2, 5))
    say(t3, "customer", at(4, 12, 10), "ok")
    say(t3, "agent", at(4, 12, 11))
    # 4. Escalated (frustration), first reply after 300 s, still open: not resolved.
    t4 = thread()
    say(t4, "customer", at(5, 8), "this is useless")
    escalation(t4, "frustration", at(5, 8, 0, 10), replied_after_s=300, status="assigned")
    say(t4, "agent", at(5, 8, 5, 10))
    # 5. Answered, but the customer came back within 24 hours and got no answer. Contained, unresolved.
    t5 = thread()
    say(t5, "customer", at(6, 20))
    say(t5, "assistant", at(6, 20, 1))
    say(t5, "customer", at(7, 10), "still broken")
    # 6. Escalated by the model, first reply after 600 s, resolved, quiet afterwards: assumed.
    t6 = thread()
    say(t6, "customer", at(6, 15))
    escalation(t6, "model_tool", at(6, 15, 0, 30), replied_after_s=600, status="resolved")
    say(t6, "agent", at(6, 15, 10, 30))
    # Outside the period: a conversation and its escalation from February.
    old = thread()
    say(old, "customer", at(20, 9, month=2), "that solved it")
    escalation(old, "supervisor", at(20, 9, 1, month=2), replied_after_s=5, status="resolved")
    # No customer message at all (an API thread): not a conversation.
    api = thread()
    say(api, "assistant", at(3, 11))

    def run(thread: Thread, created: datetime, prompt: int, completion: int) -> Run:
        return Run.objects.create(
            thread=thread,
            assistant=assistant,
            model="m",
            status="completed",
            created_at=created,
            prompt_tokens=prompt,
            completion_tokens=completion,
        )

    r1 = run(t1, at(2, 10), 1000, 200)
    run(t2, at(3, 9), 3000, 800)
    run(old, at(20, 9, month=2), 5000, 5000)
    step = RunStep.objects.create(run=r1, type="tool_calls", status="completed")

    in_period = at(2, 10)

    def call(index: int, name: str, ms: int | None, *, status="completed", side="server", finished=in_period) -> None:
        ToolCall.objects.create(
            step=step,
            index=index,
            call_id=f"call_{index}",
            name=name,
            side=side,
            status=status,
            duration_ms=ms,
            finished_at=finished,
        )

    for index, ms in enumerate([10, 20, 30, 40]):
        call(index, "get_order_status", ms)
    call(4, "get_order_status", 100, status="failed")
    call(5, "track_shipment", 50)
    call(6, "track_shipment", 9999, finished=at(20, 9, month=2))  # outside the period
    call(7, "get_weather", 700, side="client")  # answered by the API caller, not a server tool
    call(8, "initiate_return", 86_400_000, side="approval")  # waited a day for a person
    call(9, "get_order_status", None, status="pending", finished=None)  # not finished


@pytest.mark.django_db
def test_conversations_containment_and_resolution(dataset):
    c = metrics.conversation_metrics(PERIOD, now=NOW)
    assert (c.conversations, c.escalated, c.contained) == (6, 3, 3)
    assert c.containment_rate == 0.5
    assert (c.resolved_confirmed, c.resolved_assumed) == (1, 3)


@pytest.mark.django_db
def test_a_reply_less_than_a_day_old_is_not_yet_assumed_resolved(dataset):
    c = metrics.conversation_metrics(PERIOD, now=at(6, 16))  # an hour after thread 6's reply
    assert c.resolved_assumed == 2


@pytest.mark.django_db
def test_escalations_by_trigger_and_time_to_first_human_reply(dataset):
    m = metrics.metrics(PERIOD, now=NOW)
    counts = {trigger: count for trigger, _, count in m.escalations_by_trigger}
    assert counts == {
        "model_tool": 1,
        "customer_request": 1,
        "repeated_failures": 0,
        "frustration": 1,
        "supervisor": 0,
    }
    assert m.escalations_total == 3
    assert (m.first_reply_median_s, m.first_reply_average_s, m.first_reply_count) == (300, 340, 3)


@pytest.mark.django_db
def test_tool_calls_per_tool_with_failure_rate_and_latency_percentiles(dataset):
    tools = {t.name: t for t in metrics.tool_metrics(PERIOD)}
    assert set(tools) == {"get_order_status", "track_shipment"}
    status = tools["get_order_status"]
    assert (status.calls, status.failures, status.failure_rate) == (5, 1, 0.2)
    assert status.p50_ms == 30
    assert status.p95_ms == pytest.approx(88.0)  # 40 + (100 - 40) * 0.8
    shipment = tools["track_shipment"]
    assert (shipment.calls, shipment.failures, shipment.p50_ms, shipment.p95_ms) == (1, 0, 50, 50)


@pytest.mark.django_db
def test_tokens_and_estimated_cost(settings, dataset):
    settings.COST_PER_MILLION_PROMPT_TOKENS = 0.15
    settings.COST_PER_MILLION_COMPLETION_TOKENS = 0.60
    assert metrics.token_usage(PERIOD) == (4000, 1000, Decimal("0.0012"))


@pytest.mark.django_db
def test_an_empty_period_has_no_rates_rather_than_zero_division():
    m = metrics.metrics(PERIOD, now=NOW)
    assert m.conversations.conversations == 0 and m.conversations.containment_rate is None
    assert m.first_reply_median_s is None and m.tools == [] and m.estimated_cost == Decimal("0")


@pytest.mark.django_db
def test_the_metrics_page_reads_the_period_from_the_query(supervisor_client, dataset):
    response = supervisor_client.get("/console/metrics/?from=2026-03-01&to=2026-03-07")
    assert response.status_code == 200
    m = response.context["metrics"]
    assert (m.period.first_day, m.period.last_day) == (date(2026, 3, 1), date(2026, 3, 7))
    assert m.conversations.conversations == 6
    page = response.content.decode()
    assert "get_order_status" in page and "30 ms" in page and "88 ms" in page and "1 (20%)" in page


@pytest.mark.django_db
def test_the_metrics_page_defaults_to_the_last_seven_days_and_refuses_a_reversed_period(supervisor_client):
    response = supervisor_client.get("/console/metrics/")
    period = response.context["metrics"].period
    assert (period.last_day - period.first_day).days == 6
    response = supervisor_client.get("/console/metrics/?from=2026-03-07&to=2026-03-01")
    assert response.status_code == 200
    assert "must not be after" in response.content.decode()


@pytest.mark.parametrize(
    ("text", "confirms"),
    [
        ("Perfect, thank you!", True),
        ("thanks, that's all", True),
        ("That solved it", True),
        ("great, thanks", True),
        ("that worked", True),
        ("thanks", False),
        ("that's all wrong", False),
        ("it's not solved", False),
    ],
)
def test_what_counts_as_the_customer_confirming_resolution(text, confirms):
    assert confirms_resolution(text) is confirms


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 50) is None
    assert percentile([7], 95) == 7
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30, 40, 100], 95) == pytest.approx(88.0)
