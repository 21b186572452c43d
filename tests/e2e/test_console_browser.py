"""A customer and an agent at once, in two real browsers (headless Chromium) against a live daphne.

The customer asks the widget on the demo shop for a person; the agent's console shows the
escalation with its AI summary without a reload; the agent claims it, sees the customer typing,
replies (the customer sees it live), and hands back; the assistant answers the customer's next
question. Screenshots of the queue and the conversation go to docs/screenshots/.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from agents.models import CannedReply, Escalation, InternalNote
from tests.e2e.conftest import SCREENSHOTS, seed_demo_shop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 30_000

WIDGET = "concierge-chat"
ANSWERS = f"{WIDGET} .msg.from-assistant:not([aria-hidden])"


def in_database(query):
    """Run an ORM query off this thread: Playwright's sync API keeps an event loop running in it."""

    def run():
        try:
            return query()
        finally:
            connection.close()  # the thread ends; its connection must not outlive it (PostgreSQL drops the db)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=30)


def wait_in_database(query, timeout_s: float = 30):
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        value = in_database(query)
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting for the database"
        time.sleep(0.2)


@pytest.fixture
def shop(live_server_url) -> str:
    seed_demo_shop()  # the demo logins (agent/agent-demo-pass) and order A1001
    CannedReply.objects.get_or_create(
        title="Hello (e2e)", defaults={"text": "Hi {customer_name}, this is {agent_name} from the support team."}
    )
    return live_server_url


def new_page(browser, errors: list[str], **options) -> Page:
    page = browser.new_context(**options).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(TIMEOUT_MS)
    return page


def customer_sends(page: Page, text: str) -> None:
    page.locator(f"{WIDGET} textarea").fill(text)
    page.locator(f"{WIDGET} textarea").press("Enter")
    expect(page.locator(f"{WIDGET} textarea")).to_have_value("")


def customer_asks(page: Page, text: str):
    before = page.locator(ANSWERS).count()
    customer_sends(page, text)
    expect(page.locator(ANSWERS)).to_have_count(before + 1, timeout=TIMEOUT_MS)
    return page.locator(ANSWERS).last


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(5, 5)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / name))


def test_an_agent_takes_over_from_the_console_replies_live_and_hands_back(shop, browser):
    errors: list[str] = []
    agent = new_page(browser, errors, viewport={"width": 1440, "height": 900})
    customer = new_page(browser, errors, viewport={"width": 1280, "height": 800})

    # The agent signs in and watches the (empty) queue.
    agent.goto(shop + "/console/")
    expect(agent).to_have_url(re.compile(r"/console/login/\?next=/console/$"))
    agent.fill("#id_username", "agent")
    agent.fill("#id_password", "agent-demo-pass")
    agent.click("button[type=submit]")
    expect(agent).to_have_url(shop + "/console/")
    expect(agent.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(agent.locator("#queue-empty")).to_be_visible()

    # The customer asks about an order, then for a person.
    customer.goto(shop + "/")
    customer.locator(f"{WIDGET} .launcher").click()
    answer = customer_asks(customer, "Where is my order A1001? My email is alice@example.com")
    expect(answer).to_contain_text("Delivered")
    customer_sends(customer, "Thanks. Can I talk to a person please? The mug handle is cracked.")
    expect(customer.locator(f"{WIDGET} .banner-text").first).to_have_text("A person from our team will join shortly.")

    # It reaches the agent's queue live, and its summary follows.
    escalation = wait_in_database(lambda: Escalation.objects.exclude(summary=None).first())
    headline = escalation.summary["headline"]
    assert "A1001" in headline
    row = agent.locator("#queue-rows tr").first
    expect(row).to_contain_text(headline)
    expect(row).to_contain_text("The customer asked for a person")
    expect(row.locator(".sla")).to_have_text(re.compile(r"^\d+:\d\d left$"))
    expect(row).to_contain_text("unassigned")
    expect(agent.locator("#queue-count")).to_have_text("1")
    screenshot(agent, "console-queue.png")

    # The agent claims it; the customer is told who joined.
    row.get_by_role("button", name="Claim").click()
    expect(agent).to_have_url(re.compile(r"/console/conversations/thread_\w+/$"))
    expect(agent.locator("#headline")).to_have_text(headline)
    expect(agent.locator("#esc-assignee")).to_have_text("with Alex Morgan")
    expect(agent.locator('[data-summary="suggested_next_step"]')).to_have_text(
        escalation.summary["suggested_next_step"]
    )
    expect(agent.locator("#timeline .tool .tool-name").first).to_have_text("get_order_status")
    expect(agent.locator("#conversation")).to_have_attribute("data-live", "watching")
    expect(customer.locator(f"{WIDGET} .banner-text").first).to_have_text(
        "Alex Morgan from our team has joined the chat."
    )

    # Typing shows both ways (the widget reports typing at most every 3 seconds).
    customer.wait_for_timeout(3100)
    customer.locator(f"{WIDGET} textarea").fill("I also")
    expect(agent.locator("#typing")).to_have_text("The customer is typing…")
    customer.locator(f"{WIDGET} textarea").fill("")
    agent.locator("#reply-text").press_sequentially("Hi")
    expect(customer.locator(f"{WIDGET} .typing")).to_contain_text("Alex Morgan is typing…")

    # A note for colleagues, then the reply, which the customer sees live.
    agent.fill("#note-text", "Cracked mug handle on A1001; offered a replacement.")
    agent.locator("#note-form button[type=submit]").click()
    expect(agent.locator("#notes")).to_contain_text("Cracked mug handle on A1001")
    # A canned reply goes into the box; so does an AI-suggested draft, for the agent to edit.
    agent.fill("#reply-text", "")
    agent.select_option("#canned", label="Hello (e2e)")
    expect(agent.locator("#reply-text")).to_have_value("Hi there, this is Alex Morgan from the support team.")
    agent.get_by_role("button", name="Suggest a reply").click()
    expect(agent.locator("#composer-status")).to_have_text("Suggested by AI: check and edit it before sending.")
    expect(agent.locator("#reply-text")).not_to_have_value(re.compile(r"^(Hi there, this is Alex Morgan.*)?$"))
    reply = "Hi! I'm sorry about the mug. I've arranged a free replacement for order A1001."
    agent.fill("#reply-text", reply)
    agent.locator("#reply-text").press("Enter")
    expect(agent.locator("#timeline .msg-agent .msg-text")).to_have_text(reply)
    expect(customer.locator(f"{WIDGET} .msg.from-agent")).to_contain_text(reply)
    screenshot(agent, "console-conversation.png")

    # Handed back: the assistant answers the next question.
    agent.get_by_role("button", name="Hand back to assistant").click()
    expect(agent.locator(".flash")).to_contain_text("Handed back to the assistant.")
    expect(customer.locator(f"{WIDGET} .banner-text").first).to_contain_text("handed you back to the assistant")
    answer = customer_asks(customer, "What's the status of order A1001? My email is alice@example.com")
    expect(answer).to_contain_text("A1001")
    expect(answer).to_contain_text("Delivered")
    expect(agent.locator("#timeline .msg-assistant").last).to_contain_text("Delivered")  # the console still watches

    assert not errors, f"JavaScript errors: {errors}"
    done = in_database(lambda: Escalation.objects.get(pk=escalation.pk))
    assert done.status == Escalation.Status.HANDED_BACK and done.first_human_reply_at is not None
    assert in_database(lambda: InternalNote.objects.filter(thread_id=done.thread_id).count()) == 1
