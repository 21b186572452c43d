"""The supervisor's Analyst in a real browser (headless Chromium) against a live daphne running the
offline model and the sandbox: a supervisor signs in, asks for a chart of conversations per day,
and sees the chart load inline (an <img> the browser decoded), with the code that drew it in a
collapsible block. An agent gets no Analyst.

Screenshot (docs/screenshots/ with UPDATE_SCREENSHOTS=1): console-analyst.png.
Needs bubblewrap: it fails in CI (CI=1) and skips elsewhere when the sandbox cannot run.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from orders.assistant.persona import default_assistant
from runtime.models import Message, Thread
from runtime.serializers import text_part
from tests import needs
from tests.e2e.conftest import SCREENSHOTS, seed_demo_shop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 60_000  # a cold sandbox session imports pandas and matplotlib first
CONVERSATIONS_PER_DAY = (3, 1, 4, 2)  # from three days ago to today


@pytest.fixture
def analyst_shop(live_server_url) -> str:
    """The demo shop with its logins, and a few days of widget conversations to chart.

    Written here, before the browser starts: Playwright's sync API runs an event loop in this thread,
    and Django refuses database queries from a thread with a running loop."""
    needs.sandbox()
    seed_demo_shop()
    assistant = default_assistant()
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago, count in zip(range(len(CONVERSATIONS_PER_DAY) - 1, -1, -1), CONVERSATIONS_PER_DAY, strict=True):
        for _ in range(count):
            thread = Thread.objects.create(
                assistant=assistant, metadata={"channel": "widget"}, created_at=noon - timedelta(days=days_ago)
            )
            Message.objects.create(
                thread=thread, role="user", author="customer", content=[text_part("Where is my order?")]
            )
    return live_server_url


@pytest.fixture
def new_page(browser):
    errors: list[str] = []
    contexts = []

    def make(**options) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def sign_in(page: Page, site: str, username: str, password: str) -> None:
    page.goto(site + "/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(site + "/console/")


def test_a_supervisor_asks_for_a_chart_and_sees_it_inline(analyst_shop, new_page):
    page = new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, analyst_shop, "supervisor", "supervisor-demo-pass")
    page.get_by_role("link", name="Analyst").click()
    expect(page).to_have_url(analyst_shop + "/console/analyst/")
    expect(page.locator("#analyst-unavailable")).to_have_count(0)

    page.get_by_role("button", name="plot conversations per day in conversations.csv").click()

    exchange = page.locator("#exchanges li.exchange").last
    expect(exchange.locator(".question")).to_contain_text("plot conversations per day in conversations.csv")
    chart = exchange.locator("img.chart")
    expect(chart).to_have_count(1, timeout=TIMEOUT_MS)
    expect(exchange.locator(".working")).to_have_count(0)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
    assert chart.evaluate("img => img.naturalWidth") > 100
    assert re.fullmatch(r"/console/analyst/charts/file-\w+/", chart.get_attribute("src"))

    expect(exchange.locator(".answer")).not_to_be_empty()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(5, 5)
    page.screenshot(path=str(SCREENSHOTS / "console-analyst.png"), full_page=True)

    code = exchange.locator("details.code")
    expect(code.locator("pre code")).to_be_hidden()
    code.locator("summary").click()
    expect(code.locator("pre code")).to_contain_text("conversations.csv")

    # The figures behind it, as the code wrote them, are a download linked from the answer.
    figures = exchange.locator(".answer a[href*='/console/analyst/files/']")
    expect(figures).to_have_count(1)
    download = page.request.get(figures.get_attribute("href"))
    assert download.status == 200
    rows = download.text().splitlines()[1:]
    assert [int(row.rsplit(",", 1)[1]) for row in rows] == list(CONVERSATIONS_PER_DAY)

    # The chart is the supervisor's: a signed-out browser and an agent cannot fetch it.
    src = analyst_shop + chart.get_attribute("src")
    stranger = new_page()
    assert stranger.request.get(src, max_redirects=0).status == 302
    agent = new_page()
    sign_in(agent, analyst_shop, "agent", "agent-demo-pass")
    expect(agent.get_by_role("link", name="Analyst")).to_have_count(0)
    assert agent.request.get(src).status == 403
