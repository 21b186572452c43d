"""Console search, in a real browser (headless Chromium) against a live daphne.

An agent finds a conversation in the inbox by an order number, by an e-mail and by a word of a
message; the filters (status, tag) narrow the list; the keyboard opens a conversation from it, whose
customer card lists the customer's other conversations; a tag added there filters the inbox.
Screenshots of the inbox and the conversation go to docs/screenshots/ (UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from agents.models import ConversationTag
from agents.services import escalate
from orders.assistant.persona import default_assistant
from orders.models import VerifiedOrder
from runtime import runs
from runtime.models import Message, Thread
from tests.e2e.conftest import SCREENSHOTS, seed_demo_shop
from tests.e2e.test_console_browser import new_page, screenshot
from tests.factories import CustomerFactory, delivered_order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def conversation(text: str, *, customer=None, hours_ago: float = 0, answer: str = "") -> Thread:
    thread = Thread.objects.create(assistant=default_assistant(), customer=customer, metadata={"channel": "widget"})
    for role, author, said in [("user", "customer", text), ("assistant", "assistant", answer)]:
        if said:
            message = runs.message_create(thread=thread, role=role, content=said, author=author)
            Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(hours=hours_ago))
    return thread


@pytest.fixture
def inbox(live_server_url) -> dict:
    """Priya's two conversations (one about order Z9001, verified in it), Tom's escalated one (tagged
    vip), and an anonymous visitor's."""
    seed_demo_shop()  # the demo logins: agent/agent-demo-pass is Alex Morgan
    priya = CustomerFactory(name="Priya Natarajan", email="priya@example.net")
    tom = CustomerFactory(name="Tom Berg", email="tom.berg@example.org")
    order = delivered_order(customer=priya, number="Z9001")
    earlier = conversation("Do you sell descaler for espresso machines?", customer=priya, hours_ago=72)
    cracked = conversation(
        "My espresso machine arrived with a cracked water tank.",
        customer=priya,
        hours_ago=2,
        answer="I'm sorry to hear that. I can open a return for order Z9001.",
    )
    VerifiedOrder.objects.create(thread=cracked, order=order)
    toms = conversation("I was charged twice for my subscription!", customer=tom, hours_ago=1)
    escalate(thread=toms, trigger="customer_request", reason="The customer asked for a person.")
    ConversationTag.objects.create(thread=toms, name="vip")
    visitor = conversation("Hello, do you ship to Iceland?", hours_ago=0.5)
    return {"earlier": earlier, "cracked": cracked, "toms": toms, "visitor": visitor, "url": live_server_url}


def rows(page: Page):
    return page.locator("#inbox tbody tr[data-thread]")


def settled(page: Page) -> None:
    """The page's script runs (its socket is live): the filters apply when chosen, the keys work."""
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")


def search(page: Page, text: str) -> None:
    page.fill("#inbox-q", text)
    page.locator("#inbox-q").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(quote_plus(text)) + "(&|$)"))


def test_an_agent_finds_conversations_by_order_email_and_words_and_narrows_them(inbox, browser):
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1440, "height": 900})
    shop = inbox["url"]
    page.goto(shop + "/console/login/?next=/console/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", "agent-demo-pass")
    page.click("button[type=submit]")
    expect(page).to_have_url(shop + "/console/")
    expect(page.locator("#queue-rows tr")).to_have_count(1)
    expect(page.locator("#queue-rows tr").first).to_contain_text("Tom Berg · tom.berg@example.org")
    screenshot(page, "console-queue-search.png")

    # The queue's search box leads to the inbox.
    page.fill("#inbox-q", "Z9001")
    page.locator("#inbox-q").press("Enter")
    expect(page).to_have_url(re.compile(r"/console/conversations/\?q=Z9001$"))
    expect(rows(page)).to_have_count(1)
    row = rows(page).first
    expect(row).to_have_attribute("data-thread", inbox["cracked"].public_id)
    expect(row).to_contain_text("Priya Natarajan")
    expect(row).to_contain_text("priya@example.net")
    expect(row).to_contain_text("Z9001")
    expect(row.locator(".preview")).to_have_text(
        "Assistant: I'm sorry to hear that. I can open a return for order Z9001."
    )

    # By e-mail: both of Priya's conversations; by a word of a message: the visitor's.
    search(page, "PRIYA@example.net")
    expect(rows(page)).to_have_count(2)
    search(page, "iceland")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Anonymous visitor")
    expect(rows(page).first).to_contain_text("Customer: Hello, do you ship to Iceland?")
    search(page, "espresso")
    expect(rows(page)).to_have_count(2)
    settled(page)

    # The filters narrow the search (each applies when chosen), and the whole list: of the two,
    # only the earlier one's customer has waited more than an hour for an answer.
    page.select_option("#inbox-waiting", "1h")
    expect(page).to_have_url(re.compile(r"waiting=1h"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_have_attribute("data-thread", inbox["earlier"].public_id)
    expect(rows(page).first).to_contain_text("customer waiting 3")
    page.click("#inbox-clear")
    expect(rows(page)).to_have_count(4)
    settled(page)
    page.select_option("#inbox-mode", "waiting_human")
    expect(page).to_have_url(re.compile(r"mode=waiting_human"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Tom Berg")
    expect(rows(page).first).to_contain_text("unassigned")
    expect(rows(page).first.locator(".tag-chip")).to_have_text("vip")
    settled(page)
    page.select_option("#inbox-mode", label="Any status")
    expect(rows(page)).to_have_count(4)
    settled(page)
    page.select_option("#inbox-tag", "vip")
    expect(page).to_have_url(re.compile(r"tag=vip"))
    expect(rows(page)).to_have_count(1)
    search(page, "iceland")  # the tag filter stays: nothing is both
    expect(rows(page)).to_have_count(0)
    expect(page.locator("#inbox")).to_contain_text("No conversation matches.")

    # From the keyboard: / searches, j selects, Enter opens.
    page.goto(shop + "/console/conversations/")
    settled(page)
    page.keyboard.press("/")
    expect(page.locator("#inbox-q")).to_be_focused()
    page.keyboard.type("espresso")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?q=espresso$"))
    settled(page)
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows(page).nth(1)).to_have_class(re.compile(r"\bselected\b"))
    screenshot(page, "console-inbox.png")
    page.keyboard.press("k")
    expect(rows(page).nth(0)).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(shop + f"/console/conversations/{inbox['cracked'].public_id}/")
    settled(page)

    # The customer card lists Priya's other conversation; ? shows the shortcuts.
    others = page.locator("#other-conversations")
    expect(others).to_contain_text("Do you sell descaler for espresso machines?")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Take over (claim) the conversation")
    page.screenshot(path=str(SCREENSHOTS / "console-shortcuts.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    # j goes to the next conversation of the list, k back; typing in a field never triggers one.
    page.keyboard.press("j")
    expect(page).to_have_url(shop + f"/console/conversations/{inbox['earlier'].public_id}/")
    settled(page)
    page.keyboard.press("k")
    expect(page).to_have_url(shop + f"/console/conversations/{inbox['cracked'].public_id}/")
    settled(page)
    page.keyboard.press("g")
    expect(page.locator("#tag-input")).to_be_focused()
    page.keyboard.type("damaged in transit")
    expect(page).to_have_url(shop + f"/console/conversations/{inbox['cracked'].public_id}/")
    page.keyboard.press("Enter")
    expect(page.locator("#tags")).to_contain_text("damaged in transit")
    settled(page)
    screenshot(page, "console-conversation-tags.png")

    # The new tag filters the inbox; u goes back to the list.
    page.keyboard.press("u")
    expect(page).to_have_url(re.compile(r"/console/conversations/\?q=espresso$"))
    page.goto(shop + "/console/conversations/?tag=damaged+in+transit")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator(".tag-chip")).to_have_text("damaged in transit")

    assert not errors, f"JavaScript errors: {errors}"


def test_a_supervisor_edits_the_assistant_and_sees_the_change_audited(inbox, browser):
    errors: list[str] = []
    page = new_page(browser, errors, viewport={"width": 1440, "height": 900})
    shop = inbox["url"]
    page.goto(shop + "/console/login/?next=/console/settings/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", "supervisor-demo-pass")
    page.click("button[type=submit]")
    expect(page).to_have_url(shop + "/console/settings/")
    expect(page.locator("#instructions")).to_contain_text("You are the Order Support Agent")

    page.fill("#instructions", "You are the Order Support Agent. Always answer in two sentences or fewer.")
    page.uncheck("input[name=tools][value=cancel_order]")
    page.click("#save-settings")

    expect(page.locator(".flash")).to_contain_text("Saved the assistant's instructions and tools.")
    expect(page.locator("#audit .audit-entry")).to_have_count(2)
    expect(page.locator("#audit")).to_contain_text("Sam Lee changed the tools")
    expect(page.locator("#audit")).to_contain_text("− cancel_order")
    page.locator("#audit details summary").first.click()
    expect(page.locator("#audit .before-after").first).to_contain_text("two sentences or fewer")
    page.screenshot(path=str(SCREENSHOTS / "console-settings.png"), full_page=True)
    assert not errors, f"JavaScript errors: {errors}"
