"""Resolve with rating: an agent resolves a conversation in the console, the customer's widget shows
the closing message and the rating, the customer rates it and adds a comment, and the supervisor's
metrics page shows it (CSAT by AI-only against human-handled, by agent). Real browsers, live daphne.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from agents.models import Escalation
from runtime.models import ConversationRating
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_console_browser import (
    WIDGET,
    customer_asks,
    customer_sends,
    in_database,
    new_page,
    screenshot,
    wait_in_database,
)
from tests.e2e.test_console_browser import shop as console_shop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

shop = console_shop  # the demo shop and its logins, as the console's browser test has them
COMMENT = "Alex sorted out the cracked mug <quickly>."


def sign_in(page, shop: str, username: str, password: str) -> None:
    page.goto(shop + "/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(shop + "/console/")


def test_resolve_with_rating(shop, browser):
    errors: list[str] = []
    agent = new_page(browser, errors, viewport={"width": 1440, "height": 900})
    customer = new_page(browser, errors, viewport={"width": 1280, "height": 800})
    sign_in(agent, shop, "agent", "agent-demo-pass")

    # The customer asks, then asks for a person; the agent claims the conversation and replies.
    customer.goto(shop + "/")
    customer.locator(f"{WIDGET} .launcher").click()
    customer_asks(customer, "Where is my order A1001? My email is alice@example.com")
    customer_sends(customer, "Can I talk to a person please? The mug handle is cracked.")
    escalation = wait_in_database(lambda: Escalation.objects.select_related("thread").first())
    agent.goto(shop + f"/console/conversations/{escalation.thread.public_id}/")
    agent.locator("#claim").click()
    expect(customer.locator(f"{WIDGET} .banner-text").first).to_have_text(
        "Alex Morgan from our team has joined the chat."
    )
    agent.fill("#reply-text", "I've sent a replacement mug for A1001.")
    agent.locator("#reply-text").press("Enter")
    expect(customer.locator(f"{WIDGET} .msg.from-agent")).to_contain_text("replacement mug")

    # The agent resolves: the widget shows the closing message and the rating, live.
    agent.locator("#resolve").click()
    rating = customer.locator(f"{WIDGET} .rating")
    expect(rating).to_be_visible()
    expect(rating.locator(".rating-closing")).to_have_text(
        "Thanks for chatting with us! This conversation is now closed."
    )
    expect(rating.locator(".rating-question")).to_have_text("How did we do?")
    expect(customer.locator(f"{WIDGET} textarea.input")).to_be_disabled()

    # One click rates; then a comment.
    rating.get_by_role("button", name="4 of 5: good").click()
    expect(rating.locator(".rating-result")).to_have_text(
        "You rated this conversation 4 of 5. Thank you for rating us!"
    )
    expect(rating.get_by_role("button", name="5 of 5: excellent")).to_be_disabled()
    rating.get_by_label("Anything to add? (optional)").fill(COMMENT)
    screenshot(customer, "widget-rating.png")
    rating.get_by_role("button", name="Send comment").click()
    expect(rating.locator(".rating-result")).to_contain_text("Thank you for your feedback!")
    expect(rating.locator(".rating-comment-form")).to_be_hidden()

    stored = in_database(lambda: ConversationRating.objects.get(thread_id=escalation.thread_id))
    assert (stored.score, stored.comment) == (4, COMMENT)

    # The supervisor's metrics page shows it: human-handled, by Alex Morgan, with the comment.
    supervisor = new_page(browser, errors, viewport={"width": 1440, "height": 1000})
    sign_in(supervisor, shop, "supervisor", "supervisor-demo-pass")
    supervisor.goto(shop + "/console/metrics/")
    csat = supervisor.locator("#csat tbody tr")
    expect(csat.nth(0)).to_have_text(re.compile(r"AI only\s*0\s*–\s*–"))
    expect(csat.nth(1)).to_have_text(re.compile(r"Human-handled\s*1\s*100%\s*4\.0 / 5"))
    expect(supervisor.locator("#csat-by-agent tbody tr")).to_have_text(re.compile(r"Alex Morgan\s*1\s*100%\s*4\.0 / 5"))
    expect(supervisor.locator("#csat-comments")).to_contain_text(COMMENT)
    expect(supervisor.locator("#csat-comments")).to_contain_text("Alex Morgan")
    supervisor.screenshot(path=str(SCREENSHOTS / "console-metrics-csat.png"), full_page=True)

    assert not errors, f"JavaScript errors: {errors}"


def test_the_customer_ends_the_chat_and_rates_the_assistant(shop, browser):
    errors: list[str] = []
    customer = new_page(browser, errors, viewport={"width": 1280, "height": 800})
    customer.goto(shop + "/")
    customer.locator(f"{WIDGET} .launcher").click()
    customer_asks(customer, "Where is my order A1001? My email is alice@example.com")

    screenshot(customer, "widget-end-chat.png")
    customer.locator(f"{WIDGET} .end-chat").click()
    rating = customer.locator(f"{WIDGET} .rating")
    expect(rating.locator(".rating-closing")).to_be_visible()
    expect(customer.locator(f"{WIDGET} .end-chat")).to_be_hidden()
    rating.get_by_role("button", name="5 of 5: excellent").click()
    expect(rating.locator(".rating-result")).to_contain_text("5 of 5")

    supervisor = new_page(browser, errors, viewport={"width": 1440, "height": 1000})
    sign_in(supervisor, shop, "supervisor", "supervisor-demo-pass")
    supervisor.goto(shop + "/console/metrics/")
    csat = supervisor.locator("#csat tbody tr")
    expect(csat.nth(0)).to_have_text(re.compile(r"AI only\s*1\s*100%\s*5\.0 / 5"))
    expect(csat.nth(1)).to_have_text(re.compile(r"Human-handled\s*0\s*–\s*–"))
    expect(supervisor.locator("#csat-by-agent tbody tr")).to_contain_text("No ratings of human-handled conversations")
    assert not errors, f"JavaScript errors: {errors}"
