"""The chat widget in a real browser (headless Chromium through Playwright).

Against a live daphne (tests/e2e/conftest.py), what a customer does: open the demo shop, open the
chat, ask about an order, read the streamed answer, reload and find the conversation still there.
The screenshots of the open widget (desktop and phone) are saved to docs/screenshots/ for review.

Against a scripted server (Playwright answers the session request and plays the websocket), what is
hard to provoke from a real one: a drop before the ack, a reconnect mid-answer, refusals, hostile
markdown.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, Route, WebSocketRoute, expect

from orders.models import Order
from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.slow

ANSWER_TIMEOUT_MS = 30_000

WIDGET = "concierge-chat"
LAUNCHER = f"{WIDGET} .launcher"
PANEL = f"{WIDGET} .panel"
INPUT = f"{WIDGET} textarea"
CUSTOMER_MESSAGES = f"{WIDGET} .msg.from-customer"
# A streaming answer is aria-hidden until complete; the finished one replaces it.
ANSWERS = f"{WIDGET} .msg.from-assistant:not([aria-hidden])"


@dataclass(frozen=True)
class Shop:
    url: str
    a1001_status: str  # what the database says, as the customer should read it


@pytest.fixture
def shop(live_server_url):
    """The live server (tests/e2e/conftest.py) with the demo data, as `make demo` serves it.

    The facts are read here, before the browser starts: Playwright's sync API runs an event loop
    in this thread, and Django refuses database queries from a thread with a running loop.
    """
    call_command("seed_demo")
    return Shop(url=live_server_url, a1001_status=Order.objects.get(number="A1001").get_status_display())


@pytest.fixture
def page(shop, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_chat(page: Page) -> None:
    page.locator(LAUNCHER).click()
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-expanded", "true")
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.locator(INPUT)).to_be_focused()


def ask(page: Page, question: str) -> None:
    answers_before = page.locator(ANSWERS).count()
    page.locator(INPUT).fill(question)
    page.locator(INPUT).press("Enter")
    expect(page.locator(INPUT)).to_have_value("")
    expect(page.locator(ANSWERS)).to_have_count(answers_before + 1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(f"{WIDGET} .typing")).to_be_hidden(timeout=ANSWER_TIMEOUT_MS)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(5, 5)  # no hover state on the launcher
    page.wait_for_timeout(300)  # the panel's opening animation
    page.screenshot(path=str(SCREENSHOTS / name))


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_visitor_asks_about_an_order_and_the_chat_survives_a_reload(shop, page):
    question = "Where is my order A1001? My email is alice@example.com"
    status = shop.a1001_status
    assert status == "Delivered"

    page.goto(shop.url + "/")
    launcher = page.get_by_role("button", name="Chat with us")
    expect(launcher).to_have_attribute("aria-controls", "cw-panel")
    open_chat(page)
    expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()
    expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")
    ask(page, question)

    expect(page.locator(CUSTOMER_MESSAGES)).to_have_count(1)
    expect(page.locator(CUSTOMER_MESSAGES)).to_contain_text(question)
    answer = page.locator(ANSWERS).last
    expect(answer).to_contain_text("A1001")
    expect(answer.locator("strong", has_text=re.compile(f"^{status}$"))).to_have_count(1)  # markdown bold
    expect(page.locator(f"{WIDGET} .activity")).to_contain_text("Looking up order A1001")
    screenshot(page, "widget-desktop.png")

    page.locator(INPUT).press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(LAUNCHER)).to_be_focused()
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-expanded", "false")

    page.reload()
    open_chat(page)
    expect(page.locator(CUSTOMER_MESSAGES)).to_have_count(1)
    expect(page.locator(CUSTOMER_MESSAGES)).to_contain_text(question)
    expect(page.locator(ANSWERS)).to_have_count(1)
    expect(page.locator(ANSWERS)).to_contain_text(status)


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_customer_asks_without_giving_an_email(shop, page):
    page.goto(shop.url + "/?customer=alice@example.com")
    open_chat(page)
    expect(page.locator(f"{WIDGET} .status")).to_have_text(re.compile(r"Signed in as Alice"))

    ask(page, "List my orders")
    expect(page.locator(ANSWERS).last).to_contain_text("A1001")
    expect(page.locator(f"{ANSWERS} li").first).to_be_visible()  # the orders come as a markdown list

    ask(page, "What's the status of order A1001?")
    expect(page.locator(ANSWERS).last).to_contain_text(shop.a1001_status)

    page.set_viewport_size({"width": 390, "height": 844})
    panel = page.locator(PANEL).bounding_box()
    assert panel is not None and (panel["width"], panel["height"]) == (390, 844)  # full screen on a phone
    expect(page.locator(LAUNCHER)).to_be_hidden()
    screenshot(page, "widget-phone.png")


@pytest.mark.django_db(transaction=True)
def test_markup_typed_by_the_customer_is_shown_as_text(shop, page):
    page.goto(shop.url + "/")
    open_chat(page)
    typed = 'hello <img src=x onerror="window.pwned=1"> <b>bold?</b>'
    ask(page, typed)
    bubble = page.locator(f"{CUSTOMER_MESSAGES} .bubble")
    expect(bubble).to_have_text(typed)
    assert bubble.evaluate("node => node.children.length") == 0
    assert page.evaluate("window.pwned") is None


# --- against a scripted server -------------------------------------------------------------------

SHOP = "http://shop.test"
STATIC = Path(__file__).resolve().parents[2] / "static"
# The shop's own CSS, as unfriendly as it gets: none of it may reach the widget.
HOSTILE_PAGE = """<!doctype html><html><head><style>
  body { font: 30px/3 serif; color: red; text-align: center; }
  div, p, button, section { all: unset; color: red !important; }
</style></head><body><p>A shop</p>
<script src="/static/widget/concierge-widget.js" data-accent="#ffd400" data-title="Help" defer></script>
</body></html>"""
HOSTILE_ANSWER = "\n".join(
    [
        "Here is **bold**, *italic* and `code`.",
        '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>',
        "A [good link](https://example.com/help) and [a bad one](javascript:window.pwned=3).",
        "",
        "- first",
        "- second",
        "",
        "1. one",
        "2. two",
    ]
)


def assistant(id: str, text: str) -> dict:
    return {
        "id": id,
        "role": "assistant",
        "author": "assistant",
        "author_name": "",
        "text": text,
        "status": "completed",
        "created_at": 1764000000,
    }


def customer(id: str, text: str) -> dict:
    return {**assistant(id, text), "role": "user", "author": "customer"}


class ScriptedServer:
    """The server side of POST /chat/session/ and /ws/chat/, played by the test."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.session_bodies: list[dict] = []
        self.sockets: list[WebSocketRoute] = []
        self.received: list[dict] = []
        self.hellos: list[dict] = []  # what each new socket is greeted with, in order
        page.route(f"{SHOP}/", lambda route: route.fulfill(body=HOSTILE_PAGE, content_type="text/html"))
        # The widget's entry script, its ES modules (static/widget/ and static/shared/) and its stylesheet.
        page.route(f"{SHOP}/static/**", self._static)
        page.route(f"{SHOP}/chat/session/", self._session)
        page.route_web_socket(re.compile(r".*/ws/chat/.*"), self._socket)

    def _static(self, route: Route) -> None:
        path = (STATIC / route.request.url.removeprefix(f"{SHOP}/static/")).resolve()
        if not path.is_relative_to(STATIC) or not path.is_file():
            route.fulfill(status=404)
            return
        route.fulfill(path=path)

    def _session(self, route: Route) -> None:
        # A CORS-safelisted type: a shop on another origin must not need a preflight.
        assert route.request.headers["content-type"].startswith("text/plain")
        self.session_bodies.append(json.loads(route.request.post_data))
        n = len(self.session_bodies)
        route.fulfill(json={"session": "token-1", "ticket": f"ticket-{n}", "thread_id": "thread_1", "customer": None})

    def _socket(self, ws: WebSocketRoute) -> None:
        assert ws.url.endswith(f"ticket=ticket-{len(self.session_bodies)}")  # a fresh ticket per socket
        self.sockets.append(ws)
        ws.on_message(lambda message: self.received.append(json.loads(message)))
        ws.send(json.dumps(self.hellos.pop(0)))

    def send(self, **event) -> None:
        self.sockets[-1].send(json.dumps(event))

    def wait_for(self, predicate, what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.page.wait_for_timeout(50)

    def messages_received(self) -> list[dict]:
        return [m for m in self.received if m["type"] == "message"]


def hello(messages: list[dict], *, seq: int, streaming: dict | None = None, busy: bool = False) -> dict:
    return {
        "type": "hello",
        "thread_id": "thread_1",
        "mode": "assistant",
        "customer": None,
        "messages": messages,
        "streaming": streaming,
        "busy": busy,
        "seq": seq,
    }


@pytest.fixture
def scripted(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield ScriptedServer(page)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_answers_render_safe_markdown_and_the_shop_css_stays_out(scripted):
    page = scripted.page
    scripted.hellos.append(hello([assistant("msg_1", HOSTILE_ANSWER)], seq=1))
    page.goto(SHOP + "/")
    open_chat(page)

    bubble = page.locator(f"{ANSWERS} .bubble")
    expect(bubble.locator("strong")).to_have_text("bold")
    expect(bubble.locator("em")).to_have_text("italic")
    expect(bubble.locator("code")).to_have_text("code")
    expect(bubble).to_contain_text('<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>')
    links = bubble.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/help")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(bubble).to_contain_text("and a bad one.")
    expect(bubble.locator("ul > li")).to_have_text(["first", "second"])
    expect(bubble.locator("ol > li")).to_have_text(["one", "two"])
    assert (
        page.evaluate("document.querySelector('concierge-chat').shadowRoot.querySelectorAll('img, script').length") == 0
    )
    assert page.evaluate("window.pwned") is None

    launcher = page.locator(LAUNCHER)
    assert launcher.evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(255, 212, 0)"  # data-accent
    assert launcher.evaluate("node => getComputedStyle(node).color") == "rgb(17, 24, 39)"  # dark text on yellow
    assert bubble.evaluate("node => getComputedStyle(node).fontSize") == "15px"
    assert bubble.evaluate("node => getComputedStyle(node).color") != "rgb(255, 0, 0)"
    expect(page.locator(f"{WIDGET} .title")).to_have_text("Help")


def test_a_message_dropped_before_its_ack_is_resent_once_after_reconnecting(scripted):
    page = scripted.page
    scripted.hellos.append(hello([], seq=0))
    page.goto(SHOP + "/")
    open_chat(page)
    page.locator(INPUT).fill("Where is A1001?")
    page.locator(INPUT).press("Enter")
    scripted.wait_for(lambda: scripted.messages_received(), "the message")
    first = scripted.messages_received()[0]
    assert first["text"] == "Where is A1001?"

    # Stored, but the socket drops before the ack; the answer had started streaming.
    scripted.hellos.append(
        hello([customer("msg_2", "Where is A1001?")], seq=5, streaming={"id": "msg_3", "text": "Order **A10", "seq": 5})
    )
    scripted.sockets[-1].close(code=1011)
    expect(page.locator(f"{WIDGET} .status")).to_have_text("Reconnecting…")
    expect(page.locator(f"{WIDGET} .banner[data-kind=connection]")).to_be_visible()

    scripted.wait_for(lambda: len(scripted.messages_received()) == 2, "the resend")
    resent = scripted.messages_received()[1]
    assert resent == first  # same text, same client_id: the server stores it once
    assert scripted.session_bodies[1] == {"session": "token-1", "language": "en"}  # the conversation continues
    scripted.send(type="ack", client_id=first["client_id"], message=customer("msg_2", "Where is A1001?"))
    scripted.send(type="delta", id="msg_3", text="01** is *Delivered*.", seq=6)
    scripted.send(type="message", message=assistant("msg_3", "Order **A1001** is *Delivered*."), seq=7)
    scripted.send(type="run", state="done", seq=8)

    expect(page.locator(f"{WIDGET} .status")).to_have_text("We usually answer right away")
    expect(page.locator(f"{WIDGET} .banner[data-kind=connection]")).to_be_hidden()
    expect(page.locator(CUSTOMER_MESSAGES)).to_have_count(1)
    expect(page.locator(ANSWERS)).to_have_count(1)
    expect(page.locator(ANSWERS)).to_contain_text("Order A1001 is Delivered.")
    expect(page.locator(f"{ANSWERS} strong")).to_have_text("A1001")


def test_a_refused_message_goes_back_into_the_box(scripted):
    page = scripted.page
    scripted.hellos.append(hello([], seq=0))
    page.goto(SHOP + "/")
    open_chat(page)
    page.locator(INPUT).fill("A second question")
    page.locator(INPUT).press("Shift+Enter")  # a new line, not a send
    page.locator(INPUT).press_sequentially("with two lines")
    page.locator(INPUT).press("Enter")
    scripted.wait_for(lambda: scripted.messages_received(), "the message")
    assert scripted.messages_received()[0]["text"] == "A second question\nwith two lines"
    client_id = scripted.messages_received()[0]["client_id"]
    scripted.send(
        type="error", code="busy", message="Please wait for the answer to your last message.", client_id=client_id
    )

    expect(page.locator(f"{WIDGET} .notice")).to_contain_text("Please wait for the answer")
    expect(page.locator(INPUT)).to_have_value("A second question\nwith two lines")
    expect(page.locator(CUSTOMER_MESSAGES)).to_have_count(0)


def test_answers_arriving_while_closed_raise_the_badge_and_agents_are_announced(scripted):
    page = scripted.page
    scripted.hellos.append(hello([], seq=0))
    page.goto(SHOP + "/")
    open_chat(page)
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()

    scripted.send(type="handoff", state="waiting", message="A person from our team will join shortly.", seq=1)
    scripted.send(type="agent_joined", name="Sam", seq=2)
    agent_reply = {**assistant("msg_9", "Hi, I'm **Sam**."), "author": "agent", "author_name": "Sam"}
    scripted.send(type="message", message=agent_reply, seq=3)
    badge = page.locator(f"{WIDGET} .badge")
    expect(badge).to_have_text("1")
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-label", "Help (1 unread message)")

    page.locator(LAUNCHER).click()
    expect(badge).to_be_hidden()
    expect(page.locator(f"{WIDGET} .banner[role=status]")).to_have_text("Sam from our team has joined the chat.")
    expect(page.locator(f"{WIDGET} .msg.from-agent .meta")).to_contain_text("Sam")
    expect(page.locator(f"{WIDGET} .msg.from-agent strong")).to_have_text("Sam")


def test_an_ended_conversation_closes_the_box_until_a_new_chat_starts(scripted):
    page = scripted.page
    scripted.hellos.append(hello([customer("msg_1", "Thanks, that's all.")], seq=1))
    page.goto(SHOP + "/")
    open_chat(page)
    page.locator(INPUT).fill("one more thing")

    scripted.send(type="conversation_mode", mode="closed", seq=2)
    banner = page.locator(f"{WIDGET} .banner[role=status]")
    expect(banner).to_contain_text("This conversation has ended.")
    expect(page.locator(INPUT)).to_be_disabled()
    expect(page.locator(INPUT)).to_have_attribute("placeholder", "This conversation has ended")
    expect(page.locator(INPUT)).to_have_value("one more thing")  # kept for the next chat
    expect(page.locator(f"{WIDGET} .send")).to_be_disabled()

    scripted.hellos.append(hello([], seq=0))
    banner.get_by_role("button", name="Start a new chat").click()
    scripted.wait_for(lambda: len(scripted.sockets) == 2, "the new chat's socket")
    expect(page.locator(INPUT)).to_be_enabled()
    expect(page.locator(f"{WIDGET} .send")).to_be_enabled()
    expect(banner).to_be_hidden()
