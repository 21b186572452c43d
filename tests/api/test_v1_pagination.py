"""Cursor lists: limit, order (default desc), after/before relative to the order, has_more, first/last ids."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.models import Message, Thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven(owner_client):
    """A thread with messages m0…m6, m0 oldest; m3 and m4 share a timestamp (the id breaks the tie)."""
    owner, _ = owner_client
    thread = Thread.objects.create(owner=owner)
    start = timezone.now() - timedelta(minutes=10)
    stamps = [start + timedelta(seconds=s) for s in (0, 1, 2, 3, 3, 5, 6)]
    ids = []
    for i, stamp in enumerate(stamps):
        message = Message.objects.create(
            thread=thread, role="user", author="api", content=[{"type": "text", "text": {"value": f"m{i}"}}]
        )
        Message.objects.filter(pk=message.pk).update(created_at=stamp)
        ids.append(message.public_id)
    return thread, ids


def page(client, thread, **params):
    response = client.get(f"/v1/threads/{thread.public_id}/messages", params)
    assert response.status_code == 200, response.json()
    return response.json()


def ids_of(body):
    return [item["id"] for item in body["data"]]


def test_the_default_is_twenty_newest_first(client, seven):
    thread, ids = seven
    body = page(client, thread)

    assert ids_of(body) == ids[::-1]
    assert body["object"] == "list" and body["has_more"] is False
    assert body["first_id"] == ids[-1] and body["last_id"] == ids[0]


def test_after_walks_on_in_ascending_order(client, seven):
    thread, ids = seven
    first = page(client, thread, order="asc", limit=3)
    second = page(client, thread, order="asc", limit=3, after=first["last_id"])
    third = page(client, thread, order="asc", limit=3, after=second["last_id"])

    assert ids_of(first) == ids[0:3] and first["has_more"] is True
    assert ids_of(second) == ids[3:6] and second["has_more"] is True
    assert ids_of(third) == ids[6:] and third["has_more"] is False


def test_after_walks_on_in_descending_order(client, seven):
    thread, ids = seven
    newest_first = ids[::-1]
    first = page(client, thread, limit=4)
    second = page(client, thread, limit=4, after=first["data"][-1]["id"])

    assert ids_of(first) == newest_first[:4] and first["has_more"] is True
    assert ids_of(second) == newest_first[4:] and second["has_more"] is False


def test_before_returns_the_page_right_before_the_cursor_in_either_order(client, seven):
    thread, ids = seven
    ascending = page(client, thread, order="asc", limit=2, before=ids[4])
    descending = page(client, thread, order="desc", limit=2, before=ids[2])
    to_the_start = page(client, thread, order="asc", limit=5, before=ids[2])

    assert ids_of(ascending) == [ids[2], ids[3]] and ascending["has_more"] is True
    assert ids_of(descending) == [ids[4], ids[3]] and descending["has_more"] is True
    assert ids_of(to_the_start) == [ids[0], ids[1]] and to_the_start["has_more"] is False


def test_after_and_before_together_bound_the_page(client, seven):
    thread, ids = seven
    body = page(client, thread, order="asc", after=ids[1], before=ids[5])

    assert ids_of(body) == ids[2:5]


def test_an_empty_list_has_null_ids(owner_client):
    owner, client = owner_client
    body = page(client, Thread.objects.create(owner=owner))

    assert body == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"order": "newest"}, "order"),
        ({"after": "msg_unknown"}, "after"),
    ],
)
def test_bad_list_parameters_are_400(client, seven, params, param):
    thread, _ = seven
    response = client.get(f"/v1/threads/{thread.public_id}/messages", params)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_assistants_paginate_too(client):
    created = [client.post("/v1/assistants", {"model": "m", "name": f"a{i}"}).json()["id"] for i in range(3)]

    first = client.get("/v1/assistants", {"limit": 2}).json()
    rest = client.get("/v1/assistants", {"limit": 2, "after": first["last_id"]}).json()

    assert ids_of(first) + ids_of(rest) == created[::-1]
    assert first["has_more"] is True and rest["has_more"] is False
