"""The base of both websockets (the customer's and the console's): hostile frames and socket floods.

A frame that is not JSON text, is too large or too deep, or carries text nothing may store
(common.text) gets an `error` event; the socket stays open and nothing reaches the consumer. Open
sockets are capped per client IP and per server process (settings.WEBSOCKETS_PER_IP): behind a
proxy, run daphne with --proxy-headers so the IP is the client's, not the proxy's.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, ClassVar

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from common.text import InputRefused, load_json

# Typing indicators are passed on at most this often per socket (and per conversation on the console).
TYPING_EVERY_SECONDS = 1.5
TOO_MANY_SOCKETS = 4029  # the close code: a 4000 + HTTP status, as 4001/4003/4004 here


class GuardedJsonConsumer(AsyncJsonWebsocketConsumer):
    # This process's open sockets per client IP. Consumers run on one event loop: no lock needed.
    open_per_ip: ClassVar[Counter[str]] = Counter()
    _counted_ip: str | None = None
    _last_sent: dict[str, float] | None = None

    async def websocket_connect(self, message: dict) -> None:
        ip = client_ip(self.scope)
        if self.open_per_ip[ip] >= settings.WEBSOCKETS_PER_IP:
            await self.close(code=TOO_MANY_SOCKETS)
            return
        self.open_per_ip[ip] += 1
        self._counted_ip = ip
        await super().websocket_connect(message)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        self._release()  # a refused handshake holds no place; disconnect may never follow it
        await super().close(code=code, reason=reason)

    async def websocket_disconnect(self, message: dict) -> None:
        self._release()
        await super().websocket_disconnect(message)  # raises StopConsumer

    def _release(self) -> None:
        ip, self._counted_ip = self._counted_ip, None
        if ip is not None:
            self.open_per_ip[ip] -= 1
            if self.open_per_ip[ip] <= 0:
                del self.open_per_ip[ip]

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self.refuse_frame(InputRefused("bad_frame", "Send JSON text frames, not binary ones."))
            return
        if len(text_data) > settings.WEBSOCKET_MAX_FRAME_CHARS:
            limit = settings.WEBSOCKET_MAX_FRAME_CHARS
            await self.refuse_frame(InputRefused("too_large", f"A frame may hold at most {limit} characters."))
            return
        try:
            content = load_json(text_data)
        except InputRefused as refused:
            await self.refuse_frame(refused)
            return
        await self.receive_json(content, **kwargs)

    async def refuse_frame(self, refused: InputRefused) -> None:
        await self.send_json({"type": "error", "code": refused.code, "message": refused.message})

    def first_in(self, key: str, seconds: float) -> bool:
        """True at most once every `seconds` per key on this socket (typing indicators, say)."""
        now = time.monotonic()
        if self._last_sent is None:
            self._last_sent = {}
        if now - self._last_sent.get(key, float("-inf")) < seconds:
            return False
        self._last_sent[key] = now
        return True


def client_ip(scope: dict) -> str:
    client = scope.get("client")
    return client[0] if client else "?"
