"""The customers of bench/chaos.py: websocket clients of /ws/chat/ that behave as the widget does.

Each opens a widget session, holds a socket (a ticket per socket, reconnect with backoff), resumes
from the hello and drops the events it covered, resends an unacknowledged message with its
client_id, and keeps its screen as static/widget/app.js does (the assistant's bubbles; an answer
the server says is replaced is withdrawn), so the harness can check what a customer saw.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field

import websockets

from bench.chat_load import post_json  # the widget's session call, as chat_load makes it


def scripts_for(index: int, kind: str) -> list[str]:
    """What customer `index` says, one message a turn (their own orders: P… placed, D… delivered)."""
    email, paid, delivered = f"c{index}@chaos.test", f"P{10000 + index}", f"D{10000 + index}"
    return {
        "cancel": [f"Please cancel order {paid}, my email is {email}", "yes"],
        "return": [f"The napkins from {delivered} arrived torn, I want to return them. My email is {email}", "yes"],
        "status": ["Hello!", f"Where is my order {delivered}? My email is {email}"],
    }[kind]


@dataclass
class Turn:
    text: str
    client_id: str
    acked: bool = False
    outcome: str = ""  # answered | failed_told | failed_untold | handoff | lost
    told: str = ""
    seconds: float = 0.0
    began_at: float = 0.0  # wall clock, to set beside the runs' timestamps
    # What the socket saw during the turn, for a turn that ends "lost": (seconds into the turn, frame
    # type, seq, run state or error code, dropped as covered by a hello?); deltas counted, not listed.
    seen: list[tuple] = field(default_factory=list)
    deltas: int = 0
    last_seq: int = 0


@dataclass
class Customer:
    """One widget: its screen (the assistant's bubbles as app.js keeps them) and every turn."""

    index: int
    kind: str
    turns: list[Turn] = field(default_factory=list)
    bubbles: dict[str, str] = field(default_factory=dict)  # message id -> text shown, in order
    finals: dict[str, int] = field(default_factory=dict)  # message id -> final events received
    streamed: dict[str, str] = field(default_factory=dict)  # message id -> deltas since its start
    resumed: set[str] = field(default_factory=set)  # ids whose text came (partly) from a hello
    mismatched: list[str] = field(default_factory=list)  # streamed text != final text
    repeated_words: list[str] = field(default_factory=list)
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    thread_id: str = ""
    reloaded: list[dict] = field(default_factory=list)  # the transcript a fresh page load shows at the end
    trace: list[str] = field(default_factory=list)  # what the socket said, in short, to look into a failure


class Widget:
    """The widget's socket: reconnects with backoff, resumes from the hello, resends an unacked message
    with its client_id (the server stores it once), pings to find a dead connection."""

    def __init__(self, url: str, customer: Customer, *, turn_timeout: float) -> None:
        self.url = url
        self.customer = customer
        self.turn_timeout = turn_timeout
        self.ticket_body: dict = {}
        self.session_token = ""
        self.socket = None
        self.floor = 0
        self.busy = False
        self.hello_messages: list[dict] = []
        self.hello_run: dict | None = None

    async def open_session(self) -> None:
        deadline = time.monotonic() + self.turn_timeout
        while True:
            try:
                self.ticket_body = await asyncio.to_thread(post_json, f"{self.url}/chat/session/", {}, self.url)
                self.customer.thread_id = self.ticket_body["thread_id"]
                self.session_token = self.ticket_body["session"]
                return
            except Exception as error:  # the database may be down: the page retries
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no session: {error}") from error
                await asyncio.sleep(1)

    async def connect(self) -> None:
        backoff = 0.3
        deadline = time.monotonic() + self.turn_timeout
        while True:
            try:
                if not self.ticket_body.get("ticket") or self.ticket_body.get("_used"):
                    # A ticket opens one socket: the widget asks for another with its session token.
                    self.ticket_body = await asyncio.to_thread(
                        post_json, f"{self.url}/chat/session/", {"session": self.session_token}, self.url
                    )
                self.ticket_body["_used"] = True
                ws_url = self.url.replace("http", "ws", 1) + f"/ws/chat/?ticket={self.ticket_body['ticket']}"
                self.socket = await websockets.connect(ws_url, origin=self.url, max_size=2**22, open_timeout=30)
                hello = json.loads(await asyncio.wait_for(self.socket.recv(), 15))
                if hello.get("type") != "hello":
                    raise RuntimeError(f"no hello: {hello}")
                self._apply_hello(hello)
                self.customer.trace.append(f"{time.monotonic():.2f} connect-hello busy={hello.get('busy')}")
                return
            except Exception as error:
                self.customer.errors.append(f"connect: {type(error).__name__}")
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(backoff * random.uniform(0.7, 1.0))
                backoff = min(backoff * 2, 5)

    def _apply_hello(self, hello: dict) -> None:
        """As app.js's log.replaceWith: the screen becomes the hello's messages and streaming text."""
        c = self.customer
        self.floor = hello.get("seq") or 0
        self.busy = bool(hello.get("busy"))
        self.hello_messages = hello["messages"]
        self.hello_run = hello.get("run")  # how the run this socket waited on ended, after a server's resync
        c.bubbles = {m["id"]: m["text"] for m in hello["messages"] if m["role"] == "assistant"}
        streaming = hello.get("streaming")
        if streaming:
            c.bubbles[streaming["id"]] = streaming["text"]
            c.streamed[streaming["id"]] = streaming["text"]
            c.resumed.add(streaming["id"])
        c.resumed.update(c.bubbles)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
            self.socket = None

    async def say(self, turn: Turn) -> None:
        started = time.monotonic()
        turn.began_at = time.time()
        deadline = started + self.turn_timeout
        before = set(self.customer.bubbles)
        while time.monotonic() < deadline:
            try:
                if self.socket is None:
                    self.customer.reconnects += 1
                    await self.connect()
                    state = "busy" if self.busy else "idle"
                    turn.seen.append((round(time.monotonic() - started, 1), "hello", self.floor, state, False))
                    if self._answered_in_hello(turn):
                        break
                if not turn.acked:
                    await self.socket.send(
                        json.dumps({"type": "message", "text": turn.text, "client_id": turn.client_id})
                    )
                if await self._read_until_done(turn, deadline):
                    break
            except (TimeoutError, websockets.ConnectionClosed, OSError) as error:
                self.customer.errors.append(f"socket: {type(error).__name__}")
                turn.seen.append((round(time.monotonic() - started, 1), "dropped", None, type(error).__name__, False))
                self.socket = None
                await asyncio.sleep(0.3)
        else:
            turn.outcome = "lost"
        turn.seconds = time.monotonic() - started
        self._check_repeated_words(before)

    def _answered_in_hello(self, turn: Turn) -> bool:
        """After a reconnect: the hello already shows this turn over (its answer, or a run that ended)."""
        ids = [m.get("client_id") for m in self.hello_messages]
        if turn.client_id not in ids:
            return False
        turn.acked = True
        after = self.hello_messages[ids.index(turn.client_id) + 1 :]
        if self.busy:
            return False
        if any(m["role"] == "assistant" and m["status"] == "completed" for m in after):
            turn.outcome = turn.outcome or "answered"
        elif self.hello_run and self.hello_run.get("state") == "failed":
            turn.outcome, turn.told = turn.outcome or "failed_told", self.hello_run.get("message", "")
        else:
            turn.outcome = turn.outcome or "failed_untold"  # ended while this socket was away
        return True

    async def _read_until_done(self, turn: Turn, deadline: float) -> bool:
        c = self.customer
        last_ping = time.monotonic()
        turn_began = deadline - self.turn_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                raw = await asyncio.wait_for(self.socket.recv(), min(remaining, 5))
            except TimeoutError:
                if time.monotonic() - last_ping > 10:
                    raise  # silent after a ping: drop and reconnect, as the widget does
                await self.socket.send(json.dumps({"type": "ping"}))
                last_ping = time.monotonic()
                continue
            event = json.loads(raw)
            kind = event.get("type")
            if kind not in ("delta", "pong"):
                detail = event.get("state") or (event.get("message") or {}).get("status") or event.get("busy")
                c.trace.append(f"{time.monotonic():.2f} {kind} {detail} {event.get('seq')}"[:80])
            elif kind == "delta" and (not c.trace or not c.trace[-1].endswith("delta")):
                c.trace.append(f"{time.monotonic():.2f} delta")
            if kind == "pong":
                last_ping = time.monotonic()
            if kind == "hello":
                # The conversation resent as it stands, as on a reconnect (app.js starts from it too):
                # after a Redis outage, or answered to a ping when a run ended and its last events never
                # came (its worker died after storing its end).
                self._apply_hello(event)
                turn.seen.append((round(time.monotonic() - turn_began, 1), "hello", self.floor, self.busy, False))
                if self._answered_in_hello(turn):
                    return True
                continue
            seq = event.get("seq")
            covered = isinstance(seq, int) and seq <= self.floor and kind != "ack"
            if isinstance(seq, int):
                turn.last_seq = max(turn.last_seq, seq)
            if kind == "delta":
                turn.deltas += 1
            elif kind != "pong":
                detail = event.get("state") or event.get("code") or (event.get("message") or {}).get("status")
                turn.seen.append((round(time.monotonic() - turn_began, 1), kind, seq, detail, covered))
            if covered:
                continue  # the hello covered it
            if kind == "ack" and event.get("client_id") == turn.client_id:
                turn.acked = True
            elif kind == "error":
                c.errors.append(f"error: {event.get('code')}")
                if event.get("client_id") == turn.client_id and event.get("code") != "busy":
                    turn.outcome, turn.told = "failed_told", event.get("message", "")
                    return True
                if event.get("code") == "busy":
                    await asyncio.sleep(0.5)
                    return False  # resend once the current run is over
            elif kind == "message_started" and event["message"]["role"] == "assistant":
                for withdrawn in event.get("replaces") or ():  # as app.js: log.withdraw(id)
                    c.bubbles.pop(withdrawn, None)
                message = event["message"]
                c.bubbles.setdefault(message["id"], message.get("text", ""))
                c.streamed.setdefault(message["id"], message.get("text", ""))
            elif kind == "delta":
                c.bubbles[event["id"]] = c.bubbles.get(event["id"], "") + event["text"]
                c.streamed[event["id"]] = c.streamed.get(event["id"], "") + event["text"]
            elif kind == "message" and event["message"]["role"] == "assistant":
                message = event["message"]
                c.finals[message["id"]] = c.finals.get(message["id"], 0) + 1
                shown = c.streamed.get(message["id"])
                fresh = shown and message["id"] not in c.resumed and message["status"] == "completed"
                if fresh and shown != message["text"]:
                    c.mismatched.append(message["id"])
                c.bubbles[message["id"]] = message["text"]
            elif kind == "handoff":
                turn.outcome = "handoff"
            elif kind == "run" and event["state"] in ("done", "failed"):
                if event["state"] == "failed":
                    turn.outcome, turn.told = "failed_told", event.get("message", "")
                else:
                    turn.outcome = turn.outcome or "answered"
                return True

    def _check_repeated_words(self, before: set[str]) -> None:
        """The same words twice on the screen within one turn: a bubble's text again in a later one."""
        texts = [text.strip() for mid, text in self.customer.bubbles.items() if mid not in before and text.strip()]
        for i, earlier in enumerate(texts):
            for later in texts[i + 1 :]:
                if len(earlier) >= 12 and (later.startswith(earlier[:40]) or earlier == later):
                    self.customer.repeated_words.append(earlier[:60])


async def converse(url: str, customer: Customer, *, start_delay: float, think: float, turn_timeout: float) -> None:
    await asyncio.sleep(start_delay)
    widget = Widget(url, customer, turn_timeout=turn_timeout)
    try:
        await widget.open_session()
        for text in scripts_for(customer.index, customer.kind):
            turn = Turn(text=text, client_id=str(uuid.uuid4()))
            customer.turns.append(turn)
            await widget.say(turn)
            await asyncio.sleep(think * random.uniform(0.5, 1.5))
        await widget.close()
        # The page loaded again at the end: the transcript a customer comes back to.
        widget.ticket_body["_used"] = True
        await widget.connect()
        customer.reloaded = widget.hello_messages
        await widget.close()
    except Exception as error:  # a customer's failure is a figure
        customer.errors.append(f"fatal: {type(error).__name__}: {error}")


async def crowd(url: str, customers: list[Customer], *, ramp: float, think: float, turn_timeout: float) -> None:
    await asyncio.gather(
        *(
            converse(url, c, start_delay=random.uniform(0, ramp), think=think, turn_timeout=turn_timeout)
            for c in customers
        )
    )
