"""/api/docs/ in Chromium on a machine without internet: Swagger UI's files come from Concierge's own
static files (drf-spectacular-sidecar), so the page draws the API's operations with every request to
another origin refused."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.slow


def test_the_api_docs_draw_the_operations_with_no_other_origin_reachable(live_server_url, browser):
    own = urlsplit(live_server_url).netloc
    elsewhere: list[str] = []

    def offline(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    page = browser.new_page()
    page.route("**/*", offline)
    page.goto(f"{live_server_url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Concierge API", timeout=30_000)
    expect(page.locator(".opblock-summary-path", has_text="/v1/assistants").first).to_be_visible()
    assert elsewhere == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
