"""Fixtures for the runtime: assistants, threads, a captured event stream, a scripted model."""

from __future__ import annotations

import pytest

from runtime import events
from runtime.models import Assistant, Thread
from tests.listener import GroupListener
from tests.runtime.scripted_model import ScriptedModel

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


class EventTap(GroupListener):
    """A subscriber to a thread's group: what any subscriber (socket, SSE) would receive."""

    def __init__(self, thread_public_id: str) -> None:
        super().__init__(events.group_for(thread_public_id))

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
