"""The customer websocket, end to end inside one process: channels' WebsocketCommunicator."""

from __future__ import annotations

import asyncio
import random

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from orders.assistant.persona import ensure_demo_assistant
from runtime.models import Message, Thread
from widget import sessions

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chat_ready(settings, db):
    settings.RUN_DISPATCH = "thread"  # runs go on in the background, as in the embedded server
    settings.WIDGET_IDENTITY_SECRET = "shop-secret"
    ensure_demo_assistant()


def new_session(**body) -> dict:
    response = Client().post("/chat/session/", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


async def connect(ticket: str, *, origin: bytes = b"http://testserver"):
    comm = WebsocketCommunicator(
        application, f"/ws/chat/?ticket={ticket}", headers=[(b"origin", origin), (b"host", b"testserver")]
    )
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def receive_until(comm, predicate, timeout=15.0) -> list[dict]:
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            message = await comm.receive_json_from(timeout=timeout)
            seen.append(message)
            if predicate(message):
                return seen


def fresh_ticket(session_token: str) -> str:
    return new_session(session=session_token)["ticket"]


async def test_a_socket_without_a_valid_ticket_is_refused(chat_ready):
    for ticket in ["", "forged.ticket.value"]:
        _, connected, code = await connect(ticket)
        assert not connected and code == 4001


async def test_a_ticket_opens_one_socket_only(chat_ready):
    session = await database_sync_to_async(new_session)()
    comm, connected, _ = await connect(session["ticket"])
    assert connected
    hello = await comm.receive_json_from()
    assert hello["type"] == "hello" and hello["thread_id"] == session["thread_id"]
    await comm.disconnect()
    _, connected, code = await connect(session["ticket"])
    assert not connected and code == 4001


async def test_a_page_on_a_foreign_origin_is_refused(chat_ready):
    session = await database_sync_to_async(new_session)()
    _, connected, code = await connect(session["ticket"], origin=b"https://evil.example")
    assert not connected and code == 4003


def test_a_forged_identity_signature_is_refused(chat_ready, alice):
    response = Client().post(
        "/chat/session/", {"email": alice.email, "signature": "0" * 64}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_identity"
    assert not Thread.objects.filter(customer=alice).exists()


def test_a_valid_identity_signature_binds_the_thread_to_the_customer(chat_ready, alice):
    session = new_session(email=alice.email, signature=sessions.identity_signature(alice.email))
    assert session["customer"] == {"name": alice.name}
    assert Thread.objects.get(public_id=session["thread_id"]).customer == alice


def test_mandatory_identity_refuses_every_unsigned_session(chat_ready, settings):
    settings.WIDGET_REQUIRE_IDENTITY = True
    response = Client().post("/chat/session/", {}, content_type="application/json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "identity_required"


def test_session_creation_is_throttled_per_ip(chat_ready, settings):
    settings.WIDGET_SESSIONS_PER_IP_PER_MINUTE = 2
    client = Client(REMOTE_ADDR=f"10.9.{random.randrange(256)}.{random.randrange(256)}")  # a window of its own
    codes = [client.post("/chat/session/", {}, content_type="application/json").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_a_returning_visitor_continues_the_same_thread(chat_ready):
    first = new_session()
    again = new_session(session=first["session"])
    assert again["thread_id"] == first["thread_id"]


async def test_a_question_streams_the_answer_in_order(chat_ready, alice_order):
    session = await database_sync_to_async(new_session)()
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from()  # hello
    await comm.send_json_to(
        {"type": "message", "text": "Where is my order A1001? My email is alice@example.com", "client_id": "c1"}
    )
    seen = await receive_until(comm, lambda m: m.get("type") == "run" and m["state"] == "done")
    kinds = [m["type"] for m in seen]
    assert kinds[0] == "ack" and seen[0]["client_id"] == "c1"
    assert "activity" in kinds and any("Looking up order A1001" in m.get("label", "") for m in seen)
    final = [m for m in seen if m["type"] == "message" and m["message"]["role"] == "assistant"][-1]
    assert kinds.index("message_started") < kinds.index("delta") < seen.index(final)
    assert kinds.count("message_started") == 1  # once per answer, though the API announces it twice
    assert [m["state"] for m in seen if m["type"] == "run"] == ["thinking", "done"]
    streamed = "".join(m["text"] for m in seen if m["type"] == "delta" and m["id"] == final["message"]["id"])
    assert streamed == final["message"]["text"]
    assert "A1001" in streamed and "Delivered" in streamed
    seqs = [m["seq"] for m in seen if "seq" in m]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    await comm.disconnect()


async def test_a_reconnect_mid_answer_resumes_without_repeats_or_gaps(chat_ready, settings, alice_order):
    settings.OFFLINE_MODEL_TOKEN_DELAY_MS = 25
    settings.STREAM_BATCH_MS = 20
    session = await database_sync_to_async(new_session)()
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from()
    await comm.send_json_to(
        {"type": "message", "text": "Where is my order A1001? My email is alice@example.com", "client_id": "c1"}
    )
    before = await receive_until(comm, lambda m: m.get("type") == "delta" and len(m["text"]) > 0)
    answer_id = before[-1]["id"]
    await comm.disconnect()  # the network drops mid-answer

    ticket = await database_sync_to_async(fresh_ticket)(session["session"])
    comm, connected, _ = await connect(ticket)
    assert connected
    hello = await comm.receive_json_from()
    assert [m["text"] for m in hello["messages"] if m["role"] == "user"] == [
        "Where is my order A1001? My email is alice@example.com"
    ]
    text = hello["streaming"]["text"] if hello["streaming"] else ""
    if hello["streaming"]:
        assert hello["streaming"]["id"] == answer_id
    seen = await receive_until(comm, lambda m: m.get("type") == "message" and m["message"]["id"] == answer_id)
    text += "".join(m["text"] for m in seen if m["type"] == "delta" and m["id"] == answer_id)
    final = seen[-1]["message"]["text"]
    assert text == final
    stored = await database_sync_to_async(lambda: Message.objects.get(public_id=answer_id).text)()
    assert stored == final
    await comm.disconnect()


async def test_a_resent_message_is_stored_once(chat_ready):
    session = await database_sync_to_async(new_session)()
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from()
    await comm.send_json_to({"type": "message", "text": "hello", "client_id": "same"})
    await receive_until(comm, lambda m: m.get("type") == "run" and m["state"] == "done")
    await comm.send_json_to({"type": "message", "text": "hello", "client_id": "same"})
    ack = await receive_until(comm, lambda m: m.get("type") in ("ack", "error"))
    assert ack[-1]["type"] == "ack"
    count = await database_sync_to_async(
        lambda: Message.objects.filter(thread__public_id=session["thread_id"], role="user").count()
    )()
    assert count == 1
    await comm.disconnect()


async def test_limits_answer_with_a_clear_error_and_store_nothing(chat_ready, settings):
    settings.WIDGET_MAX_MESSAGE_CHARS = 10
    settings.WIDGET_MESSAGES_PER_VISITOR_PER_MINUTE = 1
    session = await database_sync_to_async(new_session)()
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from()
    await comm.send_json_to({"type": "message", "text": "x" * 11, "client_id": "long"})
    error = await receive_until(comm, lambda m: m.get("type") == "error")
    assert error[-1]["code"] == "too_long" and error[-1]["client_id"] == "long"
    await comm.send_json_to({"type": "message", "text": "hi", "client_id": "a"})
    await receive_until(comm, lambda m: m.get("type") == "ack")
    await comm.send_json_to({"type": "message", "text": "again", "client_id": "b"})
    error = await receive_until(comm, lambda m: m.get("type") == "error")
    assert error[-1]["code"] in ("rate_limited", "busy")
    texts = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(thread__public_id=session["thread_id"], role="user").values_list(
                "content", flat=True
            )
        )
    )()
    assert len(texts) == 1
    await comm.disconnect()
    await runs_at_rest(session["thread_id"])  # the answer to "hi" must not outlive the test's database


async def runs_at_rest(thread_id: str, timeout: float = 10.0) -> None:
    """Wait until the thread's runs are done (runs execute in background threads in these tests)."""
    active = database_sync_to_async(lambda: Thread.objects.get(public_id=thread_id).runs.active().exists())
    async with asyncio.timeout(timeout):
        while await active():
            await asyncio.sleep(0.05)


async def test_no_run_starts_while_a_person_owns_the_thread(chat_ready):
    session = await database_sync_to_async(new_session)()
    await database_sync_to_async(
        lambda: Thread.objects.filter(public_id=session["thread_id"]).update(mode=Thread.Mode.HUMAN)
    )()
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from()
    await comm.send_json_to({"type": "message", "text": "are you there?", "client_id": "x"})
    await receive_until(comm, lambda m: m.get("type") == "ack")
    runs = await database_sync_to_async(lambda: Thread.objects.get(public_id=session["thread_id"]).runs.count())()
    assert runs == 0
    await comm.disconnect()


def test_a_signed_in_customer_on_a_new_device_continues_their_open_conversation(chat_ready, alice, mallory):
    signed = {"email": alice.email, "signature": sessions.identity_signature(alice.email)}
    first = new_session(**signed)
    thread = Thread.objects.get(public_id=first["thread_id"])

    elsewhere = new_session(**signed)  # no session token: another browser
    assert elsewhere["thread_id"] == first["thread_id"]
    # Another customer, or an anonymous visitor, never lands in it.
    assert (
        new_session(email=mallory.email, signature=sessions.identity_signature(mallory.email))["thread_id"]
        != thread.public_id
    )
    assert new_session()["thread_id"] != thread.public_id

    thread.mode = Thread.Mode.CLOSED
    thread.save(update_fields=["mode"])
    assert new_session(**signed)["thread_id"] != thread.public_id  # an ended conversation starts anew
