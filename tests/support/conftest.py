"""Fixtures for the runtime: assistants, threads, a captured event stream, a scripted model."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from support import events
from support.models import Assistant, Thread
from tests.support.scripted_model import ScriptedModel

ORDER_TOOLS = ["get_order_status", "track_shipment", "initiate_return", "list_my_orders", "escalate_to_human"]


@pytest.fixture
def assistant(db):
    return Assistant.objects.create(
        name="Order Support Agent",
        model="gpt-4o-mini",
        instructions="You help customers with orders, returns and tracking. Verify the email first.",
        server_tools=ORDER_TOOLS,
    )


@pytest.fixture
def thread(db, assistant):
    return Thread.objects.create(assistant=assistant)


class EventTap:
    """A channel subscribed to a thread's group: what any subscriber (socket, SSE) would receive."""

    def __init__(self, thread_public_id: str) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(events.group_for(thread_public_id), self.channel)
        self.received: list[dict] = []

    def drain(self) -> list[dict]:
        """Everything published so far (waits for the publisher to hand it to the layer)."""
        events.flush()

        async def take_all():
            out = []
            while True:
                try:
                    out.append(await asyncio.wait_for(self.layer.receive(self.channel), timeout=0.2))
                except TimeoutError:
                    return out

        self.received.extend(async_to_sync(take_all)())
        return self.received

    def names(self) -> list[str]:
        return [m["event"] for m in self.drain()]


@pytest.fixture
def tap():
    return EventTap


@pytest.fixture
def scripted(settings):
    """The real-provider path (OPENAI_API_KEY set) against a scripted server on loopback."""

    model = ScriptedModel().start()
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = model.base_url
    settings.MODEL_RETRY_BASE_SECONDS = 0.01
    yield model
    model.stop()
