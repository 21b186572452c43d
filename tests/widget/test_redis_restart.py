"""The customer's socket across a Redis restart (bench/chaos.py's restarts): events published while
Redis was down are lost with it, so once it is back the socket gets the conversation again from the
database (a new hello), and the thread's next events carry numbers above what it saw before, so the
widget does not drop them as already seen."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from runtime import events, runs
from runtime.models import Message, Run, Thread
from runtime.serializers import run_obj
from tests.redis_server import own_redis
from tests.widget.test_chat_consumer import chat_ready, connect, new_session, receive_until  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis(settings):
    yield from own_redis(settings)


def answer(thread_id: str, text: str) -> Message:
    """An assistant's answer stored and published, as a run's writer does."""
    thread = Thread.objects.get(public_id=thread_id)
    return runs.message_create(
        thread=thread, role="assistant", content=text, author=Message.Author.ASSISTANT, check_active_run=False
    )


async def test_after_a_redis_restart_the_socket_gets_what_it_missed_and_the_next_events(chat_ready, redis):  # noqa: F811
    session = await database_sync_to_async(new_session)()
    comm, connected, _ = await connect(session["ticket"])
    assert connected
    first = await comm.receive_json_from(timeout=5)
    await database_sync_to_async(answer)(session["thread_id"], "Hello! How can I help?")
    live = await receive_until(comm, lambda m: m["type"] == "message")
    seen_seq = live[-1]["seq"]

    await asyncio.to_thread(redis.stop)
    missed = await database_sync_to_async(answer)(session["thread_id"], "Your order A1001 ships on Friday.")
    await asyncio.sleep(1.5)  # down for a while, as in a restart
    await asyncio.to_thread(redis.start)  # empty: its counters and snapshots are gone

    resent = (await receive_until(comm, lambda m: m["type"] == "hello", timeout=15))[-1]
    assert [m["text"] for m in resent["messages"]] == [m["text"] for m in first["messages"]] + [
        "Hello! How can I help?",
        "Your order A1001 ships on Friday.",
    ]
    assert missed.public_id in {m["id"] for m in resent["messages"]}

    await database_sync_to_async(answer)(session["thread_id"], "Anything else?")
    after = (await receive_until(comm, lambda m: m["type"] == "message"))[-1]
    assert after["message"]["text"] == "Anything else?"
    assert after["seq"] > max(seen_seq, resent["seq"])  # the widget drops events at or below what it saw
    await comm.disconnect()


def start_run(thread_id: str) -> Run:
    """A run under way, announced to the thread's subscribers (its worker is elsewhere)."""
    thread = Thread.objects.get(public_id=thread_id)
    run = Run.objects.create(thread=thread, assistant=thread.assistant, status=Run.Status.IN_PROGRESS)
    events.publish(thread_id, "thread.run.in_progress", run_obj(run))
    return run


async def test_a_run_that_failed_while_redis_was_down_is_told_to_the_customer(chat_ready, redis):  # noqa: F811
    session = await database_sync_to_async(new_session)()
    comm, connected, _ = await connect(session["ticket"])
    assert connected
    await comm.receive_json_from(timeout=5)
    run = await database_sync_to_async(start_run)(session["thread_id"])
    await receive_until(comm, lambda m: m == {"type": "run", "state": "thinking", "seq": m.get("seq")})

    await asyncio.to_thread(redis.stop)
    await database_sync_to_async(runs.run_fail)(run, code="server_error", message="Sorry, that failed.")
    await asyncio.sleep(1.5)
    await asyncio.to_thread(redis.start)

    hello = (await receive_until(comm, lambda m: m["type"] == "hello", timeout=15))[-1]
    assert hello["busy"] is False
    assert hello["run"] == {"type": "run", "state": "failed", "message": "Sorry, that failed."}
    await comm.disconnect()


def delta(message_id: str, text: str) -> dict:
    return {
        "id": message_id,
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": {"value": text}}]},
    }


def write_on(thread_id: str, message_id: str, text_so_far: str, words: str) -> None:
    """A writer's next words, as runtime.engine.writer sends them: published, then the snapshot."""
    seq = events.publish_many(thread_id, [("thread.message.delta", delta(message_id, words))])
    events.save_stream_snapshot(thread_id, message_id=message_id, run_id="run_x", text=text_so_far + words, seq=seq)


async def test_an_answer_whose_start_was_lost_with_redis_is_shown_whole(chat_ready, redis):  # noqa: F811
    session = await database_sync_to_async(new_session)()
    thread_id = session["thread_id"]
    comm, connected, _ = await connect(session["ticket"])
    assert connected
    await comm.receive_json_from(timeout=5)

    await asyncio.to_thread(redis.stop)
    await database_sync_to_async(write_on)(thread_id, "msg_lost_start", "", "Your order A1001 ")  # lost
    await asyncio.sleep(1.5)
    await asyncio.to_thread(redis.start)
    await receive_until(comm, lambda m: m["type"] == "hello", timeout=15)  # nothing streaming: the snapshot is gone

    await database_sync_to_async(write_on)(thread_id, "msg_lost_start", "Your order A1001 ", "ships on Friday")
    resent = await comm.receive_json_from(timeout=5)
    assert resent["type"] == "hello"
    assert resent["streaming"] == {
        "id": "msg_lost_start",
        "text": "Your order A1001 ships on Friday",
        "seq": resent["seq"],
    }
    await database_sync_to_async(write_on)(thread_id, "msg_lost_start", "Your order A1001 ships on Friday", ".")
    assert await comm.receive_json_from(timeout=5) == {
        "type": "delta",
        "id": "msg_lost_start",
        "text": ".",
        "seq": resent["seq"] + 1,
    }
    await comm.disconnect()
