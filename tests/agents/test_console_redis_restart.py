"""The console's socket across a Redis restart: the queue's and the watched conversations' events
published meanwhile were lost with it, so once Redis is back the server closes the socket with 1012
(service restart) and the console reconnects, gets a new hello and watches its threads again."""

from __future__ import annotations

import asyncio

import pytest

from tests.agents.conftest import console_socket
from tests.redis_server import own_redis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis(settings):
    yield from own_redis(settings)


async def test_after_a_redis_restart_the_console_is_told_to_reconnect(agent, redis):
    comm, connected, _ = await console_socket(agent)
    assert connected
    assert (await comm.receive_json_from(timeout=5))["type"] == "hello"

    await asyncio.to_thread(redis.stop)
    await asyncio.sleep(1.5)
    await asyncio.to_thread(redis.start)

    closed = await comm.receive_output(timeout=15)
    assert closed == {"type": "websocket.close", "code": 1012}
