"""The runtime's Prometheus metrics move with what happened: a run at rest by its status, each
server tool call by tool and outcome, model calls and their retries, first-token time, tokens, cost."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from runtime import runs

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def summed(counter: str, **labels: str) -> float:
    """A counter's total over the labels not given."""
    return sum(
        s.value
        for metric in REGISTRY.collect()
        if metric.name == counter
        for s in metric.samples
        if s.name == f"{counter}_total" and all(s.labels.get(k) == v for k, v in labels.items())
    )


def totals() -> dict[str, float]:
    return {
        "completed": sample("concierge_runs_total", status="completed"),
        "run_seconds": sample("concierge_run_seconds_count"),
        "tool": summed("concierge_tool_calls", tool="get_order_status"),
        "ok": sample("concierge_model_calls_total", outcome="ok"),
        "retries": summed("concierge_model_retries"),
        "first_token": sample("concierge_model_first_token_seconds_count"),
        "prompt": sample("concierge_model_tokens_total", kind="prompt"),
        "completion": sample("concierge_model_tokens_total", kind="completion"),
        "cost": sample("concierge_model_cost_total"),
    }


def test_a_run_with_a_retried_model_call_and_a_tool_moves_each_metric(scripted, thread, assistant, settings):
    settings.COST_PER_MILLION_PROMPT_TOKENS = 1_000_000.0  # a token costs 1: the cost reads as tokens
    settings.COST_PER_MILLION_COMPLETION_TOKENS = 2_000_000.0
    scripted.status(503)
    scripted.tool_calls(("get_order_status", {"order_number": "A1001", "email": "alice@example.com"}), usage=(30, 15))
    scripted.text("Here it is.", usage=(20, 10))
    before = totals()

    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    assert run.status == "completed"

    after = totals()
    moved = {name: after[name] - before[name] for name in before}
    assert moved == pytest.approx(
        {
            "completed": 1,
            "run_seconds": 1,
            "tool": 1,
            "ok": 2,
            "retries": 1,
            "first_token": 2,
            "prompt": 50,
            "completion": 25,
            "cost": 30 * 1 + 15 * 2 + 20 * 1 + 10 * 2,
        }
    )
