"""The customer's websocket (/ws/chat/?ticket=…): messages in, the thread's events out.

On connect the socket gets the conversation from the database and the text of an answer still
being written (the stream snapshot), then live events. Events carry the thread's sequence numbers;
deltas already contained in the snapshot are dropped, so a reconnect (network drop, page reload,
mid-answer) shows nothing twice and misses nothing. Only what a customer should see goes out: no
instructions, no tool schemas, no internal ids beyond the message's.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from common.sockets import TYPING_EVERY_SECONDS, GuardedJsonConsumer, client_ip
from common.text import InputRefused, unstorable
from common.threads import in_worker
from runtime import events
from runtime.models import Message, Run, Thread
from runtime.runs.ratings import rating_view
from runtime.serializers import conversation_message, delta_text, run_obj
from runtime.subscribers import RUN_STATES, RelaysThreadEvents
from widget import language, services, sessions

log = logging.getLogger(__name__)


# An answer cut off this way is written again by the same run (a retry that said something else,
# or another worker resuming the run of one that died): the new one replaces it on the screen.
CUT_OFF = "run_failed"


def superseded(messages: list[Message]) -> set[int]:
    """The pks of assistant messages cut off mid-answer whose run went on to write another one."""
    later_in_run: set[int] = set()
    gone: set[int] = set()
    for message in reversed(messages):
        if message.run_id is None:
            continue
        cut_off = (
            message.status == Message.Status.INCOMPLETE and (message.incomplete_details or {}).get("reason") == CUT_OFF
        )
        if cut_off and message.run_id in later_in_run:
            gone.add(message.pk)
        later_in_run.add(message.run_id)
    return gone


# How many of a thread's ended runs a hello remembers, to drop a late state event of theirs.
SETTLED_RUNS = 5


class ChatConsumer(RelaysThreadEvents, GuardedJsonConsumer):
    session: sessions.WidgetSession | None = None
    run_state: str | None = None  # the last run state sent (or the hello's: "thinking" while busy)
    settled: set[str] = frozenset()  # public ids of runs the last hello showed over
    widget_language = language.DEFAULT  # the widget's: what the server's own messages to it are worded in
    # Answers on the screen that their run may write again (still streaming, or cut off): run id ->
    # message ids. When the run starts another message, they are withdrawn from the screen.
    replaceable: dict[str, set[str]]

    async def connect(self) -> None:
        self.replaceable = {}
        self.shown: set[str] = set()  # message ids this socket was shown (from its last hello on)
        headers = dict(self.scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode() or None
        host = headers.get(b"host", b"").decode() or None
        if not sessions.origin_allowed(origin, host):
            await self.close(code=4003)
            return
        ticket = self._query("ticket")
        self.session = await in_worker(sessions.redeem_ticket, ticket) if ticket else None
        if self.session is None:
            await self.close(code=4001)
            return
        self.thread = await in_worker(
            Thread.objects.select_related("customer").filter(public_id=self.session.thread_id).first
        )
        if self.thread is None:
            await self.close(code=4004)
            return
        self.widget_language = (
            language.widget_language((self.thread.metadata or {}).get("widget_language")) or language.DEFAULT
        )
        language.load_detector_soon()
        await events.attach_server()
        self.group = events.group_for(self.thread.public_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(await in_worker(self._hello))
        events.resync_after_outages(self)

    async def resync(self) -> None:
        """After a Redis outage (events published meanwhile were lost): the conversation again, as a
        new hello, from the database and the stream snapshot. The widget takes a hello at any time
        as the state to resume from (static/shared/socket.js), as after a reconnect. If this socket
        was told a run is under way and none is now, the hello also says how the run ended (`run`,
        the frame the run's own event would have made: a failure's message offers a person); in the
        hello, not after it, so it is never read as the end of a later run."""
        ended_view = None
        if self.run_state in ("thinking", "waiting"):
            ended = await in_worker(self._last_run_ended)
            if ended is not None:  # its view before the hello, which counts the run among those settled
                with translation.override(self.widget_language):
                    ended_view = self._view(*ended, 0)
        hello = await in_worker(self._hello)
        if ended_view is not None and not hello["busy"]:
            hello["run"] = ended_view
        await self.send_json(hello)

    def _last_run_ended(self) -> tuple[str, dict] | None:
        run = self.thread.runs.order_by("-created_at", "-id").first()
        if run is None or run.status not in Run.TERMINAL:
            return None
        return f"thread.run.{run.status}", run_obj(run)

    def _query(self, name: str) -> str:
        values = parse_qs((self.scope.get("query_string") or b"").decode()).get(name)
        return values[0] if values else ""

    def _hello(self) -> dict:
        """The conversation so far; subscribed first, so nothing published after this is missed."""
        floor = events.current_seq(self.thread.public_id)
        snapshot = events.stream_snapshot(self.thread.public_id)
        rows = list(
            self.thread.messages.exclude(status=Message.Status.IN_PROGRESS)
            .select_related("run")
            .order_by("created_at", "id")
        )
        gone = superseded(rows)
        rows = [m for m in rows if m.pk not in gone]
        messages = [conversation_message(m) for m in rows]
        self.replaceable = {}
        for row in rows:
            if (
                row.run_id
                and row.status == Message.Status.INCOMPLETE
                and (row.incomplete_details or {}).get("reason") == CUT_OFF
            ):
                self.replaceable.setdefault(row.run.public_id, set()).add(row.public_id)
        streaming = None
        if snapshot and not any(m["id"] == snapshot["message_id"] for m in messages):
            streaming = {"id": snapshot["message_id"], "text": snapshot["text"], "seq": snapshot["seq"]}
            floor = max(floor, snapshot["seq"]) if snapshot["seq"] else floor
            self.replaceable.setdefault(snapshot.get("run_id") or "", set()).add(snapshot["message_id"])
        self.delta_floor = snapshot["seq"] if streaming else floor
        self.shown = {m["id"] for m in messages} | ({streaming["id"]} if streaming else set())
        active = self.thread.runs.active().exists()
        self.run_state = "thinking" if active else None
        # Runs already over: a state event of theirs still on its way is old news after this hello.
        self.settled = set(
            self.thread.runs.exclude(status__in=Run.ACTIVE)
            .order_by("-created_at")
            .values_list("public_id", flat=True)[:SETTLED_RUNS]
        )
        customer = self.thread.customer
        return {
            "type": "hello",
            "thread_id": self.thread.public_id,
            "mode": self.thread.mode,
            "customer": {"name": customer.name} if customer else None,
            "messages": messages,
            "streaming": streaming,
            "busy": active,
            "seq": floor,
            # An ended conversation offers its rating (None: not rated yet); see runtime.runs.ratings.
            "rating": rating_view(self.thread) if self.thread.mode == Thread.Mode.CLOSED else None,
        }

    def _run_ended_unheard(self) -> bool:
        """This socket thinks a run is under way, but the thread has none: the run ended and its last
        events never came. They are published after the run's end is stored, and a worker killed in
        between takes them with it (the channel layer delivers at most once besides). The client's
        ping, which comes when it has heard nothing for a while, then gets a new hello: the
        conversation as a reconnect would show it, the answer and the run's end with it."""
        return not self.thread.runs.active().exists()

    async def disconnect(self, code: int) -> None:
        events.stop_resyncing(self)
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # --- from the customer -------------------------------------------------------------------

    async def receive_json(self, content: dict, **kwargs) -> None:
        with translation.override(self.widget_language):
            await self._receive(content)

    async def _receive(self, content: dict) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "message":
            await self._on_message(content)
        elif kind == "typing":
            if self.first_in("typing", TYPING_EVERY_SECONDS):
                await in_worker(
                    events.publish,
                    self.thread.public_id,
                    "typing",
                    {"who": "customer", "thread_id": self.thread.public_id},
                )
        elif kind == "ping":
            if self.run_state in ("thinking", "waiting") and await in_worker(self._run_ended_unheard):
                await self.send_json(await in_worker(self._hello))
            await self.send_json({"type": "pong"})
        elif kind in ("end", "rate", "rate_comment"):
            await self._on_closing(kind, content)
        else:
            await self._error("bad_request", _("Unknown message type."))

    async def _on_message(self, content: dict) -> None:
        text = content.get("text")
        client_id = str(content.get("client_id") or "")[:64]
        images = content.get("images") or []
        if not isinstance(images, list) or not all(isinstance(i, str) and 0 < len(i) <= 64 for i in images):
            await self._error("bad_request", _("'images' must be a list of file ids."), client_id)
            return
        if len(images) > settings.WIDGET_MAX_IMAGES_PER_MESSAGE:
            limit = settings.WIDGET_MAX_IMAGES_PER_MESSAGE
            await self._error(
                "too_many_images", _("Attach at most %(limit)s photos to one message.") % {"limit": limit}, client_id
            )
            return
        if text is None and images:
            text = ""
        if not isinstance(text, str) or not (text.strip() or images):
            await self._error("empty", _("Type a message first."), client_id)
            return
        if len(text) > settings.WIDGET_MAX_MESSAGE_CHARS:
            await self._error(
                "too_long",
                _("That message is too long (%(length)s characters; the limit is %(limit)s).")
                % {"length": len(text), "limit": settings.WIDGET_MAX_MESSAGE_CHARS},
                client_id,
            )
            return
        result = await in_worker(
            services.customer_says,
            self.session,
            self.thread,
            text.strip(),
            client_id=client_id,
            ip=client_ip(self.scope),
            images=tuple(dict.fromkeys(images)),
        )
        if "error" in result:
            await self._error(result["error"], result["message"], client_id)
        else:
            await self.send_json({"type": "ack", "client_id": client_id, "message": result["message"]})

    async def _on_closing(self, kind: str, content: dict) -> None:
        """End the chat, rate it, or comment on the rating: always this socket's own conversation (a
        thread id in the frame is never read). An ending is told by the thread's mode event."""
        if not await in_worker(services.closing_allowed, self.session):
            result = services.rate_limited()
        elif kind == "end":
            result = await in_worker(services.customer_ends, self.thread)
        elif kind == "rate":
            result = await in_worker(services.customer_rates, self.thread, content.get("score"))
        else:
            result = await in_worker(services.customer_comments, self.thread, content.get("text"))
        if "error" in result:
            await self._error(result["error"], result["message"])
        elif "rating" in result:
            await self.send_json({"type": "rating", "rating": result["rating"]})

    async def refuse_frame(self, refused: InputRefused) -> None:
        # Name the customer's message when the frame was one, so the widget marks that message failed.
        data = refused.data if isinstance(refused.data, dict) else {}
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or unstorable(client_id):
            client_id = ""
        await self._error(refused.code, refused.message, client_id[:64])

    async def _error(self, code: str, message: str, client_id: str = "") -> None:
        await self.send_json({"type": "error", "code": code, "message": message, "client_id": client_id or None})

    # --- to the customer ---------------------------------------------------------------------

    async def thread_event(self, event: dict) -> None:
        name, data, seq = event["event"], event["data"], event["seq"]
        if name == "thread.message.delta" and seq > self.delta_floor and data["id"] not in self.shown:
            await self._catch_up(data["id"], seq)
        with translation.override(self.widget_language):
            out = self._view(name, data, seq)
        if out is not None:
            out["seq"] = seq
            await self.send_json(out)

    async def _catch_up(self, message_id: str, seq: int) -> None:
        """Words of an answer this socket never saw start: its start was lost (Redis restarted while it
        was being written) or came before the hello's snapshot was saved. Relayed as they are, the
        screen would show the answer without its beginning. So wait (a second at most) for the
        writer's snapshot to reach these words, and send the conversation again from it; the words
        it holds are then dropped here (delta_floor) and by the widget (the hello's seq)."""
        self.shown.add(message_id)  # once: if the snapshot never comes, the words go on as they are
        for _attempt in range(20):
            snapshot = await in_worker(events.stream_snapshot, self.thread.public_id)
            if snapshot and snapshot["message_id"] == message_id and snapshot["seq"] >= seq:
                await self.send_json(await in_worker(self._hello))
                return
            await asyncio.sleep(0.05)

    def _view(self, name: str, data: dict, seq: int) -> dict | None:
        if name == "thread.message.delta":
            if seq <= self.delta_floor:
                return None  # already in the snapshot this socket started from
            return {"type": "delta", "id": data["id"], "text": delta_text(data)}
        if name == "thread.message.created":  # its in_progress twin says nothing new to a customer
            out = {"type": "message_started", "message": conversation_message(data)}
            self.shown.add(data["id"])
            if data.get("role") == "assistant" and data.get("run_id"):
                same_run = self.replaceable.setdefault(data["run_id"], set())
                replaces = sorted(same_run - {data["id"]})
                if replaces:
                    out["replaces"] = replaces  # the widget takes them off the screen
                same_run.clear()
                same_run.add(data["id"])
            return out
        if name in ("thread.message.completed", "thread.message.incomplete"):
            cut_off = (data.get("incomplete_details") or {}).get("reason") == CUT_OFF
            if data.get("run_id") and not cut_off:
                self.replaceable.get(data["run_id"], set()).discard(data["id"])
            return {"type": "message", "message": conversation_message(data)}
        if name in RUN_STATES:
            if data.get("id") in self.settled:
                return None  # a hello already showed this run over
            if RUN_STATES[name] == self.run_state == "thinking":
                return None  # queued, then in progress: one "thinking" is enough
            self.run_state = RUN_STATES[name]
            out = {"type": "run", "state": self.run_state}
            if name == "thread.run.failed" and data.get("last_error"):
                out["message"] = data["last_error"]["message"]
            if name == "thread.run.expired":
                out["message"] = _("I couldn't finish that answer in time. Please ask again.")
            return out
        if name == "conversation.activity":
            return {
                "type": "activity",
                "label": language.activity_label(str(data.get("label") or "")),
                "status": data.get("status"),
                "call_id": data.get("call_id"),
            }
        if name == "conversation.escalated":
            return {"type": "handoff", "state": "waiting", "message": _("A person from our team will join shortly.")}
        if name in ("agent.joined", "agent.left", "agent.message", "conversation.mode"):
            return {"type": name.replace(".", "_"), **{k: v for k, v in data.items() if k != "thread_id"}}
        if name == "typing" and data.get("who") == "agent":
            return {"type": "typing", "who": "agent", "name": data.get("name", "")}
        return None
