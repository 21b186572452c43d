"""What a load balancer or an orchestrator asks: is the process alive, and can it serve?

Readiness checks the services a request needs, each under a deadline, and reports how long each
took. The model provider is reported but not required by default (READINESS_REQUIRES_MODEL): when the
provider is down, taking every server out of the load balancer would also take away the console,
where people can still answer the customers.

A failing check says what failed (the exception's type), never its message: a connection error's
message may carry a URL with its password. The whole error goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import kombu
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections

from runtime.llm.client import chat_client, is_offline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    detail: str
    required: bool = True

    def as_dict(self) -> dict:
        return {"ok": self.ok, "ms": round(self.ms, 1), "detail": self.detail, "required": self.required}


def timed(name: str, probe: Callable[[], str], *, required: bool = True) -> Check:
    started = time.perf_counter()
    try:
        ok, detail = True, probe()
    except Exception as error:  # any failure of a probe is its answer, not a crash
        log.warning("readiness: %s failed: %r", name, error)
        ok, detail = False, f"unreachable ({type(error).__name__})"
    return Check(name, ok, (time.perf_counter() - started) * 1000, detail, required)


def database() -> str:
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    return ", ".join(connections[alias].vendor for alias in connections)


async def _round_trip() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("ops.ready.")
    await layer.send(channel, {"type": "ops.ready"})
    await layer.receive(channel)


def channel_layer() -> str:
    """A message sent to a channel of this process and received back: the path every live event takes."""

    async def bounded() -> None:
        await asyncio.wait_for(_round_trip(), settings.READINESS_TIMEOUT_SECONDS)

    async_to_sync(bounded)()
    return type(get_channel_layer()).__name__


def broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "none: tasks run in the web process"
    with kombu.Connection(settings.CELERY_BROKER_URL, connect_timeout=settings.READINESS_TIMEOUT_SECONDS) as connection:
        connection.ensure_connection(max_retries=0)  # one attempt: the probe's caller retries
        return connection.transport.driver_type


def model_provider() -> str:
    client = chat_client().with_options(timeout=settings.READINESS_TIMEOUT_SECONDS, max_retries=0)
    client.models.list()
    return "offline model" if is_offline() else "provider answered"


def readiness() -> tuple[bool, list[Check]]:
    checks = [
        timed("database", database),
        timed("channel_layer", channel_layer),
        timed("broker", broker),
        timed("model_provider", model_provider, required=settings.READINESS_REQUIRES_MODEL),
    ]
    return all(check.ok for check in checks if check.required), checks
