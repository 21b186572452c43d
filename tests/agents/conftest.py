"""Console staff (an agent, a colleague, a supervisor, and staff who may not use the console),
signed-in clients for them, and an escalated conversation to work on.

The runtime's fixtures (assistant, thread, tap, scripted) come from tests/runtime/conftest.py.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client

from agents.permissions import AGENTS_GROUP, SUPERVISORS_GROUP
from agents.services import escalate
from config.asgi import application
from tests.factories import UserFactory
from tests.runtime import conftest as runtime

# The runtime's fixtures, shared with tests/runtime.
assistant, thread, tap, scripted = runtime.assistant, runtime.thread, runtime.tap, runtime.scripted


def staff_member(username: str, *, group: str | None, first_name: str = "", is_staff: bool = True):
    user = UserFactory(username=username, first_name=first_name, is_staff=is_staff)
    user.save()  # the factory's password is only in memory until saved
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def signed_in(user, **client_options) -> Client:
    client = Client(**client_options)
    client.force_login(user)
    return client


@pytest.fixture
def agent(db):
    """Ann, a support agent."""
    return staff_member("ann", group=AGENTS_GROUP, first_name="Ann")


@pytest.fixture
def colleague(db):
    """Bob, another support agent."""
    return staff_member("bob", group=AGENTS_GROUP, first_name="Bob")


@pytest.fixture
def supervisor(db):
    return staff_member("sue", group=SUPERVISORS_GROUP, first_name="Sue")


@pytest.fixture
def agent_client(agent) -> Client:
    return signed_in(agent)


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    return signed_in(supervisor)


@pytest.fixture
def escalated(thread, alice):
    """Alice's conversation, waiting for a person (she asked for one)."""
    thread.customer = alice
    thread.save(update_fields=["customer"])
    return escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")


def console_url(thread, action: str = "") -> str:
    return f"/console/conversations/{thread.public_id}/" + (f"{action}/" if action else "")


def session_cookie(user) -> bytes:
    client = signed_in(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def console_socket(user=None, *, origin: bytes = b"http://testserver"):
    """A /ws/console/ socket from a console page, signed in as `user` (None: no session)."""
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    comm = WebsocketCommunicator(application, "/ws/console/", headers=headers)
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def receive_until(comm, predicate, timeout: float = 10.0) -> dict:
    """The first message that satisfies `predicate` (earlier ones are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await comm.receive_json_from(timeout=timeout)
            if predicate(message):
                return message
