"""The attack suite's fixtures: the runtime's assistant and a chat server answering in the background."""

from __future__ import annotations

import pytest

from orders.assistant.persona import ensure_demo_assistant

# Fixtures shared with the apps' suites (used by name).
from tests.agents.conftest import agent, agent_client, escalated, supervisor  # noqa: F401
from tests.runtime.conftest import assistant, tap, thread  # noqa: F401


@pytest.fixture
def chat_ready(settings, db):
    settings.RUN_DISPATCH = "thread"  # runs go on in the background, as in the embedded server
    settings.WIDGET_IDENTITY_SECRET = "shop-secret"
    ensure_demo_assistant()
