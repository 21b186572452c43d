"""A built-in tool call shown as the model writes it: code_interpreter's code, in step deltas.

A tool that names a `streamed_input` (runtime.tools.registry) has that string argument streamed
while the model's answer is still coming: at the call's first fragment its tool_calls step opens
(announced now, stored with the calls once the model's turn is complete, under the same id, as the
message writer does with a message), then each new piece of the argument's text goes out as
`{"index", "type": name, name: {"input": piece}}`, batched like text (STREAM_BATCH_MS).

Calls are announced in their index order (the SDKs accumulate a step's calls by index), so only a
run of streamed calls from the first one is streamed early; the others, and whatever was not sent
yet, are announced when the step is stored (`announce_rest`). A retried model call replays its
arguments: what was sent already is not sent again; a retry that writes something else stops that
call's deltas, and the completed step has the call as stored.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from runtime import events
from runtime.engine.model import PendingCall
from runtime.models import Run, RunStep, ToolCall
from runtime.serializers import json_object, step_obj
from runtime.tools.registry import Tool

_SPECIAL = re.compile(r'["\\]')
_SIMPLE_ESCAPE_LENGTH = 2
_UNICODE_ESCAPE_LENGTH = 6


def _opening(key: str) -> re.Pattern[str]:
    return re.compile(r"\s*\{\s*" + re.escape(json.dumps(key)) + r'\s*:\s*"')


class StringArgument:
    """The text so far of one string argument of JSON arguments still being written.

    `read(arguments)` returns the whole decoded text of `key` up to the last complete character, or
    None until the value has begun (the argument must be the object's first: models write the
    arguments of a one-argument tool that way). Each call decodes only what was added since the last.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.opening = _opening(key)
        self.raw = ""  # the arguments read so far
        self.start = -1  # where the string's characters begin in `raw`
        self.position = 0  # how far they were decoded
        self.text = ""
        self.closed = False

    def read(self, arguments: str) -> str | None:
        if not arguments.startswith(self.raw):  # a new attempt wrote something else: read afresh
            self.__init__(self.key)
        self.raw = arguments
        if self.start < 0:
            found = self.opening.match(arguments)
            if found is None:
                return None
            self.start = self.position = found.end()
        if not self.closed:
            end = self._safe_end()
            if end > self.position:
                try:
                    self.text += json.loads('"' + arguments[self.position : end] + '"')
                except ValueError:  # not JSON (a bad escape): what was read stands, the rest waits for the step
                    self.closed = True
                    return self.text
                self.position = end
        return self.text

    def _safe_end(self) -> int:
        """Where the complete characters end: before a closing quote, or an escape not yet whole."""
        raw, at = self.raw, self.position
        while True:
            found = _SPECIAL.search(raw, at)
            if found is None:
                return len(raw)
            at = found.start()
            if raw[at] == '"':
                self.closed = True
                return at
            if at + 1 >= len(raw):
                return at
            length = _UNICODE_ESCAPE_LENGTH if raw[at + 1] == "u" else _SIMPLE_ESCAPE_LENGTH
            if at + length > len(raw):
                return at
            if length == _UNICODE_ESCAPE_LENGTH and 0xD800 <= _hex(raw[at + 2 : at + 6]) < 0xDC00:
                # A high surrogate is decoded with the low one that follows it.
                if at + 2 * length > len(raw):
                    return at
                length *= 2
            at += length


def _hex(digits: str) -> int:
    try:
        return int(digits, 16)
    except ValueError:
        return -1


@dataclass
class _Streamed:
    """One call streamed early: its id, how its argument reads, and the text sent and not yet sent."""

    call_id: str
    name: str
    argument: StringArgument
    sent: str = ""
    unsent: str = ""
    diverged: bool = False


@dataclass
class ToolStream:
    """The tool_calls step of one model call, opened as its first streamed call begins."""

    run: Run
    tools: dict[str, Tool]
    # Called before the step opens: text the model wrote before its tool calls ends its message first.
    before_open: Callable[[], None] = lambda: None
    step: RunStep | None = None
    calls: dict[int, _Streamed] = field(default_factory=dict)
    # The first index not streamed early; later calls are announced when the step is stored.
    stopped_at: int | None = None
    _last_flush: float = 0.0

    def _streams(self, name: str) -> Tool | None:
        tool = self.tools.get(name)
        return tool if tool is not None and tool.builtin and tool.streamed_input else None

    def progress(self, call: PendingCall) -> None:
        """The model's call at `call.index` grew (its name, its arguments)."""
        index = call.index
        known = self.calls.get(index)
        if known is None:
            if not call.name or (self.stopped_at is not None and index >= self.stopped_at):
                return
            tool = self._streams(call.name)
            if tool is None or index != len(self.calls):
                self.stopped_at = index if self.stopped_at is None else min(self.stopped_at, index)
                return
            known = self._open_call(call, tool)
        elif known.name != call.name and call.name:  # a retry called another tool here
            known.diverged = True
        text = known.argument.read(call.arguments)
        if text is None or known.diverged:
            return
        said = known.sent + known.unsent
        if text.startswith(said):
            known.unsent += text[len(said) :]
        elif not said.startswith(text):  # neither more of the same nor a replay of it
            known.diverged = True
            known.unsent = ""
        if known.unsent and (time.monotonic() - self._last_flush) * 1000 >= settings.STREAM_BATCH_MS:
            self.flush()

    def _open_call(self, call: PendingCall, tool: Tool) -> _Streamed:
        announce: list[tuple[str, dict]] = []
        if self.step is None:
            self.before_open()
            self.step = RunStep(run=self.run, type=RunStep.Type.TOOL_CALLS)
            announce += [
                ("thread.run.step.created", step_obj(self.step, tool_calls=[])),
                ("thread.run.step.in_progress", step_obj(self.step, tool_calls=[])),
            ]
        call_id = call.id or f"call_{self.step.public_id[5:]}{call.index}"
        streamed = _Streamed(call_id=call_id, name=call.name, argument=StringArgument(tool.streamed_input))
        self.calls[call.index] = streamed
        first = {"index": call.index, "id": call_id, "type": call.name, call.name: {"input": "", "outputs": []}}
        announce.append(("thread.run.step.delta", step_delta(self.step, first)))
        events.publish_many(self.run.thread.public_id, announce)
        self._last_flush = time.monotonic()
        return streamed

    def flush(self) -> None:
        """Publish the input not yet sent, one delta per call."""
        if self.step is None:
            return
        items = []
        for index, streamed in sorted(self.calls.items()):
            if streamed.unsent and not streamed.diverged:
                piece = {"index": index, "type": streamed.name, streamed.name: {"input": streamed.unsent}}
                items.append(("thread.run.step.delta", step_delta(self.step, piece)))
                streamed.sent += streamed.unsent
                streamed.unsent = ""
        if items:
            events.publish_many(self.run.thread.public_id, items)
        self._last_flush = time.monotonic()

    @property
    def opened(self) -> bool:
        return self.step is not None

    def call_id(self, index: int) -> str:
        """The id announced for the call at `index` ("" if it was not streamed early)."""
        streamed = self.calls.get(index)
        return streamed.call_id if streamed is not None else ""

    def announce_rest(self, step: RunStep, calls: list[ToolCall]) -> list[tuple[str, dict]]:
        """The events that announce the stored step's calls, after what was streamed of them: the
        step's opening unless it opened already, each call's first delta unless it was streamed, and
        the input not sent yet."""
        announce: list[tuple[str, dict]] = []
        if self.step is None:
            announce += [
                ("thread.run.step.created", step_obj(step, tool_calls=[])),
                ("thread.run.step.in_progress", step_obj(step, tool_calls=[])),
            ]
        for call in calls:
            tool = self.tools.get(call.name)
            streamed = self.calls.get(call.index)
            if streamed is not None and streamed.name == call.name:
                said = streamed.sent
            elif tool is not None and tool.builtin:
                opening = {"input": "", "outputs": []} if tool.streamed_input else {}
                first = {"index": call.index, "id": call.call_id, "type": call.name, call.name: opening}
                announce.append(("thread.run.step.delta", step_delta(step, first)))
                said = ""
            else:
                first = {"index": call.index, "id": call.call_id, "type": "function"}
                first["function"] = {"name": call.name, "arguments": "", "output": None}
                announce.append(("thread.run.step.delta", step_delta(step, first)))
                more = {"index": call.index, "type": "function", "function": {"arguments": call.arguments}}
                announce.append(("thread.run.step.delta", step_delta(step, more)))
                continue
            if tool is None or not tool.streamed_input or (streamed is not None and streamed.diverged):
                continue
            value = json_object(call.arguments).get(tool.streamed_input)
            if isinstance(value, str) and value.startswith(said) and len(value) > len(said):
                piece = {"index": call.index, "type": call.name, call.name: {"input": value[len(said) :]}}
                announce.append(("thread.run.step.delta", step_delta(step, piece)))
        return announce

    def discard(self, status: str) -> None:
        """The model call ended without storing the step it opened (stopped, failed, or a retry that
        answered in words): tell the subscribers it ended `status` (cancelled or failed)."""
        if self.step is None:
            return
        step, self.step = self.step, None
        step.status = status
        if status == RunStep.Status.FAILED:
            step.last_error = {"code": "server_error", "message": "The model's call did not finish."}
        events.publish(self.run.thread.public_id, f"thread.run.step.{status}", step_obj(step, tool_calls=[]))


def step_delta(step: RunStep, call_delta: dict) -> dict:
    return {
        "id": step.public_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call_delta]}},
    }
