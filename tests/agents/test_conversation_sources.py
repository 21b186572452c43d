"""The console's conversation page hands its script the sources each answer cited, so the
server-rendered transcript shows them as the widget does (numbered links, a Sources list)."""

from __future__ import annotations

import json
import re

import pytest

from runtime.models import Message
from runtime.serializers import text_part
from tests.agents.conftest import console_url

pytestmark = pytest.mark.django_db

MARKER = "【0:0†returns.md】"
ANSWER = f"You can return an item within 30 days of delivery{MARKER}."


def test_the_transcript_state_carries_each_answers_citations(supervisor_client, thread):
    citation = {
        "type": "file_citation",
        "text": MARKER,
        "start_index": ANSWER.index(MARKER),
        "end_index": ANSWER.index(MARKER) + len(MARKER),
        "file_citation": {"file_id": "file-abc123"},
    }
    Message.objects.create(thread=thread, role="user", author="customer", content=[text_part("Return policy?")])
    answer = Message.objects.create(
        thread=thread, role="assistant", author="assistant", content=[text_part(ANSWER, [citation])]
    )
    html = supervisor_client.get(console_url(thread)).content.decode()
    state = json.loads(re.search(r'<script id="console-state" type="application/json">(.*?)</script>', html).group(1))
    assert state["citations"] == {
        answer.public_id: [
            {"text": MARKER, "start": citation["start_index"], "end": citation["end_index"], "file_id": "file-abc123"}
        ]
    }
    assert MARKER in html  # the text as written; console.js turns the marker into [1]
