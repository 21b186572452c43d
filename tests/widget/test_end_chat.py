"""The customer's "End chat": it closes a conversation the assistant has, and the rating is offered."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from agents.services import escalate
from runtime.models import ConversationRating, Thread
from tests.widget import test_chat_consumer as chat
from tests.widget.test_chat_consumer import connect, new_session, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

chat_ready = chat.chat_ready


def mode_of(thread_id: str) -> str:
    return Thread.objects.get(public_id=thread_id).mode


async def conversation_with_an_answer():
    session = await database_sync_to_async(new_session)()
    comm, connected, _ = await connect(session["ticket"])
    assert connected
    await comm.receive_json_from()  # hello
    await comm.send_json_to({"type": "message", "text": "What is your return policy?", "client_id": "c1"})
    await receive_until(comm, lambda m: m.get("type") == "run" and m["state"] == "done")
    return comm, session["thread_id"]


async def test_the_customer_ends_the_chat_and_then_rates_it(chat_ready):
    comm, thread_id = await conversation_with_an_answer()

    await comm.send_json_to({"type": "end"})
    closed = await receive_until(comm, lambda m: m.get("type") == "conversation_mode")
    assert (closed[-1]["mode"], closed[-1]["by"]) == ("closed", "customer")
    assert await database_sync_to_async(mode_of)(thread_id) == Thread.Mode.CLOSED

    await comm.send_json_to({"type": "message", "text": "one more thing", "client_id": "c2"})
    assert (await receive_until(comm, lambda m: m.get("type") == "error"))[-1]["code"] == "closed"
    await comm.send_json_to({"type": "rate", "score": 5})
    rated = await receive_until(comm, lambda m: m.get("type") in ("rating", "error"))
    assert rated[-1] == {"type": "rating", "rating": {"score": 5, "scale": 5, "comment": "", "comment_open": True}}
    assert await database_sync_to_async(ConversationRating.objects.filter(thread__public_id=thread_id).count)() == 1
    await comm.disconnect()


async def test_a_conversation_waiting_for_a_person_is_theirs_to_close(chat_ready):
    comm, thread_id = await conversation_with_an_answer()
    thread = await database_sync_to_async(Thread.objects.get)(public_id=thread_id)
    await database_sync_to_async(escalate)(thread=thread, trigger="customer_request", reason="asked")

    await comm.send_json_to({"type": "end"})
    refused = await receive_until(comm, lambda m: m.get("type") == "error")
    assert refused[-1]["code"] == "with_a_person"
    assert await database_sync_to_async(mode_of)(thread_id) == Thread.Mode.WAITING_HUMAN
    await comm.disconnect()


async def test_an_empty_conversation_has_nothing_to_end(chat_ready):
    session = await database_sync_to_async(new_session)()
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from()  # hello

    await comm.send_json_to({"type": "end"})
    refused = await comm.receive_json_from()
    assert refused["code"] == "nothing_to_end"
    assert await database_sync_to_async(mode_of)(session["thread_id"]) == Thread.Mode.ASSISTANT
    await comm.disconnect()
