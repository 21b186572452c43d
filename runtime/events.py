"""Publishing a thread's events to its channel-layer group.

One vocabulary for every transport: the Assistants API's stream events (`thread.run.created`,
`thread.message.delta`, ...) with the API's payload shapes, plus Concierge's own
(`conversation.escalated`, `agent.message`, ...). The engine publishes; the websocket consumer and
the /v1 SSE view subscribe. Neither side knows the other.

Each event carries a per-thread sequence number, so a subscriber can tell a gap or a repeat. The
Redis channel layer delivers at most once, so the text of a message still being written is also
kept as a snapshot (`stream_snapshot`), from which a reconnecting subscriber resumes.

The database is the record; Redis is the live wire. When Redis does not answer, publishing does not
fail the caller (a run goes on and is stored): what could not be sent is counted
(`concierge_events_unpublished`) and logged once per outage (`_Wire`). Each ASGI server watches the
wire (`attach_server`) and, once Redis answers again and its subscriptions carry messages again,
has every subscriber that asked for it (`resync_after_outages`) send its conversation again from
the database, so no socket is left on events it missed.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import weakref
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from common.cache import redis_client_for
from runtime import metrics

log = logging.getLogger(__name__)

WIRE_ERRORS = (RedisError, OSError)  # Redis down, restarting or out of reach
WIRE_CHECK_SECONDS = 1.0  # how often each ASGI server asks Redis whether it is there

EVENT_TYPE = "thread.event"  # the consumer method name channels dispatches to: thread_event
BATCH_TYPE = "thread.events"  # several events of one thread in one group message (see publish_many)
STAFF_GROUP = "staff.updates"  # every agent console listens here
STAFF_EVENT_TYPE = "staff.event"
SNAPSHOT_TTL_SECONDS = 60 * 30

SHARDS = 8  # groups are spread over this many ordered senders


class _Wire:
    """Redis as this process sees it: down from the first failure until the next answer.

    Every failure is counted; the first of an outage is logged, and the end with what it cost, so
    an outage is two log lines however many events fell into it. `outages` only grows: a watcher
    that remembers it can tell that an outage happened since it last looked, however short.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.outages = 0
        self._missed = 0

    def failed(self, what: str, error: BaseException) -> None:
        if what != "check":  # the wire check's own failures lose no event
            metrics.EVENTS_UNPUBLISHED.labels(what).inc()
        with self._lock:
            first = self.down_since is None
            if first:
                self.down_since = time.monotonic()
                self.outages += 1
            self._missed += 1
        if first:
            metrics.REDIS_OUTAGES.inc()
            log.warning(
                "Redis does not answer (%s: %s): thread events are not delivered live until it does; "
                "runs go on, the database keeps everything, sockets are resynced from it afterwards",
                what,
                error or type(error).__name__,
            )

    def answered(self) -> None:
        if self.down_since is None:  # the hot path: no lock
            return
        with self._lock:
            if self.down_since is None:
                return
            seconds, missed = time.monotonic() - self.down_since, self._missed
            self.down_since, self._missed = None, 0
        log.warning("Redis answers again after %.1f s; %d publications failed meanwhile", seconds, missed)


wire = _Wire()


class _Publisher:
    """Sends group messages from sync code through one long-lived event loop.

    Calling async_to_sync per event would open a Redis connection per event (channels_redis pools
    connections per loop). Instead every event goes to a loop that lives as long as the process:
    a daemon thread's for a network layer, where a group always maps to the same shard whose
    messages are sent one after another, so a thread's events keep their order. The in-memory
    layer's queues belong to the ASGI server's loop, so there each event is a task on that loop;
    its sends never suspend, so those tasks finish in the order they were made.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._pending = 0
        self._idle = threading.Condition()
        self._queues: list[asyncio.Queue] = []
        if loop is not None:
            self.loop = loop
            return
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="event-publisher", daemon=True).start()
        self._queues = asyncio.run_coroutine_threadsafe(self._start_shards(), self.loop).result(timeout=10)
        atexit.register(self.close)

    async def _start_shards(self) -> list[asyncio.Queue]:
        queues = [asyncio.Queue() for _ in range(SHARDS)]
        self._tasks = [asyncio.ensure_future(self._drain(queue)) for queue in queues]
        return queues

    async def _drain(self, queue: asyncio.Queue) -> None:
        while True:
            group, message = await queue.get()
            await self._send_one(group, message)

    async def _send_one(self, group: str, message: dict) -> None:
        try:
            try:
                await get_channel_layer().group_send(group, message)
            except WIRE_ERRORS:
                # Once: after a Redis restart the first send goes out on a connection the server
                # closed ("Connection closed by server"); the failure drops it, a second opens another.
                await get_channel_layer().group_send(group, message)
        except WIRE_ERRORS as error:
            # The events are a live view; the database stays the truth and subscribers resume from it.
            wire.failed("publish", error)
        except Exception:
            log.exception("could not publish %s to %s", message.get("event"), group)
        else:
            wire.answered()
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def send(self, group: str, message: dict) -> None:
        with self._idle:
            self._pending += 1
        if self._queues:
            queue = self._queues[hash(group) % SHARDS]
            self.loop.call_soon_threadsafe(queue.put_nowait, (group, message))
        else:
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self._send_one(group, message)))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything sent so far has reached the channel layer."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        """At the process's exit: send what is still queued (waiting up to `timeout`), then end the
        senders and the loop (left pending, asyncio reports each sender as an error when the
        interpreter destroys it)."""
        if self.loop.is_closed() or not self.loop.is_running():
            return
        self.flush(timeout)

        async def stop() -> None:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=1)
        except (TimeoutError, RuntimeError):
            log.warning("the event publisher's senders did not stop")
            return
        self.loop.call_soon_threadsafe(self.loop.stop)


_lock = threading.Lock()
_publisher: _Publisher | None = None


def group_for(thread_public_id: str) -> str:
    return f"thread.{thread_public_id}"


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Publish through the ASGI server's loop from now on (called by consumers on connect)."""
    global _publisher
    with _lock:
        if _publisher is None or _publisher.loop is not loop:
            _publisher = _Publisher(loop) if _in_memory_layer() else (_publisher or _Publisher())


_listening: weakref.WeakSet = weakref.WeakSet()  # the server loops whose layer holds a channel of its own


async def attach_server() -> None:
    """Called by every subscriber (a socket, an SSE stream) on this ASGI server before it subscribes:
    publish through this server's loop, and keep the layer listening between subscribers.

    channels_redis's pub/sub layer reads from Redis only while it holds a subscription; holding
    none, it looks again every 100 ms. So the first socket after a quiet spell got its first events
    up to 100 ms late (about 80 ms on a first answer, measured). One channel that the server holds
    for good keeps it reading.
    """
    loop = asyncio.get_running_loop()
    bind_server_loop(loop)
    if loop not in _listening:
        _listening.add(loop)
        await get_channel_layer().new_channel()
        if not _in_memory_layer() and getattr(settings, "REDIS_URL", ""):
            _watchers[loop] = loop.create_task(_watch_wire(settings.REDIS_URL))


# --- After an outage: subscribers resume from the database --------------------------------------
# While Redis is down, group messages are lost, and a socket does not learn it: the channel layer
# reconnects by itself, and the socket hears from it again only from then on. So each ASGI server
# asks Redis every WIRE_CHECK_SECONDS on a connection of its own (no retries, so a restart shows as
# a failure even when shorter than the interval), and after an outage, seen by that check or by
# any publish of the process, waits until a message of its own goes through the channel layer
# again (its subscriptions are back), then calls `resync()` of every subscriber of that server.

_resyncing: dict[asyncio.AbstractEventLoop, weakref.WeakSet] = {}
_watchers: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def resync_after_outages(subscriber: Any) -> None:
    """From now on, `await subscriber.resync()` after every Redis outage (call on the server's loop)."""
    _resyncing.setdefault(asyncio.get_running_loop(), weakref.WeakSet()).add(subscriber)


def stop_resyncing(subscriber: Any) -> None:
    for subscribers in _resyncing.values():
        subscribers.discard(subscriber)


async def _watch_wire(url: str) -> None:
    from redis.asyncio import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # A restart closes this connection (a failure, however short the restart); a slow answer on a
    # loaded machine is no outage, hence the timeout well above the interval.
    client = Redis.from_url(
        url, single_connection_client=True, socket_timeout=5, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    seen = wire.outages
    try:
        while True:
            await asyncio.sleep(WIRE_CHECK_SECONDS)
            try:
                await client.ping()
            except WIRE_ERRORS as error:
                wire.failed("check", error)
                continue
            except Exception:
                log.exception("checking Redis failed")
                continue
            if wire.outages == seen:
                continue
            if not await _layer_carries():
                continue  # the layer has not resubscribed yet: look again next time
            wire.answered()
            seen = wire.outages
            await resync_subscribers(asyncio.get_running_loop())
    finally:
        await client.aclose()


_probes: dict[asyncio.AbstractEventLoop, str] = {}  # a channel per server loop, for _layer_carries


async def _layer_carries(timeout: float = 1.0) -> bool:
    """A message sent to a channel of this server comes back through the layer's subscription."""
    loop, layer = asyncio.get_running_loop(), get_channel_layer()
    try:
        if loop not in _probes:
            _probes[loop] = await layer.new_channel("wire-check.")
        await layer.send(_probes[loop], {"type": "wire.check"})
        await asyncio.wait_for(layer.receive(_probes[loop]), timeout)
    except (*WIRE_ERRORS, TimeoutError):
        _probes.pop(loop, None)  # a receive that timed out let go of its channel
        return False
    return True


async def resync_subscribers(loop: asyncio.AbstractEventLoop) -> int:
    """Have every subscriber of this server send its conversation again; returns how many did."""
    subscribers = list(_resyncing.get(loop, ()))
    results = await asyncio.gather(*(s.resync() for s in subscribers), return_exceptions=True)
    for failure in (r for r in results if isinstance(r, BaseException)):
        log.warning("a subscriber could not resync after a Redis outage: %r", failure)
    done = sum(1 for r in results if not isinstance(r, BaseException))
    metrics.SOCKETS_RESYNCED.inc(done)
    log.warning("Redis outage over: %d of %d sockets sent their conversation again", done, len(subscribers))
    return done


def _in_memory_layer() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def _get_publisher() -> _Publisher:
    global _publisher
    with _lock:
        if _publisher is None or _publisher.loop.is_closed():
            _publisher = _Publisher()
        return _publisher


def flush(timeout: float = 5.0) -> bool:
    return _get_publisher().flush(timeout)


def seq_floor() -> int:
    """Where a thread's sequence starts when its counter is missing: a new thread, or a Redis that
    restarted without its data. The clock in microseconds is above every number the lost counter
    handed out (it started at the floor of its own time and went up by one an event, and no thread
    has an event a microsecond), so subscribers never take a new event for one they already saw.
    Below 2**53 until the year 2255: JavaScript reads it exactly."""
    return time.time_ns() // 1000


_offline_lock = threading.Lock()
_offline_seq = 0  # the last number handed out while Redis was down


def _offline_next(count: int) -> int:
    """Sequence numbers while Redis is down: from the clock, rising in this process. Their events
    are not delivered (the channel layer is down too); callers only need a number."""
    global _offline_seq
    with _offline_lock:
        _offline_seq = max(_offline_seq, seq_floor()) + count
        return _offline_seq


def next_seq(thread_public_id: str, count: int = 1) -> int:
    """Reserve `count` sequence numbers of the thread; returns the last one."""
    key = f"events:seq:{thread_public_id}"
    redis = redis_client_for(key)
    if redis is not None:
        # SET NX and INCRBY pipelined: one round trip per event, as INCRBY alone was.
        client, full_key = redis
        pipe = client.pipeline(transaction=False)
        pipe.set(full_key, seq_floor(), nx=True)
        pipe.incrby(full_key, count)
        try:
            last = pipe.execute()[1]
        except WIRE_ERRORS as error:
            wire.failed("seq", error)
            return _offline_next(count)
        wire.answered()
        return last
    cache.add(key, seq_floor(), timeout=None)
    return cache.incr(key, count)


def current_seq(thread_public_id: str) -> int:
    """The thread's last sequence number (0 when Redis does not answer: every later one is above)."""
    try:
        return cache.get(f"events:seq:{thread_public_id}", 0)
    except WIRE_ERRORS as error:
        wire.failed("seq", error)
        return 0


def publish(thread_public_id: str, event: str, data: Any) -> int:
    """Send one event to the thread's group (asynchronously, in order). Returns its sequence number."""
    seq = next_seq(thread_public_id)
    message = {"type": EVENT_TYPE, "event": event, "data": data, "seq": seq, "thread": thread_public_id}
    if get_channel_layer() is not None:
        _get_publisher().send(group_for(thread_public_id), message)
    return seq


def publish_many(thread_public_id: str, items: list[tuple[str, Any]]) -> int:
    """Send events that happen together (a message opening with its first text, a tool step) as one
    group message: one round trip for their sequence numbers and one publish, read by every
    subscriber as the same events in the same order (`unbatch`). Returns the last sequence number."""
    if len(items) == 1:
        return publish(thread_public_id, *items[0])
    last = next_seq(thread_public_id, len(items))
    first = last - len(items) + 1
    batch = [{"event": event, "data": data, "seq": first + i} for i, (event, data) in enumerate(items)]
    if get_channel_layer() is not None:
        message = {"type": BATCH_TYPE, "events": batch, "thread": thread_public_id}
        _get_publisher().send(group_for(thread_public_id), message)
    return last


def unbatch(message: dict) -> list[dict]:
    """A group message as the single events it carries, each shaped as `publish` sends one."""
    if message.get("type") != BATCH_TYPE:
        return [message]
    return [{"type": EVENT_TYPE, "thread": message["thread"], **event} for event in message["events"]]


def notify_staff(event: str, data: Any) -> None:
    """Tell every connected agent console (the queue, approvals, metrics of the moment)."""
    if get_channel_layer() is not None:
        _get_publisher().send(STAFF_GROUP, {"type": STAFF_EVENT_TYPE, "event": event, "data": data})


def notify_staff_on_commit(event: str, data: Any) -> None:
    transaction.on_commit(lambda: notify_staff(event, data))


def publish_on_commit(thread_public_id: str, event: str, data: Any) -> None:
    """Send the event once the surrounding transaction commits, so nobody sees uncommitted state."""
    transaction.on_commit(lambda: publish(thread_public_id, event, data))


def publish_many_on_commit(thread_public_id: str, items: list[tuple[str, Any]]) -> None:
    transaction.on_commit(lambda: publish_many(thread_public_id, items))


# --- The snapshot of a message being streamed ------------------------------------------------


def _snapshot_key(thread_public_id: str) -> str:
    return f"events:stream:{thread_public_id}"


def save_stream_snapshot(thread_public_id: str, *, message_id: str, run_id: str, text: str, seq: int) -> None:
    """Keep the text so far (a no-op while Redis is down: the writer saves it whole with its next words)."""
    if wire.down_since is not None:
        return  # its seq may be made up (Redis down): a snapshot carries only numbers the counter gave
    try:
        cache.set(
            _snapshot_key(thread_public_id),
            {"message_id": message_id, "run_id": run_id, "text": text, "seq": seq},
            timeout=SNAPSHOT_TTL_SECONDS,
        )
    except WIRE_ERRORS as error:
        wire.failed("snapshot", error)


def stream_snapshot(thread_public_id: str) -> dict | None:
    """The message being written right now in this thread (its text so far and the seq it reached);
    None when Redis does not answer (the hello then shows what the database holds)."""
    try:
        return cache.get(_snapshot_key(thread_public_id))
    except WIRE_ERRORS as error:
        wire.failed("snapshot", error)
        return None


def clear_stream_snapshot(thread_public_id: str) -> None:
    """Forget the snapshot (left behind when Redis does not answer: a hello skips a snapshot of a
    message the database shows ended, and it expires)."""
    try:
        cache.delete(_snapshot_key(thread_public_id))
    except WIRE_ERRORS as error:
        wire.failed("snapshot", error)


# --- The barrier between announcing a message and storing it -----------------------------------
# The writer announces the assistant's message with its first words a few milliseconds before it
# stores it (runtime.engine.writer). A /v1 caller that asks for the message in between waits here
# until the writer releases it: stored, or given up. Across processes through Redis (a short-lived
# list the writer pushes to and a waiter blocks on); in one process (the embedded default) through
# an Event.

STORED_TTL_SECONDS = 10
_released: dict[str, tuple[threading.Event, float]] = {}
_released_lock = threading.Lock()


def _stored_key(message_public_id: str) -> str:
    return f"events:stored:{message_public_id}"


def release_message(message_public_id: str) -> None:
    """The announced message is stored (or will never be): whoever waits for it may look again."""
    target = redis_client_for(_stored_key(message_public_id))
    if target is not None:
        client, key = target
        try:
            client.pipeline(transaction=False).rpush(key, 1).expire(key, STORED_TTL_SECONDS).execute()
        except WIRE_ERRORS as error:
            wire.failed("release", error)  # a waiter looks again after its timeout
        return
    now = time.monotonic()
    with _released_lock:
        for stale in [k for k, (_e, at) in _released.items() if now - at > STORED_TTL_SECONDS]:
            del _released[stale]
        event, _at = _released.setdefault(message_public_id, (threading.Event(), now))
    event.set()


def wait_for_message(message_public_id: str, timeout: float) -> bool:
    """Wait (up to `timeout` seconds) until the writer releases the announced message."""
    target = redis_client_for(_stored_key(message_public_id))
    if target is not None:
        client, key = target
        if client.blpop([key], timeout=timeout) is None:
            return False
        client.rpush(key, 1)  # for any other waiter; the list expires by itself
        return True
    with _released_lock:
        event, _at = _released.setdefault(message_public_id, (threading.Event(), time.monotonic()))
    return event.wait(timeout)
