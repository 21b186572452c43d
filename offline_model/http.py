"""The offline model's HTTP surface, independent of any HTTP library.

`answer(method, path, body)` gives the status, headers and body (or, for a stream, a lazy iterator
of server-sent-event frames) for OpenAI's `POST /v1/chat/completions`, `POST /v1/embeddings`,
`GET /v1/models` and `GET /v1/models/{id}`. The in-process httpx2 transport and the loopback server
both adapt it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from offline_model.completion import InvalidRequest, complete
from offline_model.embeddings import create_embeddings

logger = logging.getLogger(__name__)

JSON = {"content-type": "application/json"}
EVENT_STREAM = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
OWNER = "concierge-offline"


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    body: bytes = b""
    events: Iterator[bytes] | None = None  # server-sent-event frames, produced lazily

    @property
    def streaming(self) -> bool:
        return self.events is not None


def error(status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None) -> Answer:
    """OpenAI's error envelope."""
    codes = {404: "unknown_url", 405: "method_not_allowed", 500: "server_error"}
    envelope = {"error": {"message": message, "type": kind, "param": param, "code": codes.get(status)}}
    return Answer(status, body=json.dumps(envelope).encode())


def answer(method: str, path: str, body: bytes, *, model_names: Iterable[str] = ()) -> Answer:
    route = path.split("?", 1)[0].rstrip("/")
    route = route[3:] if route.startswith("/v1/") else route
    if route == "/chat/completions":
        if method != "POST":
            return error(405, f"Method {method} is not allowed on {path}; use POST.")
        return chat_completions(body)
    if route == "/embeddings":
        if method != "POST":
            return error(405, f"Method {method} is not allowed on {path}; use POST.")
        return embeddings(body)
    if route == "/models" or route.startswith("/models/"):
        if method != "GET":
            return error(405, f"Method {method} is not allowed on {path}; use GET.")
        names = list(dict.fromkeys(model_names))
        if route == "/models":
            listing = {"object": "list", "data": [model_object(name) for name in names]}
            return Answer(200, body=json.dumps(listing).encode())
        # Every model name is accepted, so every model exists.
        return Answer(200, body=json.dumps(model_object(route.removeprefix("/models/"))).encode())
    return error(404, f"Unknown request URL: {method} {path}. Please check the URL for typos.")


def model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": OWNER}


def chat_completions(body: bytes) -> Answer:
    try:
        request = json.loads(body or b"null")
    except ValueError as exc:
        return error(400, f"We could not parse the JSON body of your request: {exc}.")
    try:
        completion = complete(request)
    except InvalidRequest as exc:
        return error(400, exc.message, param=exc.param)
    except Exception:  # a bug in the offline model: answer like a provider's 500, keep the trace
        logger.exception("The offline model failed on a request")
        return error(500, "The offline model failed on this request.", kind="server_error")
    if not request.get("stream"):
        return Answer(200, body=json.dumps(completion.to_dict(), ensure_ascii=False).encode())
    options = request.get("stream_options") or {}
    include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False

    def frames() -> Iterator[bytes]:
        for chunk in completion.chunks(include_usage=include_usage):
            yield b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return Answer(200, headers=dict(EVENT_STREAM), events=frames())


def embeddings(body: bytes) -> Answer:
    try:
        request = json.loads(body or b"null")
    except ValueError as exc:
        return error(400, f"We could not parse the JSON body of your request: {exc}.")
    try:
        response = create_embeddings(request)
    except InvalidRequest as exc:
        return error(400, exc.message, param=exc.param)
    except Exception:  # a bug in the offline model: answer like a provider's 500, keep the trace
        logger.exception("The offline model failed on an embeddings request")
        return error(500, "The offline model failed on this request.", kind="server_error")
    return Answer(200, body=json.dumps(response, separators=(",", ":")).encode())


def paced(frames: Iterator[bytes], delay_ms: float) -> Iterator[bytes]:
    """The frames `delay_ms` apart: a model producing tokens at a steady, realistic speed.

    Frame i is due `i * delay_ms` after the first, on a fixed schedule: a frame sent late (the
    machine was busy, the reader held up) does not push the ones after it back, as a provider's
    speed does not depend on how busy its client is. Sleeping `delay_ms` after each frame instead
    made the lateness add up: on the chat bench's machine under load, 6 ms at the median and 56 ms
    at p99 over a nine-frame tool call, counted as the time Concierge added.
    """
    for wait, frame in scheduled(frames, delay_ms, time.monotonic):
        if wait > 0:
            time.sleep(wait)
        yield frame


def scheduled(frames: Iterator[bytes], delay_ms: float, clock: Callable[[], float]) -> Iterator[tuple[float, bytes]]:
    """Each frame with the seconds still to wait before sending it, on `paced`'s fixed schedule
    (`clock` reads the time: the sync and the async transport each use their own)."""
    start = clock()
    for index, frame in enumerate(frames):
        yield (start + index * delay_ms / 1000 - clock() if index and delay_ms > 0 else 0.0), frame
