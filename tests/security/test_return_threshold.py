"""The return-approval threshold holds per order, not per call: refunds cannot be split to pass it.

A customer conversation may open returns on an order without a person's approval only while the
order's opened refunds (every return not rejected) plus the new one stay within
RETURN_APPROVAL_THRESHOLD (150.00). Two conversations returning one 89.00 kettle each would open
178.00. The rule is decided under the order's row lock, so it holds when both ask at once.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.actors import Actor
from orders import services
from orders.errors import ApprovalRequired
from orders.models import Return, VerifiedOrder
from runtime.engine.runner import run_server_calls
from runtime.models import Assistant, Run, RunStep, Thread, ToolApproval, ToolCall
from runtime.tools import registry
from runtime.tools.context import ToolContext
from runtime.tools.executor import NEEDS_APPROVAL, run_tool
from tests.factories import ProductFactory, UserFactory, delivered_order

# Handlers run in a worker thread, which cannot see a test transaction's uncommitted rows.
pytestmark = pytest.mark.django_db(transaction=True)

RETURN_ONE_KETTLE = {"order_number": "A1001", "item": "Kettle", "reason": "defective", "quantity": 1}


@pytest.fixture
def assistant():
    return Assistant.objects.create(name="Order Support Agent", model="gpt-4o-mini", server_tools=["initiate_return"])


@pytest.fixture
def kettle_order(alice):
    """A1001: Alice's delivered order of two 89.00 kettles (178.00 if both come back)."""
    kettle = ProductFactory(sku="KETTLE-1", name="Kettle", price=Decimal("89.00"))
    return delivered_order(customer=alice, number="A1001", items=[(2, kettle)])


def conversation(assistant: Assistant, order, **extra) -> Thread:
    """A conversation in which the order was proven (looked up with its email)."""
    thread = Thread.objects.create(assistant=assistant, **extra)
    VerifiedOrder.objects.create(thread=thread, order=order)
    return thread


def call(thread: Thread, *, approved_by=None, **arguments) -> tuple[dict, str]:
    """One initiate_return call as the engine makes it (or a person's approval, with `approved_by`):
    (what the model reads, error code)."""
    ctx = ToolContext(thread=thread, approved_by=approved_by)
    return run_tool(registry.get("initiate_return"), ctx, "initiate_return", json.dumps(arguments))


def call_in_run(thread: Thread, **arguments) -> ToolCall:
    """One call made by a run, stored as the engine stores it (a ToolApproval when it needs one)."""
    run = Run.objects.create(thread=thread, assistant=thread.assistant, model="gpt-4o-mini")
    step = RunStep.objects.create(run=run, type=RunStep.Type.TOOL_CALLS)
    tool_call = ToolCall.objects.create(
        step=step,
        index=0,
        call_id="call_1",
        name="initiate_return",
        arguments=json.dumps(arguments),
        side=ToolCall.Side.SERVER,
    )
    ctx = ToolContext(thread=thread, run=run)
    run_server_calls([tool_call], tools=registry.resolve(["initiate_return"], ctx), ctx=ctx)
    tool_call.refresh_from_db()
    return tool_call


def test_a_second_conversation_cannot_split_a_refund_past_the_threshold(assistant, kettle_order):
    first = conversation(assistant, kettle_order)
    second = conversation(assistant, kettle_order)

    opened, error_code = call(first, **RETURN_ONE_KETTLE)
    waiting = call_in_run(second, **RETURN_ONE_KETTLE)

    assert error_code == "" and opened["refund_amount"] == "89.00", opened
    # The call does not wait for the person: it answers that a colleague has to approve it.
    assert waiting.status == ToolCall.Status.COMPLETED and waiting.error_code == ""
    assert json.loads(waiting.output)["status"] == "awaiting_approval"
    approval = ToolApproval.objects.get(call=waiting)
    assert (approval.thread, approval.kind, approval.amount, approval.currency) == (
        second,
        "return",
        Decimal("89.00"),
        "USD",
    )
    assert approval.summary == (
        "Return 1 × Kettle from order A1001: refund 89.00 USD (refunds on this order would total 178.00 USD)"
    )
    assert approval.details["order_refunds_total"] == "178.00"
    assert list(Return.objects.values_list("quantity", "refund_amount")) == [(1, Decimal("89.00"))]


def test_refunds_up_to_the_threshold_open_without_approval(assistant, alice):
    half = ProductFactory(sku="LAMP-1", name="Lamp", price=Decimal("75.00"))
    order = delivered_order(customer=alice, number="A1001", items=[(2, half)])
    lamp = {"order_number": "A1001", "item": "Lamp", "reason": "not_needed"}

    _, first_error = call(conversation(assistant, order), **lamp)
    second, second_error = call(conversation(assistant, order), **lamp)

    assert (first_error, second_error) == ("", ""), second
    assert Return.objects.filter(order=order).count() == 2  # 150.00 in all: at the threshold, not above


def test_a_rejected_return_does_not_count(assistant, kettle_order):
    call(conversation(assistant, kettle_order), **RETURN_ONE_KETTLE)
    services.return_reject(actor=Actor.staff("agent"), return_id=Return.objects.get().pk, note="not defective")

    result, error_code = call(conversation(assistant, kettle_order), **RETURN_ONE_KETTLE)

    assert error_code == "", result
    assert Return.objects.filter(status=Return.Status.REQUESTED).count() == 1


def test_returns_in_any_open_state_count(assistant, kettle_order):
    call(conversation(assistant, kettle_order), **RETURN_ONE_KETTLE)
    Return.objects.update(status=Return.Status.REFUNDED)

    result, error_code = call(conversation(assistant, kettle_order), **RETURN_ONE_KETTLE)

    assert error_code == NEEDS_APPROVAL, result
    assert Return.objects.count() == 1


def test_a_return_that_breaks_a_rule_is_refused_not_sent_for_approval(assistant, kettle_order):
    call(conversation(assistant, kettle_order), **RETURN_ONE_KETTLE)

    result, error_code = call(conversation(assistant, kettle_order), **{**RETURN_ONE_KETTLE, "quantity": 2})

    assert error_code == "return_not_allowed"
    assert result["error"]["message"] == "Only 1 unit of Kettle in order A1001 can still be returned."
    assert Return.objects.count() == 1


def test_an_approved_call_opens_the_return_in_the_same_conversation(assistant, kettle_order):
    call(conversation(assistant, kettle_order), **RETURN_ONE_KETTLE)
    second = conversation(assistant, kettle_order)
    _, waiting = call(second, **RETURN_ONE_KETTLE)

    # The call that waited is not remembered as the intent's result: once approved, it acts.
    result, error_code = call(second, approved_by=UserFactory(username="ann"), **RETURN_ONE_KETTLE)

    assert waiting == NEEDS_APPROVAL
    assert error_code == "", result
    assert (result["refund_amount"], result["status"]) == ("89.00", "approved")
    assert sorted(Return.objects.values_list("status", flat=True)) == ["approved", "requested"]


def test_a_v1_thread_of_the_shops_backend_is_not_subject_to_it(assistant, kettle_order):
    call(conversation(assistant, kettle_order), **RETURN_ONE_KETTLE)
    backend_thread = conversation(assistant, kettle_order, owner=UserFactory(username="shop-backend"))

    result, error_code = call(backend_thread, **RETURN_ONE_KETTLE)

    assert error_code == "", result
    assert Return.objects.count() == 2


def test_staff_through_the_rest_api_are_not_subject_to_it(assistant, kettle_order, staff_client):
    call(conversation(assistant, kettle_order), **RETURN_ONE_KETTLE)

    response = staff_client.post(
        "/api/returns/",
        {"order": "A1001", "item": "KETTLE-1", "reason": "defective"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="staff-second-kettle",
    )

    assert response.status_code == 201, response.content
    assert Return.objects.count() == 2


def test_two_conversations_asking_at_once_open_one_return_without_approval(assistant, kettle_order):
    threads = [conversation(assistant, kettle_order) for _ in range(2)]
    barrier = threading.Barrier(len(threads))
    codes: list[str] = []
    errors: list[BaseException] = []

    def ask(thread: Thread) -> None:
        try:
            barrier.wait(timeout=30)
            _, error_code = call(thread, **RETURN_ONE_KETTLE)
            codes.append(error_code)
        except BaseException as error:  # reported below: a thread's exception must fail the test
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=ask, args=(thread,)) for thread in threads]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert not errors, errors
    assert sorted(codes) == ["", NEEDS_APPROVAL]
    assert Return.objects.count() == 1


def test_the_service_refuses_above_the_limit_with_the_amounts_and_writes_nothing(kettle_order):
    alice = Actor.customer(kettle_order.customer_id)
    kettle = {"order_number": "A1001", "item": "KETTLE-1", "reason": "defective", "channel": "api"}
    services.return_request(actor=alice, approval_limit=Decimal("150.00"), **kettle)

    with pytest.raises(ApprovalRequired) as refused:
        services.return_request(actor=alice, approval_limit=Decimal("150.00"), **kettle)

    assert (refused.value.refund, refused.value.order_total, refused.value.limit) == (
        Decimal("89.00"),
        Decimal("178.00"),
        Decimal("150.00"),
    )
    assert Return.objects.count() == 1


def test_the_limit_costs_one_aggregate_query_and_only_when_given(alice):
    kettle = ProductFactory(sku="KETTLE-1", name="Kettle", price=Decimal("89.00"))
    delivered_order(customer=alice, number="A1001", items=[(1, kettle)])
    delivered_order(customer=alice, number="A1002", items=[(1, kettle)])
    actor = Actor.customer(alice.pk)

    def queries(number: str, **limit) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            services.return_request(
                actor=actor, order_number=number, item="KETTLE-1", reason="defective", channel="api", **limit
            )
        return [q["sql"] for q in captured]

    without = queries("A1001")
    with_limit = queries("A1002", approval_limit=Decimal("150.00"))

    refunds_sum = 'SUM("orders_return"."refund_amount")'
    assert len(with_limit) == len(without) + 1
    assert sum(refunds_sum in sql for sql in with_limit) == 1
    assert not any(refunds_sum in sql for sql in without)
