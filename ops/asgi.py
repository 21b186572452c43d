"""Every request and websocket gets an id, on the log lines written for it (request_id) and on the
response (X-Request-ID): the proxy's when it sent a sane one, so that one id follows a request
through both logs.

ASGI middleware, around Django and Channels both: Django logs a 4xx response after its middleware
chain has returned, and a socket's consumer logs for as long as the socket is open.
"""

from __future__ import annotations

import re
import uuid

from common import logcontext

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
