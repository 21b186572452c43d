"""Model faults the chaos harness injects (bench/chaos.py), each as one scripted reply: the engine
retries what a retry can mend and the customer reads each word once."""

from __future__ import annotations

import pytest

from runtime import runs
from runtime.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_malformed_chunk_mid_answer_is_retried_without_repeating_text(scripted, thread, assistant, tap):
    answer = "Your order A1001 is on its way and should arrive on Friday."
    scripted.text(answer, pieces=6, garbled_at=3)  # role chunk + 2 pieces, then a chunk of broken JSON
    scripted.text(answer, pieces=6)
    events = tap(thread.public_id)
    runs.message_create(thread=thread, role="user", content="Where is A1001?", author=Message.Author.CUSTOMER)

    run = runs.run_create(thread=thread, assistant=assistant)

    run.refresh_from_db()
    assert run.status == "completed", run.last_error
    assert len(scripted.requests) == 2
    deltas = [m["data"] for m in events.drain() if m["event"] == "thread.message.delta"]
    assert "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas) == answer
    assert [m.text for m in thread.messages.filter(role="assistant")] == [answer]
