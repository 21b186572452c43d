"""Hostile frames on both websockets (/ws/chat/ and /ws/console/), and the limits on each.

A frame that is not JSON, a binary frame, JSON nested too deep or too large, a NUL or a lone
surrogate in any value: each gets an `error` event and the socket stays open (it used to close with
1011 and log a traceback; on PostgreSQL, a NUL in a customer's message did the same). Typing frames
are passed on at most once a second and a half per socket; open sockets per client IP are capped.
"""

from __future__ import annotations

import itertools

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from runtime import events
from runtime.models import Message
from tests.agents.conftest import session_cookie
from tests.listener import GroupListener
from tests.widget.test_chat_consumer import new_session, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

_addresses = itertools.count(1)


def new_ip() -> str:
    """A client address of its own per test: the socket cap counts per process and per address."""
    n = next(_addresses)
    return f"10.77.{n // 250}.{n % 250 + 1}"


async def chat_socket(ip: str | None = None) -> tuple[WebsocketCommunicator, bool, int | None, dict]:
    session = await database_sync_to_async(new_session)()
    comm = socket(f"/ws/chat/?ticket={session['ticket']}", ip or new_ip())
    connected, code = await comm.connect(timeout=5)
    if connected:
        assert (await comm.receive_json_from())["type"] == "hello"
    return comm, connected, code, session


async def console_socket(user, ip: str | None = None) -> tuple[WebsocketCommunicator, bool, int | None]:
    cookie = await database_sync_to_async(session_cookie)(user)
    comm = socket("/ws/console/", ip or new_ip(), cookie=cookie)
    connected, code = await comm.connect(timeout=5)
    if connected:
        assert (await comm.receive_json_from())["type"] == "hello"
    return comm, connected, code


def socket(path: str, ip: str, *, cookie: bytes | None = None) -> WebsocketCommunicator:
    """A socket from a page of this site, as a client at `ip` (the test communicator sets no client)."""
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))

    async def from_ip(scope, receive, send):
        return await application({**scope, "client": (ip, 50_000)}, receive, send)

    return WebsocketCommunicator(from_ip, path, headers=headers)


async def still_open(comm: WebsocketCommunicator) -> bool:
    await comm.send_json_to({"type": "ping"})
    return (await receive_until(comm, lambda m: m.get("type") == "pong"))[-1] == {"type": "pong"}


HOSTILE_FRAMES = [
    pytest.param({"text_data": "{not json"}, "invalid_json", id="not-json"),
    pytest.param({"bytes_data": b"\x00\x01binary"}, "bad_frame", id="binary"),
    pytest.param({"text_data": "[" * 20_000 + "]" * 20_000}, "too_deep", id="too-deep"),
    pytest.param({"text_data": '{"type": "ping", "pad": "%s"}' % ("x" * 70_000)}, "too_large", id="too-large"),
    pytest.param({"text_data": '{"type": "ping", "x\\u0000": 1}'}, "invalid_text", id="nul-in-a-key"),
]


@pytest.mark.parametrize(("frame", "code"), HOSTILE_FRAMES)
async def test_chat_a_hostile_frame_gets_an_error_and_the_socket_stays_open(chat_ready, frame, code):
    comm, connected, _, _ = await chat_socket()
    assert connected

    await comm.send_to(**frame)

    error = (await receive_until(comm, lambda m: m.get("type") == "error"))[-1]
    assert error["code"] == code and error["message"]
    assert await still_open(comm)
    await comm.disconnect()


@pytest.mark.parametrize("bad", ["\\u0000", "\\ud800"])
async def test_chat_a_message_with_nul_or_a_lone_surrogate_is_refused_for_that_message_only(chat_ready, bad):
    comm, _, _, session = await chat_socket()

    await comm.send_to(text_data='{"type": "message", "text": "where is A1001%s", "client_id": "m1"}' % bad)  # noqa: UP031

    error = (await receive_until(comm, lambda m: m.get("type") == "error"))[-1]
    assert error["code"] == "invalid_text" and error["client_id"] == "m1"
    stored = await database_sync_to_async(Message.objects.filter(thread__public_id=session["thread_id"]).count)()
    assert stored == 0
    assert await still_open(comm)
    await comm.disconnect()


async def test_chat_typing_frames_are_passed_on_at_most_once_in_a_while(chat_ready):
    comm, _, _, session = await chat_socket()
    listener = await database_sync_to_async(GroupListener)(events.group_for(session["thread_id"]))

    for _ in range(200):
        await comm.send_json_to({"type": "typing"})
    assert await still_open(comm)

    published = await database_sync_to_async(listener.drain)()
    assert [e["event"] for e in published] == ["typing"]
    await comm.disconnect()


async def test_open_sockets_per_client_ip_are_capped(chat_ready, settings):
    settings.WEBSOCKETS_PER_IP = 2
    ip = new_ip()
    first, ok1, _, _ = await chat_socket(ip)
    second, ok2, _, _ = await chat_socket(ip)
    _, ok3, code, _ = await chat_socket(ip)
    other, elsewhere, _, _ = await chat_socket(new_ip())

    assert (ok1, ok2, ok3, elsewhere) == (True, True, False, True)
    assert code == 4029

    await first.disconnect()
    again, ok4, _, _ = await chat_socket(ip)
    assert ok4  # a closed socket gives its place back
    for comm in (second, again, other):
        await comm.disconnect()


async def test_a_refused_handshake_does_not_hold_a_place(chat_ready, settings):
    settings.WEBSOCKETS_PER_IP = 1
    ip = new_ip()
    for _ in range(3):  # tickets that open nothing: each refused, none counted
        comm = socket("/ws/chat/?ticket=forged", ip)
        assert (await comm.connect(timeout=5)) == (False, 4001)

    comm, connected, _, _ = await chat_socket(ip)
    assert connected
    await comm.disconnect()


@pytest.mark.parametrize(("frame", "code"), HOSTILE_FRAMES)
async def test_console_a_hostile_frame_gets_an_error_and_the_socket_stays_open(agent, frame, code):
    comm, connected, _ = await console_socket(agent)
    assert connected

    await comm.send_to(**frame)

    error = (await receive_until(comm, lambda m: m.get("type") == "error"))[-1]
    assert error["code"] == code
    assert await still_open(comm)
    await comm.disconnect()


@pytest.mark.parametrize("bad", ["\\u0000", "\\ud800"])
async def test_console_watching_a_thread_id_with_nul_or_a_surrogate_is_an_error(agent, bad):
    comm, _, _ = await console_socket(agent)

    await comm.send_to(text_data='{"type": "watch", "thread_id": "thread_%s"}' % bad)  # noqa: UP031

    assert (await receive_until(comm, lambda m: m.get("type") == "error"))[-1]["code"] == "invalid_text"
    assert await still_open(comm)
    await comm.disconnect()


async def test_console_sockets_are_capped_per_ip_too(agent, settings):
    settings.WEBSOCKETS_PER_IP = 1
    ip = new_ip()
    first, ok1, _ = await console_socket(agent, ip)
    _, ok2, code = await console_socket(agent, ip)

    assert (ok1, ok2, code) == (True, False, 4029)
    await first.disconnect()
