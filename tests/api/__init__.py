"""Tests of the Assistants-compatible API (/v1), with DRF's APIClient.

Helpers shared by the modules: a key owner's client, the seed's order-support functions (client-side
tools, as the blog post that seeded Concierge defines them), and reading an event stream.
"""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from accounts.models import ApiKey
from tests.factories import UserFactory

GET_ORDER_STATUS = {
    "type": "function",
    "function": {
        "name": "get_order_status",
        "description": "Get the current status of an order by order ID",
        "parameters": {
            "type": "object",
            "properties": {
                "orderId": {"type": "string", "description": "The order ID to look up"},
                "email": {"type": "string", "description": "Customer email for verification"},
            },
            "required": ["orderId", "email"],
        },
    },
}
INITIATE_RETURN = {
    "type": "function",
    "function": {
        "name": "initiate_return",
        "description": "Start a return process for an order item",
        "parameters": {
            "type": "object",
            "properties": {
                "orderId": {"type": "string"},
                "itemId": {"type": "string"},
                "reason": {"type": "string", "enum": ["defective", "wrong_item", "not_needed", "other"]},
            },
            "required": ["orderId", "itemId", "reason"],
        },
    },
}
ORDER_SUPPORT = {
    "name": "Order Support Agent",
    "instructions": "You help customers check order status, process returns, and track shipments.",
    "model": "gpt-4o",
    "tools": [GET_ORDER_STATUS, INITIATE_RETURN],
}


def key_client(username: str) -> tuple[object, APIClient]:
    """A user with an API key, and an APIClient sending it (JSON bodies by default)."""
    owner = UserFactory(username=username)
    _, raw = ApiKey.issue(owner=owner, name=f"{username}'s key")
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_OPENAI_BETA="assistants=v2")
    client.raw_key = raw
    return owner, client


def read_events(response) -> list[tuple[str, object]]:
    """A streamed answer's events as (name, data), data parsed unless it is [DONE]; checks the framing."""

    async def collect():
        return [chunk async for chunk in response.streaming_content]

    body = b"".join(async_to_sync(collect)()).decode()
    assert body.endswith("\n\n"), body[-200:]
    events = []
    for block in body.split("\n\n")[:-1]:
        lines = block.split("\n")
        if lines[0].startswith(":"):
            continue  # a keep-alive comment
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        name, data = lines[0][len("event: ") :], lines[1][len("data: ") :]
        events.append((name, data if data == "[DONE]" else json.loads(data)))
    return events
