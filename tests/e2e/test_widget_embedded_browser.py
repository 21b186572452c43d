"""Content-Security-Policy in a real browser (headless Chromium through Playwright).

The widget on another site's page: a page served from another origin (a plain http.server on
`localhost`, against Concierge on `127.0.0.1`: another site, not only another port) under a strict
policy of its own that allows only what README.md's "Embedding the widget" tells a shop to allow.
And our own pages, the demo shop, the console and the admin, under ours. Chromium reports every
blocked load or inline script and style on the console; none may appear.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer, running_daphne, seed_demo_shop, server_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 30_000
QUESTION = "Where is my order A1001? My email is alice@example.com"
SCREENSHOT = Path("/tmp/embedded.png")

WIDGET = "concierge-chat"
LAUNCHER = f"{WIDGET} .launcher"
INPUT = f"{WIDGET} textarea"
# A streaming answer is aria-hidden until complete; the finished one replaces it.
ANSWERS = f"{WIDGET} .msg.from-assistant:not([aria-hidden])"


def shop_policy(concierge: str) -> str:
    """A shop's strict policy, allowing what README.md says the widget needs and nothing else."""
    sockets = re.sub(r"^http", "ws", concierge)
    return (
        f"default-src 'none'; script-src {concierge}; style-src {concierge}; connect-src {concierge} {sockets}; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


@dataclass
class ShopSite:
    """Another site's page that embeds the widget; `html` and `policy` are what it serves at /."""

    origin: str
    html: str = ""
    policy: str = ""


def _handler(site: ShopSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/":
                self.send_error(404)
                return
            body = site.html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", site.policy)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def shop_site() -> Iterator[ShopSite]:
    site = ShopSite(origin="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.origin = f"http://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def concierge_for_shop(transactional_db, shop_site, tmp_path) -> Iterator[LiveServer]:
    """A live Concierge that lets the shop's site embed the widget, with the demo data; its answers
    stream slowly enough to be seen arriving."""
    call_command("seed_demo")
    env = {
        **server_environment(),
        "WIDGET_ALLOWED_ORIGINS": shop_site.origin,
        "OFFLINE_MODEL_TOKEN_DELAY_MS": "40",
    }
    with running_daphne(env, tmp_path / "daphne.log") as server:
        shop_site.policy = shop_policy(server.url)
        shop_site.html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another shop</title></head>
<body><h1>Another shop</h1><p>Not Concierge's page: it only embeds the chat.</p>
<script src="{server.url}/static/widget/concierge-widget.js" data-server="{server.url}" defer></script>
</body></html>"""
        yield server


@dataclass
class Watched:
    """A page, with what Chromium said on its console and the JavaScript errors it raised."""

    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        # Chromium's wording: "Refused to …" in older releases, "… violates the following Content
        # Security Policy directive …" in newer ones.
        return [m for m in self.console if "Content Security Policy" in m or m.startswith("Refused to")]

    def assert_clean(self, where: str) -> None:
        assert not self.csp_violations(), f"CSP violations on {where}: {self.csp_violations()}"
        assert not self.errors, f"JavaScript errors on {where}: {self.errors}"
        self.console.clear()


def watched_page(browser: Browser, **options) -> Watched:
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watched = Watched(page)
    page.on("console", lambda message: watched.console.append(message.text))
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    return watched


def record_streaming(page: Page) -> None:
    """Keep every text the streaming answer shows, in window.__streamed, until it completes."""
    page.evaluate(
        """() => {
          const root = document.querySelector("concierge-chat").shadowRoot;
          window.__streamed = [];
          new MutationObserver(() => {
            const bubble = root.querySelector(".msg.from-assistant[aria-hidden] .bubble");
            if (bubble && bubble.textContent !== window.__streamed.at(-1)) window.__streamed.push(bubble.textContent);
          }).observe(root, { subtree: true, childList: true, characterData: true });
        }"""
    )


def ask(page: Page, question: str):
    before = page.locator(ANSWERS).count()
    page.locator(INPUT).fill(question)
    page.locator(INPUT).press("Enter")
    expect(page.locator(ANSWERS)).to_have_count(before + 1)
    expect(page.locator(f"{WIDGET} .typing")).to_be_hidden()
    return page.locator(ANSWERS).last


def test_the_widget_works_on_another_sites_page_under_that_sites_strict_policy(concierge_for_shop, shop_site, browser):
    shop = watched_page(browser, viewport={"width": 1280, "height": 800})
    page = shop.page
    response = page.goto(shop_site.origin + "/")
    assert response is not None and response.headers["content-security-policy"] == shop_site.policy
    assert "'unsafe-inline'" not in shop_site.policy

    page.locator(LAUNCHER).click()  # visible only once its stylesheet loaded from Concierge
    expect(page.locator(INPUT)).to_be_focused()
    record_streaming(page)
    answer = ask(page, QUESTION)  # a POST to /chat/session/ and a websocket, both to Concierge

    expect(answer).to_contain_text("A1001")
    expect(answer.locator("strong", has_text=re.compile("^Delivered$"))).to_have_count(1)
    streamed = page.evaluate("window.__streamed")
    assert len(streamed) >= 3, f"the answer arrived in one piece, not streamed: {streamed}"
    assert len(streamed[0]) < len(answer.locator(".bubble").text_content())
    page.mouse.move(5, 5)
    page.wait_for_timeout(300)  # the panel's opening animation
    page.screenshot(path=str(SCREENSHOT))
    shop.assert_clean("the other site's page")


def sign_in(page: Page, url: str, username: str, password: str, submit: str) -> None:
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click(submit)


@pytest.fixture
def demo_site(live_server_url) -> str:
    """The live server with the demo data and logins, set up before the browser starts: Playwright's
    sync API runs an event loop in this thread, and Django refuses database queries from it."""
    seed_demo_shop()
    return live_server_url


def test_our_pages_run_under_our_policy_without_a_violation(demo_site, browser):
    site = demo_site
    # The demo shop, with a conversation over the same host's websocket (connect-src 'self').
    shop = watched_page(browser)
    shop.page.goto(site + "/?customer=alice@example.com")
    shop.page.locator(LAUNCHER).click()
    expect(ask(shop.page, "Where is my order A1001?")).to_contain_text("Delivered")
    shop.assert_clean("the demo shop")

    # The console: its login page, then every page a supervisor has, live over /ws/console/.
    console = watched_page(browser, viewport={"width": 1440, "height": 900})
    page = console.page
    page.goto(site + "/console/login/")
    console.assert_clean("the console's login page")
    sign_in(page, site + "/console/login/", "supervisor", "supervisor-demo-pass", "button[type=submit]")
    expect(page).to_have_url(site + "/console/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    console.assert_clean("the console's queue")
    page.goto(site + "/console/conversations/")
    page.get_by_role("link", name="Open").first.click()
    expect(page.locator("#conversation")).to_have_attribute("data-live", "watching")
    expect(page.locator("#timeline .msg-assistant").first).to_contain_text("Delivered")
    console.assert_clean("a console conversation")
    page.goto(site + "/console/metrics/")
    expect(page.locator(".tile").first).to_be_visible()
    console.assert_clean("the console's metrics")

    # The admin runs under the same policy.
    admin = watched_page(browser)
    sign_in(admin.page, site + "/admin/login/", "admin", "admin-demo-pass", "input[type=submit]")
    expect(admin.page).to_have_url(site + "/admin/")
    admin.page.goto(site + "/admin/orders/order/")
    admin.page.locator("#action-toggle").check()  # the changelist's script runs
    expect(admin.page.locator(".action-counter")).to_contain_text("selected")
    admin.page.get_by_role("link", name="A1001").click()
    expect(admin.page.locator("h2", has_text="A1001")).to_be_visible()
    admin.assert_clean("the admin")
