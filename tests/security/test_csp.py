"""The Content-Security-Policy of our pages, and pages that can live under it.

A policy is only as good as the markup under it: each page is parsed for what the policy blocks (an
inline <script> that is not a JSON data block, an on*= handler, a style= attribute, an inline
<style>), so a template change that would need 'unsafe-inline' fails here, not silently in a
customer's browser. tests/e2e/test_widget_embedded_browser.py runs the pages in Chromium.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from config.api_docs import SWAGGER_UI_INLINE_STYLE_HASH
from knowledge import services
from knowledge.help_centre import ensure_help_centre
from knowledge.models import UnansweredQuestion
from tests.agents import conftest as console

# The console's fixtures (a supervisor, an escalated conversation), shared with tests/agents.
assistant, thread, supervisor, escalated = console.assistant, console.thread, console.supervisor, console.escalated

DATA_BLOCK_TYPES = ("application/json",)


@dataclass
class Markup:
    """What a page carries that a strict policy would block."""

    inline_scripts: list[str] = field(default_factory=list)
    inline_styles: list[str] = field(default_factory=list)
    style_attributes: list[str] = field(default_factory=list)
    event_handlers: list[str] = field(default_factory=list)
    script_sources: list[str] = field(default_factory=list)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = Markup()
        self._inside: str | None = None  # "script" or "style" while inside an inline one
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "style" in values:
            self.found.style_attributes.append(f"<{tag} style={values['style']!r}>")
        self.found.event_handlers += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            if values.get("src"):
                self.found.script_sources.append(values["src"] or "")
            elif (values.get("type") or "").lower() not in DATA_BLOCK_TYPES:
                self._inside, self._text = "script", []
        elif tag == "style":
            self._inside, self._text = "style", []

    def handle_data(self, data: str) -> None:
        if self._inside:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            kept = self.found.inline_scripts if tag == "script" else self.found.inline_styles
            kept.append("".join(self._text))
            self._inside = None


def scan(html: str) -> Markup:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.found


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


def assert_strict(response) -> Markup:
    """The page has the site's strict policy, and nothing in it that the policy would block."""
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    markup = scan(response.content.decode())
    assert markup.inline_scripts == []
    assert markup.event_handlers == []
    assert markup.style_attributes == []
    return markup


def sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def test_the_policy_allows_only_this_server_and_no_framing(client, db):
    policy = policy_of(client.get("/console/login/"))
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],  # same host's ws:// and wss:// too (CSP 3)
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


def test_the_shop_page_with_its_widget_tag_runs_under_the_strict_policy(client, settings, alice_order):
    settings.DEMO_SHOP = True
    response = client.get("/?customer=alice@example.com")
    markup = assert_strict(response)
    assert "A1001" in response.content.decode()  # the order list, the page's fullest state
    assert markup.inline_styles == []
    assert any(src.endswith("/static/widget/concierge-widget.js") for src in markup.script_sources)


def test_the_console_login_page_runs_under_the_strict_policy(client, db):
    markup = assert_strict(client.get("/console/login/"))
    assert markup.inline_styles == []


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/conversations/",
        "/console/metrics/",
        "conversation",
        "/console/knowledge/",
        "/console/knowledge/?q=return+policy",
    ],
)
def test_signed_in_console_pages_run_under_the_strict_policy(path, supervisor, escalated):
    if path == "conversation":
        path = console.console_url(escalated.thread)
    response = console.signed_in(supervisor).get(path)
    markup = assert_strict(response)
    assert markup.inline_styles == []
    assert any(src.endswith("/static/console/console.js") for src in markup.script_sources)
    assert 'id="console-state" type="application/json"' in response.content.decode()  # data, not script


def test_the_knowledge_page_in_its_fullest_state_runs_under_the_strict_policy(
    supervisor, settings, tmp_path, django_capture_on_commit_callbacks
):
    """Files read and failed (an error shown), passages found, unanswered questions, the upload form."""
    settings.MEDIA_ROOT = tmp_path
    store, _ = ensure_help_centre()
    with django_capture_on_commit_callbacks(execute=True):
        for name, data in [("returns.md", b"# Returns\n\nReturn within 30 days."), ("broken.pdf", b"%PDF-1.7 x")]:
            services.help_file_add(store, upload=SimpleUploadedFile(name, data))
    UnansweredQuestion.objects.create(question="Gift wrap?", normalized="gift wrap", reason="nothing_found")
    response = console.signed_in(supervisor).get("/console/knowledge/?q=returns")
    markup = assert_strict(response)
    html = response.content.decode()
    assert all(part in html for part in ['id="passages"', "damaged", "Gift wrap?", 'id="upload-form"'])
    assert markup.inline_styles == []


@pytest.mark.parametrize(
    "path", ["/admin/login/", "/admin/", "/admin/orders/order/", "order", "/admin/knowledge/vectorstorefile/"]
)
def test_the_admin_runs_under_the_strict_policy(path, alice_order):
    client = Client()
    if path != "/admin/login/":
        client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pass-for-tests"))
    if path == "order":
        path = f"/admin/orders/order/{alice_order.pk}/change/"
    assert_strict(client.get(path))


def test_the_api_docs_run_without_inline_script_and_allow_only_their_own_inline_style(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = policy_of(response)
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    markup = scan(response.content.decode())
    assert markup.inline_scripts == []
    assert markup.event_handlers == []
    assert "/api/docs/?script=" in markup.script_sources  # the start-up script, served as a file
    # drf-spectacular's template has one small <style>; an upgrade that changes it must update the hash.
    assert [sha256_source(style) for style in markup.inline_styles] == [SWAGGER_UI_INLINE_STYLE_HASH]
    assert SWAGGER_UI_INLINE_STYLE_HASH in policy["style-src"]
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content
