"""Fixtures of the /v1 tests: a key owner ("acme") and the APIClient sending its key."""

from __future__ import annotations

import pytest

from tests.api import ORDER_SUPPORT, key_client


@pytest.fixture
def owner_client():
    return key_client("acme")


@pytest.fixture
def client(owner_client):
    return owner_client[1]


@pytest.fixture
def assistant(client):
    """The seed's order-support assistant, with client-side functions, created through /v1."""
    return client.post("/v1/assistants", ORDER_SUPPORT).json()
