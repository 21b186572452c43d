"""The console's conversation page names the language the customer writes in (widget/language.py
notes it on the conversation; the assistant is told to answer in it)."""

from __future__ import annotations

import pytest

from runtime.models import Thread
from tests.agents.conftest import console_url

pytestmark = pytest.mark.django_db


def language_line(client, thread: Thread) -> str:
    html = client.get(console_url(thread)).content.decode()
    start = html.find("data-customer-language=")
    return html[start : html.find("</p>", start)] if start >= 0 else ""


def test_a_german_customers_conversation_says_so(supervisor_client, thread):
    Thread.objects.filter(pk=thread.pk).update(metadata={"channel": "widget", "language": "de"})

    line = language_line(supervisor_client, thread)

    assert 'data-customer-language="de"' in line
    assert "Writes in German · the assistant answers in German" in line


def test_a_widget_conversation_without_a_note_is_english(supervisor_client, thread):
    Thread.objects.filter(pk=thread.pk).update(metadata={"channel": "widget"})

    assert "Writes in English" in language_line(supervisor_client, thread)


def test_a_language_that_is_no_language_is_not_shown(supervisor_client, thread):
    Thread.objects.filter(pk=thread.pk).update(metadata={"channel": "api", "language": "<script>x</script>"})

    assert language_line(supervisor_client, thread) == ""
