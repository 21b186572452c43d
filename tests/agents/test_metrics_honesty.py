"""The metrics page's "human-handled": any person's action in a conversation counts, not only an escalation.

A conversation where an agent approved a return in the console (the assistant asked for the approval;
nobody escalated) was counted as contained, "ended without a person". It is human-handled.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from agents import metrics
from agents.metrics import Period
from runtime.models import Thread
from tests.agents import test_approvals as approvals
from tests.agents.conftest import signed_in
from tests.agents.test_approvals import decide

# A return above the refund threshold, waiting for a person's approval (tests/agents/test_approvals.py).
approval, headphones_order, no_rate_limit = approvals.approval, approvals.headphones_order, approvals.no_rate_limit

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = Period.last_days(1)


def test_a_conversation_whose_return_an_agent_approved_is_human_handled_not_contained(approval, agent, thread):
    before = metrics.conversation_metrics(TODAY)
    assert (before.conversations, before.contained, before.human_handled) == (1, 1, 0)  # the assistant alone, so far

    assert decide(signed_in(agent), approval, "approve").status_code == 200

    after = metrics.conversation_metrics(TODAY)
    assert (after.conversations, after.escalated) == (1, 0)  # nobody escalated it
    assert (after.contained, after.human_handled) == (0, 1)
    assert metrics.human_handled({thread.pk}) == {thread.pk}
    assert metrics.conversation_agents({thread.pk}) == {thread.pk: "Ann"}


def test_a_declined_approval_counts_too(approval, agent, thread):
    assert decide(signed_in(agent), approval, "decline", note="Not covered").status_code == 200
    assert metrics.conversation_metrics(TODAY).human_handled == 1


def test_an_approval_that_expired_undecided_is_no_persons_action(approval, thread):
    type(approval).objects.filter(pk=approval.pk).update(status="expired", decided_at=timezone.now())
    c = metrics.conversation_metrics(TODAY)
    assert (c.contained, c.human_handled) == (1, 0)


def test_the_metrics_page_says_human_handled(approval, agent, supervisor_client):
    decide(signed_in(agent), approval, "approve")
    page = supervisor_client.get("/console/metrics/").content.decode()
    assert "human-handled: 1 where a person replied, took over or decided an approval" in page
    assert "contained: 0 ended without a person" in page
    assert Thread.objects.count() == 1
