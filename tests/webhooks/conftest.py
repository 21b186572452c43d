"""Webhook fixtures: a local receiver, endpoints pointing at it, and the recipe docs/webhooks.md gives receivers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.runtime import conftest as runtime
from tests.webhooks.receiver import Receiver
from webhooks import catalog
from webhooks.models import Endpoint
from webhooks.signing import new_secret

# The runtime's fixtures (an assistant and its thread), shared with tests/runtime.
assistant, thread = runtime.assistant, runtime.thread

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def local_targets(settings):
    """The receiver is http on 127.0.0.1: allowed only because these settings say so."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
    return settings


def make_endpoint(url: str, event_types=tuple(catalog.EVENT_TYPES), **fields) -> Endpoint:
    return Endpoint.objects.create(
        name=fields.pop("name", "Shop ERP"), url=url, secret=new_secret(), event_types=list(event_types), **fields
    )


@pytest.fixture
def endpoint(db, receiver, local_targets) -> Endpoint:
    """Subscribed to every event, at the local receiver."""
    return make_endpoint(receiver.url)


def documented_verify():
    """The `verify` function of docs/webhooks.md, run as a receiver would copy it."""
    text = DOCS.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify(" in b)
    namespace: dict = {}
    exec(compile(block, str(DOCS), "exec"), namespace)
    return namespace["verify"]
