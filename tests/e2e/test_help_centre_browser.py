"""The help centre in a real browser (headless Chromium), against a live daphne running the offline
model: a customer asks the widget about the returns policy, the answer quotes the help article with
a numbered source link and a Sources list, and the link opens the article at /help/returns/. The
console shows the same sources on the conversation, and its Knowledge page lists the articles and
finds the passage for the same question.

Screenshots (docs/screenshots/ with UPDATE_SCREENSHOTS=1): help-widget-sources.png,
help-console-sources.png, console-knowledge.png.
"""

from __future__ import annotations

import os
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from playwright.sync_api import Page, Route, expect

from knowledge import services
from knowledge.models import File, VectorStore, VectorStoreFile
from tests.e2e.conftest import SCREENSHOTS, seed_demo_shop

pytestmark = pytest.mark.slow

TIMEOUT_MS = 30_000
WIDGET = "concierge-chat"
ANSWERS = f"{WIDGET} .msg.from-assistant:not([aria-hidden])"
QUESTION = "What is your return policy?"


@pytest.fixture
def help_shop(live_server_url) -> tuple[str, str]:
    """The demo shop with its help centre seeded and read; the returns article's file id.

    Read here, before the browser starts: Playwright's sync API runs an event loop in this thread,
    and Django refuses database queries from a thread with a running loop."""
    seed_demo_shop()
    with open(os.devnull, "w") as quiet:
        call_command("seed_help_centre", force=True, stdout=quiet)
    return live_server_url, File.objects.get(help_slug="returns").public_id


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


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(5, 5)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / name))


def sign_in(page: Page, site: str, username: str, password: str) -> None:
    page.goto(site + "/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(site + "/console/")


@pytest.mark.django_db(transaction=True)
def test_an_answer_cites_the_help_article_and_its_source_link_opens_it(help_shop, new_page):
    site, returns_id = help_shop
    source_url = f"{site}/help/files/{returns_id}/"
    customer = new_page(viewport={"width": 1280, "height": 860})
    customer.goto(site + "/")
    customer.locator(f"{WIDGET} .launcher").click()
    customer.locator(f"{WIDGET} textarea").fill(QUESTION)
    customer.locator(f"{WIDGET} textarea").press("Enter")
    expect(customer.locator(ANSWERS)).to_have_count(1, timeout=TIMEOUT_MS)  # a search, then the answer
    answer = customer.locator(ANSWERS).last

    # The marker became a numbered link to the article, and the Sources list names it once.
    cite = answer.locator(".bubble sup.cite a")
    expect(cite.first).to_have_text("[1]")
    expect(cite.first).to_have_attribute("href", source_url)
    expect(cite.first).to_have_attribute("target", "_blank")
    expect(answer.locator(".bubble")).not_to_contain_text("\u3010")  # no raw marker left
    sources = answer.locator(".bubble .sources li a")
    expect(sources).to_have_count(1)
    expect(sources).to_have_text("Returns")
    expect(sources).to_have_attribute("href", source_url)
    expect(customer.locator(f"{WIDGET} .activity")).to_contain_text("Searching our help articles")
    screenshot(customer, "help-widget-sources.png")

    # Following the link opens the article in a new tab.
    with customer.context.expect_page() as opened:
        cite.first.click()
    article = opened.value
    article.wait_for_load_state()
    expect(article).to_have_url(f"{site}/help/returns/")
    expect(article.locator("article.article h1")).to_contain_text("Returns")
    expect(article.locator("article.article")).to_contain_text("30 days")

    # The console shows the sources the answer used, and the search that found them
    # (test_markdown_browser.py checks both surfaces draw it to the same DOM).
    agent = new_page(viewport={"width": 1440, "height": 900})
    sign_in(agent, site, "supervisor", "supervisor-demo-pass")
    agent.goto(site + "/console/conversations/")
    agent.locator("table.list a.button", has_text="Open").first.click()
    in_console = agent.locator("#timeline .msg-assistant .msg-text").last
    expect(in_console.locator("sup.cite a").first).to_have_attribute("href", source_url)
    expect(in_console.locator(".sources li a")).to_have_text("Returns")
    expect(agent.locator("#timeline .tool .tool-name", has_text="file_search")).to_have_count(1)
    screenshot(agent, "help-console-sources.png")

    # The Knowledge page: the seeded articles, read, and the passage the assistant quoted.
    agent.goto(site + "/console/knowledge/")
    expect(agent.locator("#files tr[data-file]")).to_have_count(5)
    expect(agent.locator('#files tr[data-status="completed"]')).to_have_count(5)
    agent.fill("#try-q", QUESTION)
    agent.locator("form.try button").click()
    expect(agent).to_have_url(re.compile(r"/console/knowledge/\?q=What"))
    best = agent.locator("#passages .passage").first
    expect(best).to_contain_text("returns.md")
    expect(best.locator(".passage-text")).to_contain_text("30 days")
    screenshot(agent, "console-knowledge.png")


@pytest.mark.django_db(transaction=True)
def test_a_question_the_articles_do_not_cover_is_listed_for_the_staff(help_shop, new_page):
    site, _returns_id = help_shop
    customer = new_page(viewport={"width": 1280, "height": 860})
    customer.goto(site + "/")
    customer.locator(f"{WIDGET} .launcher").click()
    customer.locator(f"{WIDGET} textarea").fill("Do you offer a student discount?")
    customer.locator(f"{WIDGET} textarea").press("Enter")
    expect(customer.locator(ANSWERS)).to_have_count(1, timeout=TIMEOUT_MS)
    expect(customer.locator(f"{ANSWERS} .sources")).to_have_count(0)  # nothing cited

    agent = new_page(viewport={"width": 1440, "height": 900})
    sign_in(agent, site, "agent", "agent-demo-pass")
    agent.goto(site + "/console/knowledge/")
    row = agent.locator("#unanswered tbody tr").first
    expect(row).to_contain_text("student discount")  # the words the assistant searched for
    expect(row).to_contain_text("Nothing in the documents")
    expect(agent.locator("#upload-form")).to_have_count(0)  # an agent: no upload, no remove
    expect(agent.locator("#files form")).to_have_count(0)
    agent.locator("#unanswered").scroll_into_view_if_needed()
    screenshot(agent, "console-knowledge-unanswered.png")
    row.get_by_role("link", name="Example conversation").click()
    expect(agent.locator("#timeline .msg-customer")).to_contain_text("Do you offer a student discount?")


@pytest.mark.django_db(transaction=True)
def test_a_supervisor_uploads_and_removes_files_on_the_knowledge_page(help_shop, new_page, tmp_path):
    site, _returns_id = help_shop
    article = tmp_path / "gift-wrapping.md"
    article.write_text("# Gift wrapping\n\nWe gift wrap any order for $5: tick 'gift wrap' at checkout.\n")
    broken = tmp_path / "manual.pdf"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))

    page = new_page(viewport={"width": 1440, "height": 1100})
    sign_in(page, site, "supervisor", "supervisor-demo-pass")
    page.goto(site + "/console/knowledge/")
    for path, publish in ((article, True), (broken, False)):
        page.set_input_files("#upload-file", str(path))
        page.locator("#upload-publish").set_checked(publish)
        page.locator("#upload-form button[type=submit]").click()
        expect(page.locator(".flash li").first).to_contain_text(f"{path.name} is uploaded")

    # Read in the background: the rows settle without a reload (console.js polls while any is in progress).
    wrapped = page.locator("#files tr", has_text="gift-wrapping.md")
    expect(wrapped.locator('[data-field="status"]')).to_have_text("Completed")
    expect(wrapped.get_by_role("link", name="Gift wrapping")).to_have_attribute("href", "/help/gift-wrapping/")
    failed = page.locator("#files tr", has_text="manual.pdf")
    expect(failed.locator('[data-field="status"]')).to_have_text("Failed")
    expect(failed.locator('[data-field="error"]')).to_contain_text("This file (a PNG image) can't be searched.")
    expect(page.locator("#reading")).to_be_hidden()

    page.fill("#try-q", "Can you gift wrap my order?")
    page.locator("form.try button").click()
    expect(page.locator("#passages .passage").first).to_contain_text("gift-wrapping.md")
    screenshot(page, "console-knowledge-upload.png")

    page.once("dialog", lambda dialog: dialog.accept())  # "Remove manual.pdf? ..."
    page.locator("#files tr", has_text="manual.pdf").get_by_role("button", name="Remove").click()
    expect(page.locator(".flash li").first).to_have_text("manual.pdf is removed.")
    expect(page.locator("#files tr", has_text="manual.pdf")).to_have_count(0)


@pytest.fixture
def waiting_file(help_shop) -> str:
    """A help-centre file waiting for a worker (never handed to one here); its file id. Made before
    the browser starts, as the help_shop fixture's data."""
    store = VectorStore.objects.get(metadata__help_centre="true")
    upload = SimpleUploadedFile("faq.md", b"# FAQ\n\nAnswers.")
    file = services.file_create(owner=None, upload=upload, purpose="assistants")
    VectorStoreFile.objects.create(vector_store=store, file=file)
    return file.public_id


@pytest.mark.django_db(transaction=True)
def test_the_knowledge_page_follows_a_file_being_read_without_a_reload(help_shop, waiting_file, new_page):
    site, _returns_id = help_shop
    file_id = waiting_file
    # The server's answers to the page's poll: as they are the first time, then as if a worker had
    # read the file meanwhile.
    polls: list[str] = []

    def answer(route: Route) -> None:
        body = route.fetch().json()
        polls.append(next(f["status"] for f in body["files"] if f["file_id"] == file_id))
        if len(polls) > 1:
            for f in body["files"]:
                if f["file_id"] == file_id:
                    f.update(status="completed", status_label="Completed", chunks=1)
        route.fulfill(json=body)

    page = new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, site, "agent", "agent-demo-pass")
    page.route("**/console/knowledge/files/", answer)
    page.goto(site + "/console/knowledge/")
    row = page.locator(f'#files tr[data-file="{file_id}"]')
    expect(row.locator('[data-field="status"]')).to_have_text("In progress")
    expect(page.locator("#reading-text")).to_have_text("Reading 1 file…")
    expect(row.locator('[data-field="status"]')).to_have_text("Completed", timeout=15_000)
    expect(row.locator('[data-field="chunks"]')).to_have_text("1")
    expect(page.locator("#reading")).to_be_hidden()
    assert polls[:2] == ["in_progress", "in_progress"]
    page.wait_for_timeout(2500)
    assert len(polls) == 2  # nothing left in progress: it stopped asking
