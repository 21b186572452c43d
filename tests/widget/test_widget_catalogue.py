"""GET /chat/i18n/: the widget's own strings in the customer's language, for any shop's page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.test import Client

WIDGET = Path(__file__).resolve().parent.parent.parent / "static" / "widget"
# t("English text") in the widget's modules; their non-ASCII characters are \u escapes.
MARKED = re.compile(r'\bt\(\s*"((?:[^"\\]|\\.)*)"')


def catalogue(languages: str, **headers) -> dict:
    response = Client().get("/chat/i18n/", {"languages": languages}, **headers)
    assert response.status_code == 200, response.content
    return response.json()


def widget_strings() -> set[str]:
    """Every string the widget marks for translation, as JavaScript reads it."""
    found = set()
    for module in WIDGET.glob("*.js"):
        for literal in MARKED.findall(module.read_text(encoding="ascii")):
            found.add(json.loads(f'"{literal}"'))
    return found


def test_a_german_browser_gets_the_german_strings():
    got = catalogue("de-DE,de,en-US")

    assert got["language"] == "de"
    assert got["catalog"]["Chat with us"] == "Chatten Sie mit uns"
    assert got["catalog"]["Type your message…"] == "Ihre Nachricht …"


def test_the_first_language_it_speaks_wins_and_english_is_the_fallback():
    assert catalogue("it-IT,fr-CA,de")["language"] == "fr"
    english = catalogue("it,pt-BR")
    assert english == {"language": "en", "catalog": {}}
    assert catalogue("")["language"] == "en"


@pytest.mark.parametrize("language", ["de", "fr", "es"])
def test_every_string_the_widget_shows_is_translated(language):
    wanted = widget_strings()
    assert len(wanted) > 30  # the extraction found the widget's strings

    translated = catalogue(language)["catalog"]

    missing = sorted(wanted - translated.keys())
    assert not missing, f"not in locale/{language}/LC_MESSAGES/djangojs.po: {missing}"
    for text in wanted:
        # Placeholders survive translation: the widget fills {name} with text.
        assert set(re.findall(r"\{\w+\}", translated[text])) == set(re.findall(r"\{\w+\}", text)), text


def test_any_shops_page_may_read_it_and_caches_may_keep_it():
    response = Client().get("/chat/i18n/", {"languages": "es"}, HTTP_ORIGIN="https://shop.example.com")

    assert response["Access-Control-Allow-Origin"] == "*"
    assert "public" in response["Cache-Control"]
    assert response["Content-Language"] == "es"


@pytest.mark.parametrize(
    "languages",
    ["x" * 100_000, "de" + ",xx" * 5000, "<script>", "../../etc/passwd", "de-" + "a" * 500, "\u00e9\u00e9", "de\u200b"],
)
def test_junk_asks_for_english_or_the_language_it_names(languages):
    assert catalogue(languages)["language"] in ("en", "de")


def test_only_get_is_answered():
    assert Client().post("/chat/i18n/", {"languages": "de"}).status_code == 405


def test_a_nul_byte_in_the_languages_is_refused_before_the_view():
    response = Client().get("/chat/i18n/?languages=de%00")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_text"
