"""The chat widget as the shop's page receives it: one script served by the app, one tag on the page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from widget.sessions import identity_signature

WIDGET_PATH = "/static/widget/concierge-widget.js"
SCRIPT_TAG = re.compile(r"<script\b[^>]*concierge-widget\.js[^>]*>", re.IGNORECASE)


def widget_tags(html: str) -> list[str]:
    return SCRIPT_TAG.findall(html)


def attribute(tag: str, name: str) -> str | None:
    match = re.search(rf'\s{name}="([^"]*)"', tag)
    return match.group(1) if match else None


def test_the_widget_script_is_served_as_javascript():
    response = Client().get(WIDGET_PATH)
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    # A classic script (the tags shops pasted have no type="module") that imports the widget's ES
    # modules from beside itself: tests/static/test_es_modules.py follows them.
    assert not re.search(rb"^\s*(import|export)\s", body, re.MULTILINE)
    assert b"import(" in body and b"document.currentScript" in body
    assert body.isascii()  # safe even where a proxy serves it without a charset


def test_the_widget_stylesheet_is_served_beside_it():
    response = Client().get("/static/widget/concierge-widget.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")


def test_the_widget_never_parses_markup():
    """Message text reaches the page only as text nodes: no HTML-parsing sink appears in the script."""
    body = b"".join(Client().get(WIDGET_PATH).streaming_content).decode()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in body


@pytest.mark.django_db
def test_an_anonymous_visitor_gets_one_unsigned_widget_tag(alice):
    html = Client().get("/").content.decode()
    tags = widget_tags(html)
    assert len(tags) == 1
    tag = tags[0]
    assert attribute(tag, "src") == f"http://testserver{WIDGET_PATH}"
    assert attribute(tag, "data-server") == "http://testserver"
    assert " defer" in tag
    assert attribute(tag, "data-email") is None and attribute(tag, "data-signature") is None


@pytest.mark.django_db
def test_a_selected_customer_gets_a_widget_tag_with_their_signed_email(alice, mallory):
    html = Client().get("/", {"customer": alice.email}).content.decode()
    tags = widget_tags(html)
    assert len(tags) == 1
    assert attribute(tags[0], "data-email") == alice.email
    assert attribute(tags[0], "data-signature") == identity_signature(alice.email)
    assert identity_signature(mallory.email) not in html


@pytest.mark.django_db
def test_an_unknown_customer_reads_as_anonymous(alice):
    html = Client().get("/", {"customer": "nobody@example.com"}).content.decode()
    tags = widget_tags(html)
    assert len(tags) == 1 and attribute(tags[0], "data-email") is None
