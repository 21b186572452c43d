"""Listening to channel-layer groups from synchronous test code, the way a server process does.

The listener owns an event loop in a thread of its own and does all its channel-layer work there:
the pub/sub layer keeps channels per event loop, and the in-memory layer's queues belong to one
loop, so subscribing and receiving must happen on the same, long-lived loop.
"""

from __future__ import annotations

import asyncio
import threading

from channels.layers import get_channel_layer

from runtime import events


class GroupListener:
    def __init__(self, *groups: str) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="test-listener", daemon=True).start()
        # In-process publishing goes through this loop, as it would through a server's.
        events.bind_server_loop(self.loop)
        self.layer = get_channel_layer()
        self.channel = self._run(self.layer.new_channel())
        self.received: list[dict] = []
        self._unread: list[dict] = []  # events of a batch not yet handed out
        for group in groups:
            self.listen(group)

    def _run(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def listen(self, group: str) -> None:
        self._run(self.layer.group_add(group, self.channel))

    def receive(self, timeout: float = 2.0) -> dict:
        """The next event (a batch's events one by one); TimeoutError if none comes in time."""
        if not self._unread:
            message = self._run(asyncio.wait_for(self.layer.receive(self.channel), timeout), timeout + 5)
            self._unread = events.unbatch(message)
        event = self._unread.pop(0)
        self.received.append(event)
        return event

    def drain(self, quiet: float = 0.3) -> list[dict]:
        """Everything published so far: waits for the publisher, then until nothing more arrives."""
        events.flush()
        while True:
            try:
                self.receive(timeout=quiet)
            except TimeoutError:
                return self.received
