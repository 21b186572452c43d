"""An httpx2 transport that answers the OpenAI SDK in-process with the offline model.

Handed to the SDK as `http_client=httpx2.Client(transport=OfflineTransport())`, it serves
`POST /v1/chat/completions` (JSON, or a server-sent-event stream produced lazily, one chunk every
`token_delay_ms`), `POST /v1/embeddings` and `GET /v1/models`. No socket is opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator

import httpx2

from offline_model.http import Answer, answer, paced, scheduled


class OfflineTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    def __init__(self, *, token_delay_ms: float = 0.0, model_names: Iterable[str] = ()):
        self.token_delay_ms = max(float(token_delay_ms or 0), 0.0)
        self.model_names = list(model_names)

    def _answer(self, request: httpx2.Request) -> Answer:
        model_names = self.model_names
        return answer(request.method, request.url.path, request.content, model_names=model_names)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        result = self._answer(request)
        if result.events is None:
            return httpx2.Response(result.status, headers=result.headers, content=result.body, request=request)
        stream = EventStream(paced(result.events, self.token_delay_ms))
        return httpx2.Response(result.status, headers=result.headers, stream=stream, request=request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        result = self._answer(request)
        if result.events is None:
            return httpx2.Response(result.status, headers=result.headers, content=result.body, request=request)
        stream = AsyncEventStream(result.events, self.token_delay_ms)
        return httpx2.Response(result.status, headers=result.headers, stream=stream, request=request)


class EventStream(httpx2.SyncByteStream):
    """A response body read from a generator, so each frame is produced only when the client reads it."""

    def __init__(self, frames: Iterator[bytes]):
        self.frames = frames

    def __iter__(self) -> Iterator[bytes]:
        yield from self.frames

    def close(self) -> None:
        close = getattr(self.frames, "close", None)
        if close:
            close()


class AsyncEventStream(httpx2.AsyncByteStream):
    """The async twin of EventStream; it waits with asyncio.sleep, never blocking the event loop."""

    def __init__(self, frames: Iterator[bytes], delay_ms: float):
        self.frames = frames
        self.delay_ms = delay_ms

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for wait, frame in scheduled(self.frames, self.delay_ms, asyncio.get_running_loop().time):
            if wait > 0:
                await asyncio.sleep(wait)
            yield frame

    async def aclose(self) -> None:
        close = getattr(self.frames, "close", None)
        if close:
            close()
