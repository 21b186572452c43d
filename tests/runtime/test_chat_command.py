"""`manage.py chat`: talking to the assistant from a terminal, streaming the answer."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from orders.assistant.persona import ensure_demo_assistant
from runtime.models import Thread

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_streams_the_answer_and_prints_the_thread_to_continue_with(alice_order, capsys):
    ensure_demo_assistant()
    out = StringIO()
    call_command("chat", message="Where is my order A1001? My email is alice@example.com", stdout=out)

    streamed = capsys.readouterr().out + out.getvalue()
    assert streamed.count("Looking up order A1001") == 1  # the activity line once, not again as it ends
    assert "A1001" in streamed and "Delivered" in streamed
    thread_id = streamed.strip().splitlines()[-1].removeprefix("thread: ")
    thread = Thread.objects.get(public_id=thread_id)
    assert thread.messages.filter(role="assistant").exists()

    again = StringIO()
    call_command("chat", message="Thanks!", thread=thread_id, stdout=again)
    assert f"thread: {thread_id}" in again.getvalue()
    assert thread.messages.filter(role="user").count() == 2
