"""A tool call that needs a person's approval (a return above the refund threshold), end to end.

The customer is told at once and keeps the conversation (they can write on, ask for a person, or
withdraw the request); the approval is work in the console's queue, with a deadline; one decision
acts once, through orders.services, and tells the customer once; a request past its deadline, closed
or withdrawn opens nothing, however late or however many agents decide it.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from agents import services
from agents.models import Escalation
from agents.permissions import AGENTS_GROUP
from orders.models import OrderEvent, Return, VerifiedOrder
from runtime import runs
from runtime.models import Message, Run, Thread, ToolApproval, ToolCall
from runtime.tasks import sweep_runs
from tests.agents.conftest import console_url, staff_member
from tests.factories import ProductFactory, delivered_order
from widget import sessions
from widget.services import customer_says

pytestmark = pytest.mark.django_db(transaction=True)

JSON = {"HTTP_ACCEPT": "application/json"}
RETURN_HEADPHONES = {"order_number": "A3003", "item": "Noise-Cancelling Headphones", "reason": "defective"}
TOLD_AT_ONCE = "A colleague has to approve this return; I'll let you know here."


@pytest.fixture
def headphones_order(alice, thread):
    """Alice's delivered order of one 249.00 pair of headphones, proven in her conversation."""
    headphones = ProductFactory(name="Noise-Cancelling Headphones", price=Decimal("249.00"))
    order = delivered_order(customer=alice, number="A3003", items=[(1, headphones)])
    thread.customer = alice
    thread.save(update_fields=["customer"])
    thread.assistant.server_tools = [*thread.assistant.server_tools, "withdraw_request"]  # as the shop's has it
    thread.assistant.save(update_fields=["server_tools"])
    VerifiedOrder.objects.create(thread=thread, order=order)
    return order


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    """The widget's limits count per visitor and IP across tests (in Redis): not what these test."""
    settings.WIDGET_MESSAGES_PER_VISITOR_PER_MINUTE = settings.WIDGET_MESSAGES_PER_IP_PER_MINUTE = 10_000


def says(thread: Thread, text: str) -> dict:
    """What the widget's socket does with a customer's message: the stored message, or the refusal shown."""
    session = sessions.WidgetSession(visitor="v-alice", thread_id=thread.public_id, customer_id=thread.customer_id)
    return customer_says(session, thread, text, client_id="", ip="127.0.0.1")


@pytest.fixture
def approval(scripted, thread, headphones_order) -> ToolApproval:
    """Alice said yes to returning the headphones: 249.00 is above the threshold, so it waits for a person."""
    scripted.tool_calls(("initiate_return", RETURN_HEADPHONES))
    scripted.text(TOLD_AT_ONCE)
    shown = says(thread, "Yes, please return the headphones")
    assert "error" not in shown, shown
    return ToolApproval.objects.get(thread=thread)


def decide(client, approval: ToolApproval, decision: str, **fields):
    return client.post(f"/console/approvals/{approval.pk}/decide/", {"decision": decision, **fields}, **JSON)


def customer_messages_since(thread: Thread, message_id: int) -> list[Message]:
    """What the customer was told after a point: the assistant's and agents' messages."""
    return list(thread.messages.filter(pk__gt=message_id).exclude(role=Message.Role.USER).order_by("id"))


def last_message_id(thread: Thread) -> int:
    return thread.messages.order_by("-id").values_list("id", flat=True).first()


# --- the customer --------------------------------------------------------------------------------


def test_the_run_ends_its_turn_and_the_customer_is_told_at_once(approval, thread, scripted):
    run = Run.objects.get(thread=thread)
    assert run.status == Run.Status.COMPLETED
    assert approval.status == ToolApproval.Status.PENDING
    call = approval.call
    assert call.status == ToolCall.Status.COMPLETED and call.error_code == ""
    told = json.loads(call.output)
    assert told["status"] == "awaiting_approval"
    assert told["message"].startswith(
        "A colleague from our team has to approve the return of 1 × Noise-Cancelling Headphones "
        "from order A3003 for a refund of 249.00 USD."
    )
    # The model read that result, and its answer reached the customer in the same turn.
    assert "awaiting_approval" in json.dumps(scripted.requests[-1]["messages"][-1])
    assert thread.messages.filter(role="assistant").last().text == TOLD_AT_ONCE
    assert not Return.objects.exists()


def test_the_customer_can_keep_writing_while_an_approval_waits(approval, thread, scripted):
    scripted.text("It usually takes a few hours.")

    shown = says(thread, "How long does the approval take?")

    assert "error" not in shown, shown
    assert thread.messages.filter(role="assistant").last().text == "It usually takes a few hours."
    approval.refresh_from_db()
    assert approval.status == ToolApproval.Status.PENDING


def test_the_customer_can_ask_for_a_person_while_an_approval_waits(approval, thread):
    shown = says(thread, "I want to talk to a person")

    assert "error" not in shown, shown
    thread.refresh_from_db()
    assert thread.mode == Thread.Mode.WAITING_HUMAN
    assert Escalation.objects.get(thread=thread).trigger == Escalation.Trigger.CUSTOMER_REQUEST
    approval.refresh_from_db()
    assert approval.status == ToolApproval.Status.PENDING  # still the work of whoever decides it


def test_the_customer_can_withdraw_the_request(approval, thread, scripted, agent_client):
    scripted.tool_calls(("withdraw_request", {}))
    scripted.text("Done: I've withdrawn it, nothing was changed.")

    says(thread, "Never mind, cancel the return request")

    approval.refresh_from_db()
    assert approval.status == ToolApproval.Status.WITHDRAWN
    withdrawn = json.loads(ToolCall.objects.get(name="withdraw_request").output)
    assert withdrawn["withdrawn"] == 1
    assert "nothing was changed" in withdrawn["message"]
    response = decide(agent_client, approval, "approve")
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith("The customer withdrew this request")
    assert not Return.objects.exists()


def test_asking_again_for_the_same_return_queues_no_second_approval(approval, thread, scripted):
    scripted.tool_calls(("initiate_return", RETURN_HEADPHONES))
    scripted.text(TOLD_AT_ONCE)

    says(thread, "Yes, return the headphones")

    assert ToolApproval.objects.filter(thread=thread).count() == 1
    again = json.loads(ToolCall.objects.filter(name="initiate_return").last().output)
    assert again["status"] == "awaiting_approval"


# --- the console ---------------------------------------------------------------------------------


def test_the_queue_lists_the_waiting_approval_with_its_deadline(approval, agent_client, settings):
    state = agent_client.get("/console/").context["state"]

    [listed] = state["approvals"]
    assert listed["id"] == approval.pk
    assert listed["summary"].startswith("Return 1 × Noise-Cancelling Headphones from order A3003: refund 249.00 USD")
    assert listed["customer"] == "Alice Example"
    assert listed["expires_at"] - listed["created_at"] == settings.APPROVAL_WAIT_SECONDS


def test_an_approval_past_its_deadline_leaves_the_queue_before_the_sweep_comes(approval, agent_client):
    ToolApproval.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert agent_client.get("/console/").context["state"]["approvals"] == []


def test_approving_opens_one_return_already_approved_and_tells_the_customer_once(approval, agent_client, thread):
    before = last_message_id(thread)

    response = decide(agent_client, approval, "approve")

    assert response.status_code == 200, response.content
    opened = Return.objects.get()
    assert (opened.order.number, opened.quantity, opened.status) == ("A3003", 1, Return.Status.APPROVED)
    assert opened.decided_at is not None and opened.channel == Return.Channel.ASSISTANT
    events = list(OrderEvent.objects.filter(order=opened.order).order_by("id").values_list("kind", "actor"))
    assert events == [("return_requested", f"assistant:{thread.public_id}"), ("return_approved", "staff:ann")]
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by.username) == (ToolApproval.Status.APPROVED, "ann")
    assert approval.result["return_id"] == opened.pk
    [told] = customer_messages_since(thread, before)
    assert told.author == Message.Author.ASSISTANT
    assert told.text == (
        f"Good news: Ann from our team approved your request. Return #{opened.pk} for 1 × Noise-Cancelling "
        "Headphones from order A3003 is approved: send the item back, and you'll be refunded 249.00 USD once "
        "it arrives."
    )
    assert Run.objects.filter(thread=thread).count() == 1  # no run to answer it: the message is the answer
    page = agent_client.get(console_url(thread)).content.decode()
    assert f"Return #{opened.pk}: 1 × Noise-Cancelling Headphones (defective), 249.00 USD — <strong>Approved" in page
    assert "Approve return" not in page and f"/console/approvals/{approval.pk}/decide/" not in page


def test_declining_opens_nothing_and_tells_the_customer_why(approval, agent_client, thread):
    before = last_message_id(thread)

    response = decide(agent_client, approval, "decline", note="The seal is broken, so it can't be returned.")

    assert response.status_code == 200, response.content
    assert not Return.objects.exists()
    approval.refresh_from_db()
    assert approval.status == ToolApproval.Status.DECLINED
    [told] = customer_messages_since(thread, before)
    assert told.text == (
        "Ann from our team looked at your request (the return of 1 × Noise-Cancelling Headphones from order "
        "A3003 for a refund of 249.00 USD) and couldn't approve it: The seal is broken, so it can't be returned. "
        "Nothing was changed. If you have questions, write here or ask for a person."
    )


def test_an_approval_is_decided_once(approval, agent_client, thread):
    before = last_message_id(thread)

    first = decide(agent_client, approval, "approve")
    second = decide(agent_client, approval, "decline")

    assert (first.status_code, second.status_code) == (200, 409)
    assert second.json()["error"]["message"] == "This request was already approved by Ann; nothing more was done."
    assert Return.objects.count() == 1
    assert len(customer_messages_since(thread, before)) == 1


def test_an_approval_that_can_no_longer_act_is_refused_and_stays_open(approval, agent_client, thread, headphones_order):
    Return.objects.create(
        order=headphones_order,
        item=headphones_order.items.get(),
        quantity=1,
        reason="defective",
        refund_amount=Decimal("249.00"),
        currency="USD",
        channel=Return.Channel.AGENT,
    )  # meanwhile a colleague opened the return by hand
    before = last_message_id(thread)

    response = decide(agent_client, approval, "approve")

    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "This could not be done: All units of Noise-Cancelling Headphones in order A3003 already have a return. "
        "Decline the request to tell the customer."
    )
    approval.refresh_from_db()
    assert approval.status == ToolApproval.Status.PENDING
    assert Return.objects.count() == 1 and customer_messages_since(thread, before) == []


# --- expiry and closing --------------------------------------------------------------------------


def test_the_sweep_closes_an_expired_approval_and_a_late_decision_opens_nothing(approval, agent_client, thread):
    ToolApproval.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = last_message_id(thread)

    sweep_runs()

    approval.refresh_from_db()
    assert approval.status == ToolApproval.Status.EXPIRED
    [told] = customer_messages_since(thread, before)
    assert "in time, so nothing was changed" in told.text
    response = decide(agent_client, approval, "approve")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "This request expired without a decision; nothing was done, and the customer was told."
    )
    assert not Return.objects.exists()


def test_a_decision_past_the_deadline_before_the_sweep_opens_nothing(approval, agent_client, thread):
    ToolApproval.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    # A plain form post, as the console's page sends it without JavaScript: back to the page with the reason.
    response = agent_client.post(
        f"/console/approvals/{approval.pk}/decide/", {"decision": "approve", "next": "/console/"}, follow=True
    )

    assert response.redirect_chain == [("/console/", 302)]
    assert "This request expired without a decision" in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ToolApproval.Status.EXPIRED
    assert not Return.objects.exists()
    assert "in time, so nothing was changed" in thread.messages.order_by("id").last().text


def test_closing_the_conversation_closes_its_approval(approval, agent, agent_client, thread):
    escalation = services.escalate(thread=thread, trigger="customer_request", reason="asked for a person")
    services.claim(escalation=escalation, agent=agent)

    services.resolve(escalation=escalation, agent=agent)

    approval.refresh_from_db()
    assert approval.status == ToolApproval.Status.EXPIRED
    assert decide(agent_client, approval, "approve").status_code == 409
    assert not Return.objects.exists()


def test_two_agents_deciding_at_once_open_one_return(approval, agent, thread):
    """Each decision claims the request with a conditional update in its own transaction: whoever
    comes second finds it decided (on PostgreSQL it waits on the first one's row lock)."""
    colleague = staff_member("bob", group=AGENTS_GROUP, first_name="Bob")
    before = last_message_id(thread)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def decides(user) -> None:
        try:
            barrier.wait(timeout=30)
            services.decide_approval(approval=approval, agent=user, approve=True)
            outcomes.append("approved")
        except runs.ApprovalClosed as closed:
            outcomes.append(closed.message)
        except BaseException as error:  # reported below: a thread's exception must fail the test
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=decides, args=(user,)) for user in (agent, colleague)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert not errors, errors
    assert outcomes.count("approved") == 1, outcomes
    [refused] = [outcome for outcome in outcomes if outcome != "approved"]
    assert refused.startswith("This request was already approved by")
    assert Return.objects.count() == 1
    assert len(customer_messages_since(thread, before)) == 1
