"""Structured logs: every line written for a request carries its id, which the response names too;
LOG_FORMAT=json writes one JSON object per line with those ids as fields."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator
from django.conf import settings

from common import logcontext
from config.asgi import application
from ops.asgi import RequestIds
from tests.ops.logs import kept_records

pytestmark = pytest.mark.django_db


async def get(path: str, request_id: str | None = None) -> dict:
    headers = [(b"host", b"testserver")] + ([(b"x-request-id", request_id.encode())] if request_id else [])
    communicator = HttpCommunicator(application, "GET", path, headers=headers)
    return await communicator.get_response(timeout=10)


def id_of(response: dict) -> str:
    return dict(response["headers"])[b"x-request-id"].decode()


@pytest.mark.django_db(transaction=True)
async def test_a_requests_log_lines_and_its_response_carry_one_id():
    """Through the deployment's ASGI application: Django logs a 404 after its middleware returned."""
    with kept_records() as records:
        response = await get("/no-such-page/")
    assert response["status"] == 404
    request_id = id_of(response)
    assert len(request_id) == 32
    not_found = [r for r in records if r.name == "django.request"]
    assert not_found and all(r.request_id == request_id for r in not_found)


@pytest.mark.django_db(transaction=True)
async def test_the_proxys_request_id_is_kept_when_sane_and_replaced_when_not():
    assert id_of(await get("/healthz", "lb-7f3a.42")) == "lb-7f3a.42"
    for forged in ["a" * 65, "x Set-Cookie: a=b", "id;with;semicolons", "\u00fcn\u00efcode"]:
        assert id_of(await get("/healthz", forged)) != forged


async def test_what_a_socket_logs_while_open_carries_its_id():
    async def consumer(scope, receive, send):  # an ASGI app that logs as a consumer would
        await receive()
        logging.getLogger("a.consumer").warning("socket message")
        await send({"type": "websocket.close"})

    communicator = ApplicationCommunicator(
        RequestIds(consumer), {"type": "websocket", "path": "/ws/chat/", "headers": [(b"x-request-id", b"socket-1")]}
    )
    with kept_records() as records:
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"
    assert [r.request_id for r in records if r.name == "a.consumer"] == ["socket-1"]


def test_json_lines_carry_the_ids_bound_where_they_were_written():
    stream = io.StringIO()
    spec = dict(settings.LOGGING["formatters"]["json"])  # as dictConfig builds it from the settings
    formatter = logging.config.DictConfigurator(settings.LOGGING).configure_formatter(spec)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(logcontext.AddIds())
    logger = logging.getLogger("concierge.test")
    logger.addHandler(handler)
    try:
        with logcontext.bound(run_id="run_abc", thread_id="thread_xyz"):
            logger.warning("model call failed after %s attempt(s)", 3)
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["level"] == "WARNING" and inside["logger"] == "concierge.test"
    assert inside["message"] == "model call failed after 3 attempt(s)"
    assert (inside["run_id"], inside["thread_id"]) == ("run_abc", "thread_xyz")
    assert "time" in inside
    assert "run_id" not in outside
