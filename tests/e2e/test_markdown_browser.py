"""One markdown renderer (static/shared/markdown.js) for the widget and the console, in Chromium.

The renderer alone, imported as the ES module it is: what it draws for bold, lists, links, quotes
and code, and that a javascript: link or HTML in a message stays text; an answer's citations as
numbered source links and a Sources list. Then both surfaces against a live daphne: an agent's
markdown reply, and an assistant's answer citing the help centre, read the same, to the same DOM, in
the agent's console (live and server-rendered) and in the customer's widget (live and after a
reload), links and sources included.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command
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


def render(page: Page, text: str, streaming: bool = False, citations: list | None = None, server: str = ORIGIN) -> str:
    """The markdown drawn into a <div> in the document (so an <img> would load, a handler would run); its HTML."""
    return page.evaluate(
        """([text, streaming, citations, server]) => {
          const div = document.createElement("div");
          div.append(window.md.renderMarkdown(text, { streaming, citations, server }));
          document.body.append(div);
          return div.innerHTML;
        }""",
        [text, streaming, citations or [], server],
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


# --- citations ------------------------------------------------------------------------------------------


def marker(n: str, filename: str) -> str:
    return f"\u3010{n}\u2020{filename}\u3011"


def cited(text: str, *pairs: tuple[str, str]) -> list[dict]:
    """Citations as the server sends them: each (marker, file id) found in `text`."""
    return [{"text": m, "start": text.index(m), "end": text.index(m) + len(m), "file_id": f} for m, f in pairs]


def cite(number: int, file_id: str, label: str) -> str:
    return (
        f'<sup class="cite"><a href="{ORIGIN}/help/files/{file_id}/" {LINK} title="{label}" '
        f'aria-label="Source {number}: {label}">[{number}]</a></sup>'
    )


def sources(*pairs: tuple[str, str]) -> str:
    items = "".join(f'<li><a href="{ORIGIN}/help/files/{f}/" {LINK}>{label}</a></li>' for f, label in pairs)
    return f'<div class="sources"><p class="sources-title">Sources</p><ol>{items}</ol></div>'


def test_citations_become_numbered_source_links_with_a_sources_list(renderer):
    returns_a, returns_b = marker("0:0", "returns.md"), marker("0:1", "returns.md")
    shipping = marker("1:0", "shipping_rates.md")
    stray = marker("9:9", "nowhere.md")
    text = f"Return it within **30 days**{returns_a} and free{returns_b}.\n\n- Canada: yes{shipping}\n- {stray} stays"
    citations = cited(text, (returns_a, "file-r"), (returns_b, "file-r"), (shipping, "file-s"))
    assert render(renderer, text, citations=citations) == (
        f"<p>Return it within <strong>30 days</strong>{cite(1, 'file-r', 'Returns')} and free"
        f"{cite(1, 'file-r', 'Returns')}.</p>"
        f"<ul><li>Canada: yes{cite(2, 'file-s', 'Shipping rates')}</li><li>{stray} stays</li></ul>"
        + sources(("file-r", "Returns"), ("file-s", "Shipping rates"))
    )


def test_a_streaming_answer_leaves_its_markers_out_until_it_is_complete(renderer):
    text = f"Within 30 days{marker('0:0', 'returns.md')}, and free\u30100:1\u2020ret"
    assert render(renderer, text, streaming=True) == "<p>Within 30 days, and free</p>"


def test_hostile_citations_stay_text_and_their_links_stay_on_the_server(renderer):
    evil = marker("0:0", '<img src=x onerror="window.pwned=1">.md')
    text = f"Yes{evil}."
    html = render(renderer, text, citations=cited(text, (evil, '../../admin/?x="<b>')))
    assert "<img" not in html
    expected_href = f"{ORIGIN}/help/files/..%2F..%2Fadmin%2F%3Fx%3D%22%3Cb%3E/"
    assert renderer.evaluate("[...document.body.lastElementChild.querySelectorAll('a')].map(a => a.href)") == [
        expected_href,
        expected_href,
    ]
    assert renderer.evaluate("document.body.lastElementChild.querySelector('.sources li').textContent") == (
        '<img src=x onerror="window.pwned=1">'
    )
    # A server that is no http(s) origin gives numbers without links.
    unlinked = render(renderer, text, citations=cited(text, (evil, "file-r")), server="javascript:alert(1)//")
    assert "<a" not in unlinked and '<sup class="cite">[1]</sup>' in unlinked
    renderer.wait_for_timeout(100)
    assert renderer.evaluate("window.pwned") is None


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


@pytest.fixture
def help_site(site) -> str:
    """The live demo shop with its help centre seeded and read."""
    with open(os.devnull, "w") as quiet:
        call_command("seed_help_centre", force=True, stdout=quiet)
    return site


ANSWER_IN_WIDGET = f"{WIDGET} .msg.from-assistant:not([aria-hidden]) .bubble"
ANSWER_IN_CONSOLE = "#timeline .msg-assistant .msg-text"


@pytest.mark.django_db(transaction=True)
def test_an_answers_sources_read_the_same_in_the_console_and_the_widget(help_site, browser):
    errors: list[str] = []

    def new_page(**options) -> Page:
        page = browser.new_context(**options).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    customer = new_page(viewport={"width": 1280, "height": 800})
    customer.goto(help_site + "/")
    customer.locator(f"{WIDGET} .launcher").click()
    customer.locator(f"{WIDGET} textarea").fill("What is your return policy?")
    customer.locator(f"{WIDGET} textarea").press("Enter")
    expect(customer.locator(f"{ANSWER_IN_WIDGET} .sources")).to_have_count(1, timeout=TIMEOUT_MS)
    shown_live = inner_html(customer, ANSWER_IN_WIDGET)  # from the socket's `message` event
    assert '<sup class="cite"><a href="' + help_site + "/help/files/file-" in shown_live
    assert "\u3010" not in shown_live

    customer.reload()  # from the hello
    customer.locator(f"{WIDGET} .launcher").click()
    expect(customer.locator(ANSWER_IN_WIDGET)).to_have_count(1)
    assert inner_html(customer, ANSWER_IN_WIDGET) == shown_live

    agent = new_page(viewport={"width": 1440, "height": 900})
    agent.goto(help_site + "/console/login/")
    agent.fill("#id_username", "supervisor")
    agent.fill("#id_password", "supervisor-demo-pass")
    agent.click("button[type=submit]")
    agent.goto(help_site + "/console/conversations/")
    agent.locator("table.list a.button", has_text="Open").first.click()
    # The transcript's text is in the page at once; its markdown is drawn when the module has run.
    expect(agent.locator(f"{ANSWER_IN_CONSOLE} .sources")).to_have_count(1)
    assert inner_html(agent, ANSWER_IN_CONSOLE) == shown_live  # drawn from the server-rendered transcript
    expect(agent.locator("#conversation")).to_have_attribute("data-live", "watching")
    assert inner_html(agent, ANSWER_IN_CONSOLE) == shown_live  # redrawn from the socket's copy
    assert not errors, f"JavaScript errors: {errors}"
