"""ASGI middleware around Django and Channels both.

`RequestIds`: every request and websocket gets an id, on the log lines written for it (request_id) and on the
response (X-Request-ID): the proxy's when it sent a sane one, so that one id follows a request
through both logs.

Around Django and Channels both: Django logs a 4xx response after its middleware
chain has returned, and a socket's consumer logs for as long as the socket is open.
"""

from __future__ import annotations

import re
import time
import uuid

from common import logcontext
from ops import metrics

HEADER = b"x-request-id"
SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_of(scope: dict) -> str:
    given = next((value for name, value in scope.get("headers", []) if name == HEADER), b"")
    text = given.decode("latin-1")
    return text if SANE.fullmatch(text) else uuid.uuid4().hex


class RequestIds:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        request_id = request_id_of(scope)

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (HEADER, request_id.encode())]}
            await send(message)

        with logcontext.bound(request_id=request_id):
            return await self.app(scope, receive, send_with_id)


class Measured:
    """HTTP requests by method and status with their time to the response's start, and the open
    websockets (ops.metrics)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            metrics.WEBSOCKETS_OPENED.inc()
            metrics.WEBSOCKETS.inc()
            try:
                return await self.app(scope, receive, send)
            finally:
                metrics.WEBSOCKETS.dec()
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.monotonic()
        method = scope.get("method", "")

        async def send_measured(message: dict) -> None:
            if message["type"] == "http.response.start":
                metrics.HTTP_REQUESTS.labels(method if method in metrics.METHODS else "other", message["status"]).inc()
                metrics.HTTP_SECONDS.observe(time.monotonic() - started)
            await send(message)

        return await self.app(scope, receive, send_measured)
