"""Hostile input on the console's forms: staff type into them, and a stolen session types anything.

Every text an agent or supervisor sends (a reply, a note, an escalation's reason, a decision's note)
has a length limit and gets a clear 400 past it, as form posts and as JSON; a NUL or a lone
surrogate is refused before any view (config.middleware); a body that is not UTF-8 too. Nothing is
stored from a refused action.
"""

from __future__ import annotations

import pytest

from agents.models import Escalation, InternalNote
from agents.services import MAX_DECISION_NOTE_CHARS, MAX_NOTE_CHARS, MAX_REASON_CHARS, MAX_REPLY_CHARS
from orders.models import Return
from runtime.models import Message
from tests.agents.conftest import console_url, signed_in
from tests.factories import ReturnFactory, delivered_order

pytestmark = pytest.mark.django_db(transaction=True)

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def claimed(agent_client, escalated, thread):
    assert agent_client.post(console_url(thread, "claim"), **JSON).status_code == 200
    return escalated


def error_of(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:300]
    return response.json()["error"]


def test_a_note_past_its_limit_is_refused_and_not_stored(agent_client, escalated, thread):
    response = agent_client.post(console_url(thread, "notes"), {"text": "n" * (MAX_NOTE_CHARS + 1)}, **JSON)

    assert str(MAX_NOTE_CHARS) in error_of(response)["message"]
    assert not InternalNote.objects.exists()


def test_a_note_at_its_limit_is_kept(agent_client, escalated, thread):
    response = agent_client.post(console_url(thread, "notes"), {"text": "n" * MAX_NOTE_CHARS}, **JSON)

    assert response.status_code == 200
    assert len(InternalNote.objects.get().text) == MAX_NOTE_CHARS


def test_a_reply_past_its_limit_is_refused_and_not_sent(agent_client, claimed, thread):
    response = agent_client.post(console_url(thread, "reply"), {"text": "r" * (MAX_REPLY_CHARS + 1)}, **JSON)

    error_of(response)
    assert not Message.objects.filter(thread=thread, author=Message.Author.AGENT).exists()


def test_a_supervisors_reason_past_its_limit_is_refused(supervisor, thread):
    client = signed_in(supervisor)

    response = client.post(console_url(thread, "escalate"), {"reason": "x" * (MAX_REASON_CHARS + 1)}, **JSON)

    error_of(response)
    assert not Escalation.objects.filter(thread=thread).exists()


def test_a_return_decisions_note_past_its_limit_is_refused(agent_client, escalated, thread, alice):
    order = delivered_order(customer=alice, number="A2002")
    requested = ReturnFactory(item=order.items.get(), order=order)
    note = "d" * (MAX_DECISION_NOTE_CHARS + 1)

    response = agent_client.post(console_url(thread, f"returns/{requested.pk}/approve"), {"note": note}, **JSON)

    error_of(response)
    requested.refresh_from_db()
    assert requested.status == Return.Status.REQUESTED


@pytest.mark.parametrize("encoding", ["json", "urlencoded", "multipart"])
def test_a_note_with_nul_is_refused_before_any_view(agent_client, escalated, thread, encoding):
    url = console_url(thread, "notes")
    if encoding == "json":
        response = agent_client.generic("POST", url, '{"text": "a\\u0000b"}', content_type="application/json")
        assert error_of(response)["code"] == "invalid_text"
    elif encoding == "urlencoded":
        response = agent_client.post(url, "text=a%00b", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 400
    else:
        response = agent_client.post(url, {"text": "a\x00b"})  # the test client's default: multipart
        assert response.status_code == 400
    assert not InternalNote.objects.exists()


def test_a_note_with_a_lone_surrogate_is_refused(agent_client, escalated, thread):
    response = agent_client.generic(
        "POST", console_url(thread, "notes"), '{"text": "a\\udfffb"}', content_type="application/json"
    )

    assert error_of(response)["code"] == "invalid_text"
    assert not InternalNote.objects.exists()


def test_a_body_that_is_not_utf8_is_refused(agent_client, escalated, thread):
    response = agent_client.generic(
        "POST", console_url(thread, "notes"), b'{"text": "caf\xe9"}', content_type="application/json"
    )

    assert error_of(response)["code"] == "invalid_encoding"


@pytest.mark.parametrize("text", [["a list"], {"an": "object"}, True])
def test_a_note_of_the_wrong_type_is_refused(agent_client, escalated, thread, text):
    response = agent_client.post(console_url(thread, "notes"), {"text": text}, content_type="application/json")

    assert error_of(response)["code"] == "invalid_request"
    assert not InternalNote.objects.exists()


def test_the_metrics_period_with_nul_is_refused(supervisor):
    assert signed_in(supervisor).get("/console/metrics/?from=%00").status_code == 400
