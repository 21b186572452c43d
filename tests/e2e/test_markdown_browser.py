"""One markdown renderer (static/shared/markdown.js) for the widget and the console, in Chromium.

The renderer alone, imported as the ES module it is: what it draws for bold, lists, links, quotes
and code, and that a javascript: link or HTML in a message stays text. Then both surfaces against a
live daphne: an agent's markdown reply reads the same, to the same DOM, in the agent's console (live
and server-rendered) and in the customer's widget (live and after a reload), links included.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import SCREENSHOTS, seed_demo_shop

pytestmark = pytest.mark.slow

STATIC = Path(__file__).resolve().parents[2] / "static"
ORIGIN = "http://renderer.test"
TIMEOUT_MS = 30_000
LINK = 'target="_blank" rel="noopener noreferrer nofollow"'

# What the assistant and agents write, and the DOM both surfaces must show for it.
REPLY = "\n".join(
    [
        "**Good news:** your replacement for *A1001* ships today.",
        "",
        "- Track it on [the carrier's page](https://track.example.com/A1001?from=chat&lang=en)",
        "- Or write to <mailto:help@example.com>",
        "",
        "1. Keep the cracked mug",
        "2. Check `order status` tomorrow",
        "",
        "> Returns: https://shop.example.com/returns.",
    ]
)
REPLY_DOM = (
    "<p><strong>Good news:</strong> your replacement for <em>A1001</em> ships today.</p>"
    "<ul>"
    '<li>Track it on <a href="https://track.example.com/A1001?from=chat&amp;lang=en" '
    f"{LINK}>the carrier's page</a></li>"
    f'<li>Or write to <a href="mailto:help@example.com" {LINK}>mailto:help@example.com</a></li>'
    "</ul>"
    "<ol><li>Keep the cracked mug</li><li>Check <code>order status</code> tomorrow</li></ol>"
    f'<blockquote><p>Returns: <a href="https://shop.example.com/returns" {LINK}>'
    "https://shop.example.com/returns</a>.</p></blockquote>"
)
HOSTILE = "\n".join(
    [
        "[click me](javascript:window.pwned=1) and [this](data:text/html,x) and [that](//evil.example/x)",
        '<img src=x onerror="window.pwned=2"> <script>window.pwned=3</script> <a href="https://evil.example">a</a>',
        "<javascript:window.pwned=4>",
    ]
)
HOSTILE_TEXT = (
    "click me and this and that\n"
    '<img src=x onerror="window.pwned=2"> <script>window.pwned=3</script> <a href="https://evil.example">a</a>\n'
    "<javascript:window.pwned=4>"
)


# --- the renderer alone --------------------------------------------------------------------------


def _serve(route: Route) -> None:
    if route.request.url == f"{ORIGIN}/":
        route.fulfill(
            body="<!doctype html><html><head><title>renderer</title></head><body></body></html>",
            content_type="text/html",
        )
        return
    path = (STATIC / route.request.url.removeprefix(f"{ORIGIN}/static/")).resolve()
    if path.is_relative_to(STATIC) and path.is_file():
        route.fulfill(path=path)
    else:
        route.fulfill(status=404)


@pytest.fixture
def renderer(browser):
    """A page that has imported static/shared/markdown.js as window.md."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route(f"{ORIGIN}/**", _serve)
    page.goto(f"{ORIGIN}/")
    page.evaluate("async () => { window.md = await import('/static/shared/markdown.js'); }")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def render(page: Page, text: str, streaming: bool = False) -> str:
    """The markdown drawn into a <div> in the document (so an <img> would load, a handler would run); its HTML."""
    return page.evaluate(
        """([text, streaming]) => {
          const div = document.createElement("div");
          div.append(window.md.renderMarkdown(text, { streaming }));
          document.body.append(div);
          return div.innerHTML;
        }""",
        [text, streaming],
    )


def test_bold_lists_links_quotes_and_code_become_elements(renderer):
    assert render(renderer, REPLY) == REPLY_DOM


def test_a_single_newline_is_a_line_break_and_a_numbered_list_keeps_its_start(renderer):
    assert render(renderer, "Line one\nline two\n\n3. three\n4. four") == (
        '<p>Line one<br>line two</p><ol start="3"><li>three</li><li>four</li></ol>'
    )


def test_code_blocks_and_snake_case_stay_as_written(renderer):
    assert render(renderer, "Call get_order_status:\n```\n**not bold** <b>\n```") == (
        "<p>Call get_order_status:</p><pre><code>**not bold** &lt;b&gt;</code></pre>"
    )


def test_a_javascript_link_and_html_in_a_message_are_text(renderer):
    html = render(renderer, HOSTILE)
    assert "<a" not in html and "<img" not in html and "<script" not in html
    text = renderer.evaluate("document.body.lastElementChild.innerText")
    assert text == HOSTILE_TEXT
    renderer.wait_for_timeout(100)  # an <img onerror> would have fired by now
    assert renderer.evaluate("window.pwned") is None


def test_a_streaming_answer_shows_unclosed_emphasis_as_closed(renderer):
    assert render(renderer, "Order **A10", streaming=True) == "<p>Order <strong>A10</strong></p>"
    assert render(renderer, "Order **A10") == "<p>Order **A10</p>"


# --- the console and the widget, live --------------------------------------------------------------

WIDGET = "concierge-chat"
AGENT_IN_WIDGET = f"{WIDGET} .msg.from-agent .bubble"
AGENT_IN_CONSOLE = "#timeline .msg-agent .msg-text"


@pytest.fixture
def site(live_server_url) -> str:
    """The live server with the demo data; the demo agent's password stored as the server checks it."""
    seed_demo_shop()
    return live_server_url


def inner_html(page: Page, selector: str) -> str:
    return page.locator(selector).evaluate("node => node.innerHTML")


@pytest.mark.django_db(transaction=True)
def test_an_agents_markdown_reply_reads_the_same_in_the_console_and_the_widget(site, browser):
    errors: list[str] = []

    def new_page(**options) -> Page:
        page = browser.new_context(**options).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    customer = new_page(viewport={"width": 1280, "height": 800})
    customer.goto(site + "/")
    customer.locator(f"{WIDGET} .launcher").click()
    customer.locator(f"{WIDGET} textarea").fill("Can I talk to a person please? My mug arrived cracked.")
    customer.locator(f"{WIDGET} textarea").press("Enter")
    expect(customer.locator(f"{WIDGET} .banner-text").first).to_have_text("A person from our team will join shortly.")

    agent = new_page(viewport={"width": 1440, "height": 900})
    agent.goto(site + "/console/login/")
    agent.fill("#id_username", "agent")
    agent.fill("#id_password", "agent-demo-pass")
    agent.click("button[type=submit]")
    agent.locator("#queue-rows tr").first.get_by_role("button", name="Claim").click()
    expect(agent).to_have_url(re.compile(r"/console/conversations/thread_\w+/$"))
    expect(agent.locator("#conversation")).to_have_attribute("data-live", "watching")

    # The agent writes markdown, and a link and markup that must stay text.
    agent.fill("#reply-text", REPLY + "\n\n" + HOSTILE)
    agent.locator("#reply-text").press("Enter")
    expect(agent.locator(AGENT_IN_CONSOLE)).to_have_count(1)
    expect(customer.locator(AGENT_IN_WIDGET)).to_have_count(1)

    shown_to_agent = inner_html(agent, AGENT_IN_CONSOLE)
    assert shown_to_agent.startswith(REPLY_DOM), shown_to_agent
    assert inner_html(customer, AGENT_IN_WIDGET) == shown_to_agent
    link = agent.locator(f"{AGENT_IN_CONSOLE} a").first  # the console used to drop links
    expect(link).to_have_attribute("href", "https://track.example.com/A1001?from=chat&lang=en")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(agent.locator(AGENT_IN_CONSOLE)).to_contain_text('<img src=x onerror="window.pwned=2">')
    for page in (agent, customer):
        assert page.locator(f"{AGENT_IN_CONSOLE} img, {AGENT_IN_CONSOLE} script, {WIDGET} img").count() == 0
        assert page.evaluate("window.pwned") is None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for page, name in ((agent, "markdown-console.png"), (customer, "markdown-widget.png")):
        page.mouse.move(5, 5)
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / name))

    # The same again where each page draws it from scratch: the console's server-rendered
    # transcript, and the widget's hello after a reload.
    agent.reload()
    expect(agent.locator(AGENT_IN_CONSOLE)).to_have_count(1)
    assert inner_html(agent, AGENT_IN_CONSOLE) == shown_to_agent
    customer.reload()
    customer.locator(f"{WIDGET} .launcher").click()
    expect(customer.locator(AGENT_IN_WIDGET)).to_have_count(1)
    assert inner_html(customer, AGENT_IN_WIDGET) == shown_to_agent
    assert not errors, f"JavaScript errors: {errors}"
