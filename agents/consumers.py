"""The agent console's websocket (/ws/console/): the live queue, and the conversations an agent has open.

Session-authenticated (AuthMiddlewareStack); only console staff (agents.permissions.is_agent) get
in. Every socket hears the staff group (escalations, notes, approvals). An open conversation page
sends {"type": "watch", "thread_id"} and then also hears that thread's events: the customer's
messages and typing, the assistant's answer as it streams, its tool calls, the summary. The agent's
typing goes the other way, to the thread's group, where the customer's widget shows it.
"""

from __future__ import annotations

import json
import logging

from channels.db import database_sync_to_async

from agents import selectors
from agents.analyst.threads import without_analyst_threads
from agents.permissions import is_agent
from common.sockets import TYPING_EVERY_SECONDS, GuardedJsonConsumer
from runtime import events
from runtime.models import Message, Thread
from runtime.serializers import conversation_message, delta_text
from runtime.subscribers import RUN_STATES, RelaysThreadEvents

log = logging.getLogger(__name__)

MAX_WATCHED = 20  # conversations one socket may follow at once


class ConsoleConsumer(RelaysThreadEvents, GuardedJsonConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4001)
            return
        if not await database_sync_to_async(is_agent)(user):
            await self.close(code=4003)
            return
        self.user = user
        self.display_name = user.get_full_name() or user.get_username()
        self.watching: set[str] = set()
        await events.attach_server()
        await self.channel_layer.group_add(events.STAFF_GROUP, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(self._hello)())
        events.resync_after_outages(self)

    async def resync(self) -> None:
        """After a Redis outage (the queue's and the watched threads' events meanwhile were lost):
        close with 1012 (service restart); the console reconnects at once, gets a new hello and
        watches its threads again, each sent from the database (static/console/console.js)."""
        await self.close(code=1012)

    def _hello(self) -> dict:
        return {"type": "hello", "queue": selectors.queue(), "approvals": selectors.pending_approvals()}

    async def disconnect(self, code: int) -> None:
        events.stop_resyncing(self)
        if not hasattr(self, "watching"):
            return
        await self.channel_layer.group_discard(events.STAFF_GROUP, self.channel_name)
        for thread_id in list(self.watching):
            await self.channel_layer.group_discard(events.group_for(thread_id), self.channel_name)

    # --- from the console ----------------------------------------------------------------------

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        thread_id = str(content.get("thread_id") or "")[:40] if isinstance(content, dict) else ""
        if kind == "watch":
            await self._watch(thread_id)
        elif kind == "unwatch":
            self.watching.discard(thread_id)
            await self.channel_layer.group_discard(events.group_for(thread_id), self.channel_name)
        elif kind == "typing":
            await self._typing(thread_id)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "bad_request", "message": "Unknown message type."})

    async def _watch(self, thread_id: str) -> None:
        snapshot = await database_sync_to_async(self._snapshot)(thread_id)
        if snapshot is None:
            await self.send_json({"type": "error", "code": "not_found", "message": "No such conversation."})
            return
        if thread_id not in self.watching and len(self.watching) >= MAX_WATCHED:
            await self.send_json({"type": "error", "code": "too_many", "message": "Close another conversation."})
            return
        # Subscribe before reading, so nothing published in between is missed (the page de-duplicates).
        self.watching.add(thread_id)
        await self.channel_layer.group_add(events.group_for(thread_id), self.channel_name)
        snapshot = await database_sync_to_async(self._snapshot)(thread_id)
        await self.send_json({"type": "watching", **snapshot})

    def _snapshot(self, thread_id: str) -> dict | None:
        """The conversation as it stands (rights checked again: a user may have lost them since connecting)."""
        if not is_agent(self.user):
            return None
        thread = without_analyst_threads(Thread.objects.filter(public_id=thread_id)).first()
        if thread is None:
            return None
        messages = thread.messages.exclude(status=Message.Status.IN_PROGRESS).order_by("created_at", "id")
        return {
            "thread_id": thread.public_id,
            "mode": thread.mode,
            "messages": [conversation_message(m) for m in messages],
        }

    async def _typing(self, thread_id: str) -> None:
        if thread_id not in self.watching or not self.first_in(f"typing:{thread_id}", TYPING_EVERY_SECONDS):
            return
        data = {"who": "agent", "name": self.display_name, "username": self.user.get_username(), "thread_id": thread_id}
        await database_sync_to_async(events.publish)(thread_id, "typing", data)

    # --- to the console --------------------------------------------------------------------------

    async def staff_event(self, event: dict) -> None:
        out = {"type": "staff", "event": event["event"], "data": event["data"]}
        if event["event"].startswith("approval."):
            out["approvals"] = await database_sync_to_async(selectors.pending_approvals)()
        await self.send_json(out)

    async def thread_event(self, event: dict) -> None:
        thread_id = event.get("thread") or (event["data"] or {}).get("thread_id")
        if thread_id not in self.watching:
            return  # unwatched a moment ago
        out = self._view(event["event"], event["data"])
        if out is not None:
            await self.send_json({"thread_id": thread_id, **out})

    def _view(self, name: str, data: dict) -> dict | None:
        if name in ("thread.message.completed", "thread.message.incomplete"):
            return {"type": "message", "message": conversation_message(data)}
        if name in ("thread.message.created", "thread.message.in_progress"):
            return {"type": "message_started", "message": conversation_message(data)}
        if name == "thread.message.delta":
            return {"type": "delta", "id": data["id"], "text": delta_text(data)}
        if name == "typing":
            return {"type": "typing", **{k: v for k, v in data.items() if k != "thread_id"}}
        if name == "conversation.activity":
            return {
                "type": "activity",
                "label": data.get("label", ""),
                "status": data.get("status"),
                "tool": data.get("tool"),
            }
        if name == "thread.run.step.completed" and data.get("step_details", {}).get("type") == "tool_calls":
            return {"type": "tool_calls", "calls": [_call_view(call) for call in data["step_details"]["tool_calls"]]}
        if name in RUN_STATES:
            return {"type": "run", "state": RUN_STATES[name]}
        if name in ("conversation.escalated", "agent.joined", "conversation.mode"):
            return {"type": "conversation", "event": name, "data": data}
        if name == "escalation.summary":
            return {"type": "summary", "summary": data.get("summary")}
        return None


def _call_view(call: dict) -> dict:
    """A step's tool call as the conversation page shows it: a function's name, arguments and output;
    a built-in tool's (file_search, code_interpreter) by its type, its input (the code) and the rest."""
    if call.get("type") == "function":
        function = call["function"]
        return {
            "call_id": call["id"],
            "name": function["name"],
            "arguments": selectors.pretty_json(function["arguments"]),
            "output": selectors.pretty_json(function["output"]),
        }
    details = dict(call.get(call.get("type")) or {})
    code = details.pop("input", "")
    return {
        "call_id": call["id"],
        "name": call.get("type", ""),
        "arguments": code if isinstance(code, str) else "",
        "output": json.dumps(details, indent=2, ensure_ascii=False),
    }
