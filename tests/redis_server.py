"""A redis-server of a test's own, which the test stops and starts (a Redis restart: no persistence,
so a restart loses everything in it), with the cache and the channel layer pointed at it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

from channels.layers import channel_layers

from runtime import events
from tests import needs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def own_redis(settings):
    """A running redis-server of this test's own, as the cache, the channel layer and REDIS_URL
    (a fixture's body: `yield from own_redis(settings)`)."""
    if shutil.which("redis-server") is None:
        needs.missing("redis-server is not installed", "apt-get install redis-server")
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    settings.CACHES = {"default": {"BACKEND": "common.cache.SharedClientRedisCache", "LOCATION": server.url}}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": server.url, "socket_timeout": 30}], "prefix": f"test{server.port}"},
        }
    }
    channel_layers.backends.clear()
    try:
        yield server
    finally:
        events.flush(timeout=5)
        server.stop()
        channel_layers.backends.clear()
