"""The widget in German, in a real browser (headless Chromium through Playwright, its locale de-DE).

Against a live daphne with the demo shop (tests/e2e/conftest.py), as a German customer sees it: the
widget's own strings in German (from the server's catalogue, chosen by the browser's language),
a German order question answered in German by the offline model, a question it has no German rules
for answered with an honest note and the offer of a person, and the hand-off asked for in German.
The screenshot is saved with the others (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from runtime.models import Thread
from tests.e2e.conftest import SCREENSHOTS, seed_demo_shop

pytestmark = pytest.mark.slow

ANSWER_TIMEOUT_MS = 30_000
WIDGET = "concierge-chat"
LAUNCHER = f"{WIDGET} .launcher"
PANEL = f"{WIDGET} .panel"
INPUT = f"{WIDGET} textarea"
ANSWERS = f"{WIDGET} .msg.from-assistant:not([aria-hidden])"
CUSTOMER_MESSAGES = f"{WIDGET} .msg.from-customer"


@dataclass(frozen=True)
class Shop:
    url: str


@pytest.fixture
def shop(live_server_url):
    seed_demo_shop()  # the demo shop and its logins (agent/agent-demo-pass)
    return Shop(url=live_server_url)


def widget_conversations() -> list[tuple[str, str | None]]:
    """(id, noted language) of each widget conversation, read in another thread: Django refuses
    queries from this one while Playwright's event loop runs in it."""

    def read() -> list[tuple[str, str | None]]:
        try:
            found = Thread.objects.filter(metadata__channel="widget")
            return [(thread.public_id, thread.metadata.get("language")) for thread in found]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(read).result()


def german_page(browser):
    return browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})


def ask(page: Page, question: str) -> None:
    answers_before = page.locator(ANSWERS).count()
    page.locator(INPUT).fill(question)
    page.locator(INPUT).press("Enter")
    expect(page.locator(INPUT)).to_have_value("")
    expect(page.locator(ANSWERS)).to_have_count(answers_before + 1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(f"{WIDGET} .typing")).to_be_hidden(timeout=ANSWER_TIMEOUT_MS)


@pytest.mark.django_db(transaction=True)
def test_a_german_customer_gets_the_widget_and_its_answers_in_german(shop, browser):
    context = german_page(browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(shop.url + "/")
    launcher = page.get_by_role("button", name="Chatten Sie mit uns")
    launcher.click()
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.get_by_role("dialog", name="Chatten Sie mit uns")).to_be_visible()
    expect(page.locator(f"{WIDGET} .root")).to_have_attribute("lang", "de")
    expect(page.locator(INPUT)).to_have_attribute("placeholder", "Ihre Nachricht …")
    expect(page.locator(f"{WIDGET} .empty")).to_contain_text("Fragen Sie nach dem Status einer Bestellung")
    expect(page.get_by_role("button", name="Nachricht senden")).to_be_visible()
    expect(page.locator(f"{WIDGET} .status")).to_have_text("Wir antworten meist sofort", timeout=ANSWER_TIMEOUT_MS)

    ask(page, "Wo ist meine Bestellung A1001? Meine E-Mail ist alice@example.com")
    answer = page.locator(ANSWERS).last
    expect(answer).to_contain_text("Bestellung A1001")
    expect(answer.locator("strong", has_text=re.compile("^zugestellt$"))).to_have_count(1)
    expect(answer).not_to_contain_text("nur auf Englisch")
    expect(answer.locator(".meta")).to_contain_text("Assistent")
    expect(page.locator(f"{CUSTOMER_MESSAGES} .meta").last).to_contain_text("Sie")
    expect(page.locator(f"{WIDGET} .activity").first).to_contain_text("Bestellung A1001 wird nachgesehen")

    ask(page, "Das Wetter ist heute wirklich schön, oder?")
    honest = page.locator(ANSWERS).last
    expect(honest).to_contain_text("Auf Deutsch verstehe ich nur einfache Anliegen")
    expect(honest).to_contain_text("mit einer Person aus unserem Team verbinde?")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(5, 5)
    page.screenshot(path=str(SCREENSHOTS / "widget-german.png"))

    ask(page, "Ich möchte mit einem Menschen sprechen")
    expect(page.locator(ANSWERS).last).to_contain_text("Gleich meldet sich hier jemand aus unserem Support-Team.")
    expect(page.locator(f"{WIDGET} .banner[data-kind='waiting']")).to_contain_text(
        "Gleich meldet sich jemand aus unserem Team."
    )
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    [(thread_id, language)] = widget_conversations()
    assert language == "de"  # what the model is told, and what the console shows an agent:

    agent = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    agent.goto(f"{shop.url}/console/conversations/{thread_id}/")
    agent.fill("#id_username", "agent")
    agent.fill("#id_password", "agent-demo-pass")
    agent.click("button[type=submit]")
    expect(agent.locator("[data-customer-language]")).to_have_text("Writes in German · the assistant answers in German")
    expect(agent.locator("#timeline")).to_contain_text("Ich möchte mit einem Menschen sprechen")
    agent.screenshot(path=str(SCREENSHOTS / "console-german-customer.png"))
    agent.context.close()


# The demo shop's tag, as a shop would write it with data-language="es": set before the deferred
# widget script runs (a page of our own, so the browser treats its socket as the demo's).
SPANISH_EMBED = """
new MutationObserver((changes, observer) => {
  const tag = document.querySelector('script[src*="concierge-widget.js"]');
  if (tag) { tag.dataset.language = "es"; observer.disconnect(); }
}).observe(document, { childList: true, subtree: true });
"""


@pytest.mark.django_db(transaction=True)
def test_the_embeds_language_wins_over_the_browsers(shop, browser):
    context = german_page(browser)
    page = context.new_page()
    page.add_init_script(SPANISH_EMBED)

    page.goto(shop.url + "/")
    page.get_by_role("button", name="Chatea con nosotros").click()
    expect(page.locator(INPUT)).to_have_attribute("placeholder", "Escribe tu mensaje…")
    ask(page, "Hola")
    expect(page.locator(ANSWERS).last).to_contain_text("¡Hola! Soy el asistente virtual de la tienda.")
    context.close()
