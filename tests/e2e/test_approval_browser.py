"""A return that needs a person's approval, end to end in two real browsers (headless Chromium).

The customer, signed in on the demo shop, asks the widget to return a 249.00 USD pair of headphones
(above RETURN_APPROVAL_THRESHOLD). On "yes" the assistant tells her at once that a colleague has to
approve it, and she can keep writing. The request reaches the agent's console queue live as work of
its own; the agent approves it from the queue; the customer's chat shows one honest confirmation, and
the shop holds one return, already approved, with nothing left to approve. Screenshots of both sides
go to docs/screenshots/.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from orders.models import Customer, Return
from runtime.models import ToolApproval
from tests.e2e.conftest import seed_demo_shop
from tests.e2e.test_console_browser import (
    ANSWERS,
    TIMEOUT_MS,
    WIDGET,
    customer_asks,
    in_database,
    new_page,
    screenshot,
)
from tests.factories import ProductFactory, delivered_order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOLD_AT_ONCE = (
    "A colleague from our team has to approve the return of 1 × Noise-Cancelling Headphones from order A3003 "
    "for a refund of 249.00 USD."
)


@pytest.fixture
def shop(live_server_url) -> str:
    seed_demo_shop()  # the demo logins (agent/agent-demo-pass) and Alice
    headphones = ProductFactory(sku="E2E-HEAD", name="Noise-Cancelling Headphones", price=Decimal("249.00"))
    delivered_order(customer=Customer.objects.get(email="alice@example.com"), number="A3003", items=[(1, headphones)])
    return live_server_url


def agent_signs_in(page: Page, shop: str) -> None:
    page.goto(shop + "/console/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", "agent-demo-pass")
    page.click("button[type=submit]")
    expect(page).to_have_url(shop + "/console/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")


def test_a_return_that_needs_approval_is_told_at_once_approved_from_the_queue_and_confirmed_once(shop, browser):
    errors: list[str] = []
    agent = new_page(browser, errors, viewport={"width": 1440, "height": 900})
    customer = new_page(browser, errors, viewport={"width": 1280, "height": 860})
    agent_signs_in(agent, shop)
    expect(agent.locator("#queue-empty")).to_be_visible()

    # Alice asks for the return and says yes: she is told at once that a colleague decides.
    customer.goto(shop + "/?customer=alice@example.com")
    customer.locator(f"{WIDGET} .launcher").click()
    confirm = customer_asks(customer, "I want to return the headphones from order A3003, they are defective")
    expect(confirm).to_contain_text("Shall I open a return for 1 × Noise-Cancelling Headphones")
    told = customer_asks(customer, "yes")
    expect(told).to_contain_text(TOLD_AT_ONCE)
    expect(told).to_contain_text("their answer will appear here in this chat")
    expect(customer.locator(f"{WIDGET} .typing")).to_be_hidden()
    screenshot(customer, "widget-approval-waiting.png")

    # The conversation is still hers: she keeps writing and is answered (no "Please wait…").
    expect(customer_asks(customer, "And where is my order A1001?")).to_contain_text("Delivered")
    expect(customer.locator(f"{WIDGET} .notice")).not_to_contain_text("Please wait")

    # The request reached the agent's queue live, as work with its deadline, and counts in the badge.
    row = agent.locator("#queue-rows tr.approval-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Return 1 × Noise-Cancelling Headphones from order A3003: refund 249.00 USD")
    expect(row).to_contain_text("Alice Martin")
    expect(row.locator(".sla")).to_have_text(re.compile(r"^decide within \d+:\d\d:\d\d$"))
    expect(agent.locator("#queue-count")).to_have_text("1")
    expect(agent.locator("#queue-empty")).to_be_hidden()
    screenshot(agent, "console-queue-approval.png")

    # The agent approves it from the queue.
    row.get_by_role("button", name="Approve").click()
    expect(agent.locator("#queue-status")).to_contain_text("Approved: Return 1 × Noise-Cancelling Headphones")
    expect(row).to_have_count(0)
    expect(agent.locator("#queue-count")).to_be_hidden()

    # One return, opened approved; the customer reads one honest confirmation.
    opened = in_database(lambda: list(Return.objects.filter(order__number="A3003").values_list("pk", "status")))
    assert [status for _, status in opened] == [Return.Status.APPROVED]
    return_id = opened[0][0]
    confirmation = (
        f"Good news: Alex Morgan from our team approved your request. Return #{return_id} for 1 × "
        "Noise-Cancelling Headphones from order A3003 is approved: send the item back, and you'll be refunded "
        "249.00 USD once it arrives."
    )
    expect(customer.locator(ANSWERS).last).to_contain_text(confirmation, timeout=TIMEOUT_MS)
    expect(customer.locator(ANSWERS).filter(has_text="Good news")).to_have_count(1)
    expect(customer.locator(ANSWERS).filter(has_text="Once the return is approved")).to_have_count(0)
    screenshot(customer, "widget-approval-confirmed.png")

    # The conversation's page shows the return approved, with nothing left to approve.
    thread_id = in_database(lambda: ToolApproval.objects.get().thread.public_id)
    agent.goto(f"{shop}/console/conversations/{thread_id}/")
    expect(agent.locator(".return").filter(has_text=f"Return #{return_id}")).to_contain_text("Approved")
    expect(agent.get_by_role("button", name="Approve return")).to_have_count(0)
    expect(agent.locator("#thread-approvals")).to_be_hidden()
    expect(agent.locator("#timeline")).to_contain_text("Good news")
    assert not errors, errors
