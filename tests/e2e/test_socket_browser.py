"""The shared socket client (static/shared/socket.js) in the console, in Chromium against a live daphne.

The console's /ws/console/ goes through Playwright to the real server, so the test can cut it: the
console says it is reconnecting, reconnects, and watches its conversation again; closed with 4001
(signed out) it stops and says so. (The widget's side is tests/e2e/test_widget_browser.py's
scripted server: a drop before an ack, a reconnect mid-answer.)
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.e2e.conftest import seed_demo_shop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 30_000


@pytest.fixture
def site(live_server_url) -> str:
    seed_demo_shop()
    return live_server_url


def test_the_console_reconnects_watches_again_and_stops_when_signed_out(site, browser):
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sockets: list[WebSocketRoute] = []
    sent: list[dict] = []

    def through_to_the_server(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda message: (sent.append(json.loads(message)), server.send(message)))
        server.on_message(lambda message: ws.send(message))
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/ws/console/$"), through_to_the_server)
    # A visitor's session starts a conversation, as the widget's does.
    session = page.request.post(site + "/chat/session/", data="{}", headers={"Content-Type": "text/plain"})
    assert session.ok, session.text()
    thread_id = session.json()["thread_id"]
    page.goto(site + "/console/login/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", "supervisor-demo-pass")
    page.click("button[type=submit]")
    expect(page).to_have_url(site + "/console/")
    page.goto(f"{site}/console/conversations/{thread_id}/")
    live = page.locator("#live-status")
    expect(live).to_have_attribute("data-state", "live")
    expect(page.locator("#conversation")).to_have_attribute("data-live", "watching")
    assert [m for m in sent if m["type"] == "watch"] == [{"type": "watch", "thread_id": thread_id}]
    opened = len(sockets)  # the queue page's socket, after signing in, and this page's

    sockets[-1].close(code=1011)
    expect(live).to_have_text("reconnecting…")
    expect(live).to_have_attribute("data-state", "offline")
    expect(live).to_have_attribute("data-state", "live")  # within a second or so: the first backoff
    assert len(sockets) == opened + 1
    watches = lambda: [m for m in sent if m["type"] == "watch"]  # noqa: E731
    for _ in range(50):  # the frame goes right after the new socket's hello
        if len(watches()) == 2:
            break
        page.wait_for_timeout(100)
    assert watches() == [{"type": "watch", "thread_id": thread_id}] * 2

    sockets[-1].close(code=4001)  # what the server sends a socket whose session has ended
    expect(live).to_have_text("signed out")
    page.wait_for_timeout(2500)  # longer than the first backoffs
    assert len(sockets) == opened + 1, "the console kept reconnecting after being signed out"
    assert not errors, f"JavaScript errors: {errors}"
