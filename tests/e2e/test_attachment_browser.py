"""An image attachment reaching the console, in two real browsers (headless Chromium) against a live daphne.

The customer attaches a photo in the widget (the paperclip's file picker), sees its preview, types
a line and sends; the assistant acknowledges the photo. An agent watching the conversation in the
console sees the photo arrive live, as a thumbnail served by the staff-only view, and again after
a reload. A file that is not a photo is refused in the widget with the customer's text kept.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from PIL import Image
from playwright.sync_api import Page, expect

from knowledge.models import File
from runtime.models import Message, Thread
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
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=30)


def photo_bytes() -> bytes:
    """A small PNG: a cracked-mug red with a white stripe, so the screenshot shows something."""
    image = Image.new("RGB", (160, 120), (200, 60, 50))
    for x in range(160):
        for y in range(55, 65):
            image.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def new_page(browser, errors: list[str], **options) -> Page:
    page = browser.new_context(**options).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(TIMEOUT_MS)
    return page


def sign_in_agent(page: Page, shop: str) -> None:
    page.goto(shop + "/console/login/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", "agent-demo-pass")
    page.click("button[type=submit]")
    expect(page).to_have_url(shop + "/console/")


def loaded(image) -> bool:
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


@pytest.fixture
def shop(live_server_url) -> str:
    seed_demo_shop()  # the demo logins (agent/agent-demo-pass); seeded before the browser's event loop runs
    return live_server_url


def test_an_image_attachment_reaches_the_console(shop, browser, tmp_path):
    errors: list[str] = []
    customer = new_page(browser, errors, viewport={"width": 1280, "height": 800})
    agent = new_page(browser, errors, viewport={"width": 1440, "height": 900})
    photo = tmp_path / "IMG_0042.jpg"  # a PNG named .jpg: judged by its bytes, it goes through
    photo.write_bytes(photo_bytes())
    not_a_photo = tmp_path / "label.png"
    not_a_photo.write_text("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")

    # The customer opens the chat and says hello: the conversation exists.
    customer.goto(shop + "/")
    customer.locator(f"{WIDGET} .launcher").click()
    customer.locator(f"{WIDGET} textarea").fill("Hello, my order A1001 arrived damaged.")
    customer.locator(f"{WIDGET} textarea").press("Enter")
    expect(customer.locator(ANSWERS)).to_have_count(1)
    thread = in_database(lambda: Thread.objects.filter(metadata__channel="widget").get())

    # The agent watches that conversation live.
    sign_in_agent(agent, shop)
    agent.goto(f"{shop}/console/conversations/{thread.public_id}/")
    expect(agent.locator("#conversation")).to_have_attribute("data-live", "watching")

    # A file named .png that is not a photo passes the browser's look at its name, not the server's:
    # the upload is refused, and the typed text and the file stay for the customer to change.
    picker = customer.locator(f"{WIDGET} input[type=file]")
    expect(picker).to_have_attribute("accept", "image/*")
    customer.locator(f"{WIDGET} textarea").fill("Here is the mug:")
    picker.set_input_files(str(not_a_photo))
    expect(customer.locator(f"{WIDGET} .tray img")).to_have_count(1)
    customer.locator(f"{WIDGET} textarea").press("Enter")
    expect(customer.locator(f"{WIDGET} .notice-text")).to_contain_text("not a photo")
    expect(customer.locator(f"{WIDGET} textarea")).to_have_value("Here is the mug:")
    expect(customer.locator(f"{WIDGET} .tray img")).to_have_count(1)
    customer.locator(f"{WIDGET} .tray-remove").click()
    expect(customer.locator(f"{WIDGET} .tray")).to_be_hidden()
    assert in_database(lambda: File.objects.count()) == 0

    # The photo: previewed in the tray, then sent with the text.
    picker.set_input_files(str(photo))
    expect(customer.locator(f"{WIDGET} .tray img")).to_have_count(1)
    customer.locator(f"{WIDGET} .tray").screenshot(path=str(tmp_path / "tray.png"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    customer.screenshot(path=str(SCREENSHOTS / "widget-photo-preview.png"))
    customer.locator(f"{WIDGET} textarea").press("Enter")
    expect(customer.locator(f"{WIDGET} textarea")).to_have_value("")
    expect(customer.locator(f"{WIDGET} .tray")).to_be_hidden()
    sent = customer.locator(f"{WIDGET} .msg.from-customer").last
    expect(sent).to_contain_text("Here is the mug:")
    expect(sent.locator("img.photo")).to_have_count(1)
    expect(customer.locator(ANSWERS)).to_have_count(2)
    expect(customer.locator(ANSWERS).last).to_contain_text("Thanks for the photo")

    # Stored as the customer's message: its text and an image_file part naming a cleaned PNG.
    message = in_database(lambda: Message.objects.filter(thread=thread, role="user").order_by("-created_at").first())
    assert message.text == "Here is the mug:"
    image_part = next(part for part in message.content if part["type"] == "image_file")
    file = in_database(lambda: File.objects.get(public_id=image_part["image_file"]["file_id"]))
    assert (file.content_type, file.thread_public_id, file.owner_id) == ("image/png", thread.public_id, None)

    # The agent sees it arrive live, a thumbnail from the staff-only view, linking to the full size.
    live = agent.locator("#timeline .msg-customer").filter(has_text="Here is the mug:").locator(".msg-images img")
    expect(live).to_have_count(1)
    expect(live).to_have_attribute("src", f"/console/images/{file.public_id}/")
    agent.wait_for_function("() => [...document.querySelectorAll('.msg-images img')].every(i => i.naturalWidth > 0)")
    full = agent.request.get(f"{shop}/console/images/{file.public_id}/")
    assert full.status == 200 and full.headers["content-type"] == "image/png"
    assert full.body().startswith(b"\x89PNG")

    # After a reload the page itself shows it.
    agent.reload()
    thumb = agent.locator("#timeline .msg-customer .msg-images img")
    expect(thumb).to_have_count(1)
    agent.wait_for_function("() => document.querySelector('.msg-images img').naturalWidth > 0")
    expect(thumb.locator("xpath=..")).to_have_attribute("href", re.compile(rf"/console/images/{file.public_id}/$"))
    agent.screenshot(path=str(SCREENSHOTS / "console-photo.png"))

    # The customer's reloaded widget reads its own photo back with its session.
    customer.reload()
    customer.locator(f"{WIDGET} .launcher").click()
    reloaded = customer.locator(f"{WIDGET} .msg.from-customer img.photo")
    expect(reloaded).to_have_count(1)
    customer.wait_for_function(
        "() => document.querySelector('concierge-chat').shadowRoot.querySelector('img.photo').naturalWidth > 0"
    )
    customer.screenshot(path=str(SCREENSHOTS / "widget-photo-sent.png"))

    # On a phone, the paperclip sits beside the box and the preview above it.
    phone = new_page(browser, errors, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(shop + "/")
    phone.locator(f"{WIDGET} .launcher").tap()
    phone.locator(f"{WIDGET} input[type=file]").set_input_files(str(photo))
    expect(phone.locator(f"{WIDGET} .tray img")).to_have_count(1)
    expect(phone.locator(f"{WIDGET} .attach")).to_be_visible()
    expect(phone.locator(f"{WIDGET} .send")).to_be_enabled()  # a photo alone may be sent
    phone.screenshot(path=str(SCREENSHOTS / "widget-photo-phone.png"))

    # Nobody else reads it: a visitor without the session, and a browser without a staff login.
    stranger = new_page(browser, errors)
    assert stranger.request.get(f"{shop}/console/images/{file.public_id}/", max_redirects=0).status == 302
    assert stranger.request.get(f"{shop}/chat/attachments/{file.public_id}/").status == 403
    assert not errors, f"JavaScript errors: {errors}"
