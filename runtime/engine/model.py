"""One model call: stream a chat completion through the openai SDK, with retries.

429s, 5xx, timeouts, streams cut before their finish and chunks of broken JSON are retried with exponential backoff and
jitter, a bounded number of times. A retried call re-sends the same prompt (tool results already in
it, so no tool runs twice); text already shown to the customer is not shown again: the retry's text
is passed on only past what was already emitted, or, if the model now says something else, the
writer is told to start over. A whole stream has a wall-clock deadline, since the client's read
timeout only bounds the gap between two chunks.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import openai
from django.conf import settings
from django.db import InterfaceError, OperationalError

from runtime import metrics
from runtime.llm.client import chat_client, classify_error

log = logging.getLogger(__name__)

CUSTOMER_MESSAGES = {
    "rate_limit_exceeded": "I'm getting too many requests right now and couldn't answer. Please try again in a "
    "minute, or ask for a person and someone from our team will help.",
    "server_error": "I'm having trouble answering right now. Please try again in a moment, or ask for a person "
    "and someone from our team will help.",
    "invalid_prompt": "I couldn't process this conversation. Please ask for a person and someone from our team "
    "will help.",
}


class ModelCallFailed(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    @property
    def customer_message(self) -> str:
        return CUSTOMER_MESSAGES[self.code]


class SinkRefused(Exception):
    """Raised by a sink that must not take more text (a person took over): ends the call at once."""


class _StreamCut(Exception):
    """The stream ended or stalled without a finish reason."""


@dataclass
class PendingCall:
    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class ModelTurn:
    text: str = ""
    tool_calls: list[PendingCall] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    duration_ms: int = 0
    first_chunk_seconds: float | None = None  # from the request to the stream's first chunk
    stopped: bool = False  # the caller asked to stop (cancel, takeover) mid-stream


@dataclass
class TextSink:
    """Where streamed text goes: `write(piece)`, and `restart()` when a retry diverged; and, when
    given, `tool_progress(call)` each time a tool call's name or arguments grew (a retry starts its
    calls again from nothing)."""

    write: Callable[[str], None]
    restart: Callable[[], None]
    tool_progress: Callable[[PendingCall], None] | None = None


def _retry_delay(attempt: int, error: Exception | None) -> float:
    retry_after = None
    response = getattr(error, "response", None)
    if response is not None:
        try:
            retry_after = float(response.headers.get("retry-after-ms", "")) / 1000
        except ValueError:
            try:
                retry_after = float(response.headers.get("retry-after", ""))
            except ValueError:
                retry_after = None
    base = settings.MODEL_RETRY_BASE_SECONDS * (2 ** (attempt - 1))
    delay = min(base, 20.0) * random.uniform(0.5, 1.0)  # full jitter keeps retrying workers apart
    if retry_after is not None and 0 <= retry_after <= 60:
        delay = max(delay, retry_after)
    return delay


def _classify(error: Exception) -> tuple[str, bool]:
    """(last_error code, retryable) for an exception raised by a model call: a stream cut mid-answer
    or garbled (a chunk that is not JSON, which the SDK raises as it reads it) is retried; the rest
    as runtime.llm.client classifies every model call's errors."""
    if isinstance(error, _StreamCut | json.JSONDecodeError):
        return "server_error", True
    return classify_error(error)


def call_model(
    request: dict,
    sink: TextSink | None = None,
    should_stop: Callable[[], bool] | None = None,
    opened: Callable[[], None] | None = None,
    max_attempts: int | None = None,
) -> ModelTurn:
    """Stream one completion for `request` (chat.completions arguments without `stream`).

    The request goes out through the SDK's client as `chat.completions.create` sends it, without
    that method's walk over the arguments' declared types: it rewrites nothing in a request of
    plain JSON values like this one, and took 2 ms of the worker's CPU per call, before the model
    even had the request (a test in tests/runtime/test_run_lifecycle.py checks it would change nothing).

    `opened` is called once, when the model first accepted the request and before its first chunk
    is read: work done there overlaps the model's time to first token instead of adding to it.
    Retryable failures are tried again with backoff, up to `max_attempts` (MODEL_MAX_ATTEMPTS).
    """
    max_attempts = max_attempts or settings.MODEL_MAX_ATTEMPTS
    client = chat_client()

    def once() -> None:
        nonlocal opened
        if opened is not None:
            callback, opened = opened, None
            callback()

    emitted = ""  # text passed to the sink, across attempts
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            turn = _stream_once(client, request, sink, emitted, should_stop, once)
        except (SinkRefused, OperationalError, InterfaceError):
            raise  # a person took over, or the database went away (the run resumes): no model fault
        except Exception as error:
            code, retryable = _classify(error)
            if not retryable or attempt >= max_attempts:
                log.warning("model call failed after %s attempt(s): %r", attempt, error)
                metrics.MODEL_CALLS.labels(code).inc()
                raise ModelCallFailed(code, str(error) or error.__class__.__name__) from error
            emitted = getattr(error, "emitted", emitted)
            delay = _retry_delay(attempt, error)
            log.info("model call attempt %s failed (%r); retrying in %.2fs", attempt, error, delay)
            metrics.MODEL_RETRIES.labels(code).inc()
            time.sleep(delay)
            continue
        turn.attempts = attempt
        turn.duration_ms = int((time.monotonic() - started) * 1000)
        _measured(turn)
        return turn


def _measured(turn: ModelTurn) -> None:
    metrics.MODEL_CALLS.labels("ok").inc()
    if turn.first_chunk_seconds is not None:
        metrics.MODEL_FIRST_TOKEN_SECONDS.observe(turn.first_chunk_seconds)
    metrics.MODEL_TOKENS.labels("prompt").inc(turn.prompt_tokens)
    metrics.MODEL_TOKENS.labels("completion").inc(turn.completion_tokens)
    cost = (
        turn.prompt_tokens * settings.COST_PER_MILLION_PROMPT_TOKENS
        + turn.completion_tokens * settings.COST_PER_MILLION_COMPLETION_TOKENS
    ) / 1_000_000
    metrics.MODEL_COST.inc(cost)


def open_stream(client: openai.OpenAI, request: dict) -> openai.Stream[object]:
    """Start a streamed chat completion of `request` as `chat.completions.create` sends it, with
    usage in its last chunk, without that method's walk over the arguments' types.

    Each chunk comes as the JSON object the provider sent (the SDK still decodes the event stream
    and raises the errors in it): building a ChatCompletionChunk model of every chunk cost the
    worker 0.15 ms each, some 45 per answer, of which a few fields are read."""
    return client.post(
        "/chat/completions",
        body={**request, "stream": True, "stream_options": {"include_usage": True}},
        options={"security": {"bearer_auth": True}},  # as chat.completions.create authenticates
        cast_to=object,
        stream=True,
        stream_cls=openai.Stream[object],
    )


def _stream_once(client, request, sink, emitted, should_stop, opened) -> ModelTurn:
    turn = ModelTurn()
    calls: dict[int, PendingCall] = {}
    deadline = time.monotonic() + settings.MODEL_STREAM_DEADLINE_SECONDS
    diverged = False
    sent = time.monotonic()
    stream = open_stream(client, request)
    try:
        opened()
        for chunk in stream:
            if turn.first_chunk_seconds is None:
                turn.first_chunk_seconds = time.monotonic() - sent
            if time.monotonic() > deadline:
                raise _StreamCut(f"the stream ran past its {settings.MODEL_STREAM_DEADLINE_SECONDS:.0f}s deadline")
            usage = chunk.get("usage")
            if usage:
                turn.prompt_tokens = usage.get("prompt_tokens") or 0
                turn.completion_tokens = usage.get("completion_tokens") or 0
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    turn.text += delta["content"]
                    if sink is not None:
                        emitted, diverged = _pass_on(turn.text, emitted, diverged, sink)
                for tc in delta.get("tool_calls") or ():
                    call = calls.setdefault(tc["index"], PendingCall(index=tc["index"]))
                    call.id = call.id or (tc.get("id") or "")
                    function = tc.get("function") or {}
                    call.name = call.name or (function.get("name") or "")
                    call.arguments += function.get("arguments") or ""
                    if sink is not None and sink.tool_progress is not None:
                        sink.tool_progress(call)
                if choice.get("finish_reason"):
                    turn.finish_reason = choice["finish_reason"]
            if should_stop is not None and should_stop():
                turn.stopped = True
                break
    except Exception as error:
        error.emitted = emitted  # type: ignore[attr-defined]
        raise
    finally:
        stream.close()
    if turn.finish_reason is None and not turn.stopped:
        cut = _StreamCut("the model's stream ended before it finished")
        cut.emitted = emitted  # type: ignore[attr-defined]
        raise cut
    turn.tool_calls = [calls[i] for i in sorted(calls)]
    return turn


def _pass_on(text: str, emitted: str, diverged: bool, sink: TextSink) -> tuple[str, bool]:
    """Hand the sink only text it has not seen; restart it if a retry's text departs from it."""
    if diverged or text.startswith(emitted):
        if len(text) > len(emitted):
            sink.write(text[len(emitted) :])
            return text, diverged
        return emitted, diverged
    if emitted.startswith(text):
        return emitted, diverged  # still replaying what was already shown
    sink.restart()
    sink.write(text)
    return text, True
