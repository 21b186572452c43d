"""Server-sent events for one run: the runtime's events of that run, in the API's framing.

    event: thread.run.created
    data: {"id":"run_…",…}

    …
    event: done
    data: [DONE]

The generator subscribes to the thread's channel-layer group *before* it starts the run (or
submits the tool outputs), so not one event of the run can be published before anyone listens.
It relays only the events of that run, and ends after a terminal run event or right after
`thread.run.requires_action` (the caller continues with submit_tool_outputs, in a new stream).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.http import StreamingHttpResponse

from common.errors import DomainError
from common.threads import in_worker
from runtime import events
from runtime.models import Run
from runtime.serializers import run_obj

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
# A run never stays active past its expires_at (the expiry sweep ends it); leave room for the sweep.
STREAM_MARGIN_SECONDS = 120.0
DONE = b"event: done\ndata: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"
ENDING_RUN_EVENTS = {
    "thread.run.requires_action",
    "thread.run.completed",
    "thread.run.incomplete",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.expired",
}
RESTING_STATUSES = {"requires_action", *Run.TERMINAL}


def encode(event: str, data: Any) -> bytes:
    """One SSE event: an `event:` line, one line of compact JSON, a blank line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def error_event(message: str, *, code: str | None, type_: str = "server_error", param: str | None = None) -> bytes:
    # The nested "error" makes every SDK version raise; the flat keys match the spec's Error object.
    error = {"message": message, "type": type_, "code": code, "param": param}
    return encode("error", {"error": error, **error})


class RunRelay:
    """Decides which of a thread's events belong to one run."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.steps: set[str] = set()
        self.messages: set[str] = set()

    def accepts(self, name: str, data: Any) -> bool:
        if not isinstance(data, dict):
            return False
        if name == "thread.run.step.delta":
            return data.get("id") in self.steps
        if name.startswith("thread.run.step."):
            if data.get("run_id") != self.run_id:
                return False
            self.steps.add(data.get("id"))
            return True
        if name.startswith("thread.run."):
            return data.get("id") == self.run_id
        if name == "thread.message.delta":
            return data.get("id") in self.messages
        if name.startswith("thread.message."):
            if data.get("run_id") != self.run_id:
                return False
            self.messages.add(data.get("id"))
            return True
        return False  # thread.created comes from the view; Concierge's own events are not the API's

    @staticmethod
    def ends(name: str) -> bool:
        return name in ENDING_RUN_EVENTS


def _resting_run(run_pk: int) -> dict | None:
    """The run object if the run is waiting for outputs or has ended (from the database, not events)."""
    run = Run.objects.select_related("thread", "assistant").filter(pk=run_pk).first()
    return run_obj(run) if run is not None and run.status in RESTING_STATUSES else None


async def _pump(layer, channel: str, inbox: asyncio.Queue) -> None:
    # One long-lived receive loop: a receive() cancelled by a timeout could drop a message with some
    # channel layers, so timeouts apply to the local queue instead.
    while True:
        for event in events.unbatch(await layer.receive(channel)):
            inbox.put_nowait(event)


async def relay_run(
    *, thread_id: str, start: Callable[[], Run], preface: list[tuple[str, Any]] = ()
) -> AsyncIterator[bytes]:
    """Subscribe to the thread, call `start` (sync: creates the run or submits outputs), relay its events."""
    loop = asyncio.get_running_loop()
    await events.attach_server()
    layer = get_channel_layer()
    group = events.group_for(thread_id)
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    inbox: asyncio.Queue = asyncio.Queue()
    pump = asyncio.ensure_future(_pump(layer, channel, inbox))
    try:
        for name, data in preface:
            yield encode(name, data)
        try:
            run = await in_worker(start)
        except DomainError as error:
            yield error_event(error.message, code=error.code, type_="invalid_request_error", param=error.param)
            yield DONE
            return
        except Exception:
            log.exception("could not start the streamed run in %s", thread_id)
            yield error_event("The server had an error while processing your request.", code="server_error")
            yield DONE
            return
        relay = RunRelay(run.public_id)
        deadline = loop.time() + settings.RUN_EXPIRES_AFTER_SECONDS + STREAM_MARGIN_SECONDS
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                yield error_event("The run did not finish in time; retrieve it to see its status.", code="timeout")
                yield DONE
                return
            try:
                message = await asyncio.wait_for(inbox.get(), timeout=min(HEARTBEAT_SECONDS, remaining))
            except TimeoutError:
                # Quiet for a while: maybe the run rests and its event was lost (the layer delivers at
                # most once). The database is the truth.
                resting = await in_worker(lambda: _resting_run(run.pk))
                if resting is not None:
                    yield encode(f"thread.run.{resting['status']}", resting)
                    yield DONE
                    return
                yield KEEP_ALIVE
                continue
            name, data = message.get("event", ""), message.get("data")
            if relay.accepts(name, data):
                yield encode(name, data)
                if relay.ends(name):
                    yield DONE
                    return
    finally:
        pump.cancel()
        await layer.group_discard(group, channel)


def event_stream_response(stream: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
