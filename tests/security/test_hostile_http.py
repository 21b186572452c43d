"""Hostile input on every HTTP entry point: /api, /v1, /chat/session/, the console, the demo page.

A NUL byte or a lone surrogate anywhere (path, query, JSON body, headers), a body that is not
UTF-8, a body nested too deep or too large, a value of the wrong type: each gets a clear 4xx in
its API's error shape, never a 500 and never an HTML page where a JSON client waits. PostgreSQL
refuses NUL in text and psycopg cannot encode a lone surrogate, so several of these only crashed
there (CI runs this suite on PostgreSQL).
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from runtime.models import Assistant, Thread
from widget import sessions

pytestmark = pytest.mark.django_db

# What JSON bodies carry: the escapes that decode to a NUL and to a lone (unpaired) surrogate.
NUL = "\\u0000"
SURROGATE = "\\ud800"
NOT_UTF8 = b'{"text": "caf\xe9"}'  # Latin-1, not UTF-8


def envelope(response, status: int) -> dict:
    """The API's error, checked to be JSON in the shared envelope with the expected status."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert {"type", "code", "message"} <= error.keys()
    assert error["message"]
    return error


@pytest.fixture
def v1(shop_client):
    return shop_client


@pytest.fixture
def v1_thread(v1):
    return v1.post("/v1/threads", {}, format="json").json()["id"]


def raw_post(client, path: str, body: str | bytes, **extra):
    data = body.encode() if isinstance(body, str) else body
    return client.generic("POST", path, data, content_type="application/json", **extra)


# --- /v1 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"metadata": {"k%s": "v"}}' % NUL,  # noqa: UP031  (a JSON escape, not a format field)
        '{"metadata": {"k": "v%s"}}' % NUL,  # noqa: UP031
        '{"metadata": {"k": "v%s"}}' % SURROGATE,  # noqa: UP031
        '{"metadata": {"k%s": "v"}}' % SURROGATE,  # noqa: UP031
    ],
)
def test_v1_metadata_with_nul_or_a_lone_surrogate_is_a_400(v1, body):
    error = envelope(raw_post(v1, "/v1/threads", body), 400)

    assert error["type"] == "invalid_request_error"
    assert not Thread.objects.exists()


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_v1_message_content_with_nul_or_a_lone_surrogate_is_a_400(v1, v1_thread, bad):
    body = '{"role": "user", "content": "hello %s there"}' % bad  # noqa: UP031
    envelope(raw_post(v1, f"/v1/threads/{v1_thread}/messages", body), 400)

    assert not Thread.objects.get(public_id=v1_thread).messages.exists()


def test_v1_a_tool_parameter_name_with_nul_is_a_400(v1):
    body = json.dumps(
        {
            "model": "gpt-4o-mini",
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        }
    ).replace('"type": "object"', '"type": "object", "properties": {"a%s": {"type": "string"}}' % NUL)  # noqa: UP031

    envelope(raw_post(v1, "/v1/assistants", body), 400)
    assert not Assistant.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/v1/threads/thread_%00",
        "/v1/threads/thread_%00/messages",
        "/v1/assistants/asst_%00",
        "/v1/threads/thread_%ED%A0%80",  # an encoded surrogate: not UTF-8 at all
    ],
)
def test_v1_a_path_id_with_nul_is_a_400_or_404_in_the_envelope(v1, path):
    response = v1.get(path)

    assert response.status_code in (400, 404)
    envelope(response, response.status_code)


def test_v1_a_cursor_with_nul_is_a_400(v1, v1_thread):
    envelope(v1.get(f"/v1/threads/{v1_thread}/messages?after=%00"), 400)


def test_v1_a_body_that_is_not_utf8_is_a_400(v1):
    envelope(raw_post(v1, "/v1/threads", NOT_UTF8), 400)


def test_v1_a_body_nested_too_deep_is_a_400(v1):
    envelope(raw_post(v1, "/v1/threads", '{"metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"), 400)


@pytest.mark.parametrize("method", ["post", "delete", "get"])
def test_v1_an_unknown_path_is_a_json_404_for_every_method(api_key, method):
    """As the SDK calls it: a bearer key, no CSRF token (the test client skips CSRF unless told)."""
    client = Client(enforce_csrf_checks=True, headers={"authorization": f"Bearer {api_key}"})

    error = envelope(client.generic(method.upper(), "/v1/no/such/thing", b"{}", "application/json"), 404)

    assert error["type"] == "invalid_request_error"


def test_v1_an_unknown_path_is_a_json_404_even_without_credentials():
    envelope(Client(enforce_csrf_checks=True).post("/v1/no/such/thing", {}, content_type="application/json"), 404)


def test_v1_an_oversized_body_is_a_413_in_the_envelope(v1, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    envelope(raw_post(v1, "/v1/threads", '{"metadata": {"k": "%s"}}' % ("x" * 2000)), 413)


def test_v1_a_header_with_nul_is_a_400(v1):
    envelope(v1.post("/v1/threads", {}, format="json", HTTP_IDEMPOTENCY_KEY="key\x00"), 400)


# --- /api -----------------------------------------------------------------------------------------


def test_api_an_order_number_with_nul_is_a_400(alice_client, alice_order):
    envelope(alice_client.get("/api/orders/A1001%00/"), 400)


def test_api_a_query_value_with_nul_is_a_400(alice_client, alice_order):
    envelope(alice_client.get("/api/orders/?status=%00"), 400)


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_api_a_return_note_with_nul_or_a_lone_surrogate_is_a_400(alice_client, alice_order, bad):
    item = alice_order.items.get()
    body = '{"order": "A1001", "item": %d, "reason": "other", "note": "x%s"}' % (item.pk, bad)  # noqa: UP031

    envelope(raw_post(alice_client, "/api/returns/", body, HTTP_IDEMPOTENCY_KEY="k1"), 400)
    assert not alice_order.returns.exists()


def test_api_a_multipart_field_with_nul_is_a_400(alice_client, alice_order):
    item = alice_order.items.get()
    body = {"order": "A1001", "item": item.pk, "reason": "other", "note": "x\x00"}

    envelope(alice_client.post("/api/returns/", body, format="multipart", HTTP_IDEMPOTENCY_KEY="k5"), 400)
    assert not alice_order.returns.exists()


def test_api_a_body_that_is_not_utf8_is_a_400(alice_client):
    envelope(raw_post(alice_client, "/api/returns/", NOT_UTF8, HTTP_IDEMPOTENCY_KEY="k2"), 400)


def test_api_an_oversized_body_is_a_413_in_the_envelope(alice_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"order": "A1001", "item": 1, "reason": "other", "note": "%s"}' % ("x" * 2000)

    envelope(raw_post(alice_client, "/api/returns/", body, HTTP_IDEMPOTENCY_KEY="k3"), 413)


def test_api_wrong_types_are_a_400(alice_client, alice_order):
    body = json.dumps({"order": ["A1001"], "item": {"id": 1}, "reason": 7, "quantity": "many"})

    envelope(raw_post(alice_client, "/api/returns/", body, HTTP_IDEMPOTENCY_KEY="k4"), 400)


# --- /chat/session/ ---------------------------------------------------------------------------------


@pytest.fixture
def widget_ready(settings, db):
    from orders.assistant.persona import ensure_demo_assistant

    settings.WIDGET_IDENTITY_SECRET = "shop-secret"
    ensure_demo_assistant()


def test_session_a_non_ascii_signature_is_refused_not_a_crash(widget_ready, alice):
    body = json.dumps({"email": alice.email, "signature": "é" * 64})

    response = raw_post(Client(), "/chat/session/", body)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_identity"


def test_session_a_body_that_is_not_utf8_is_a_400(widget_ready):
    response = raw_post(Client(), "/chat/session/", NOT_UTF8)

    assert response.status_code == 400 and response.json()["error"]["code"]


@pytest.mark.parametrize("field", ["email", "external_id", "signature", "session"])
@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_session_nul_or_a_lone_surrogate_in_any_field_is_a_400(widget_ready, field, bad):
    response = raw_post(Client(), "/chat/session/", '{"%s": "a%sb"}' % (field, bad))  # noqa: UP031

    assert response.status_code == 400 and response.json()["error"]["code"]
    assert not Thread.objects.exists()


@pytest.mark.parametrize("value", [["alice@example.com"], {"a": 1}, 12, True])
def test_session_an_identity_of_the_wrong_type_is_a_400(widget_ready, value):
    response = raw_post(Client(), "/chat/session/", json.dumps({"email": value, "signature": "00"}))

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


def test_session_an_oversized_body_is_a_413(widget_ready, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = raw_post(Client(), "/chat/session/", json.dumps({"session": "x" * 2000}))

    assert response.status_code == 413 and response.json()["error"]["code"]


def test_session_a_signature_is_still_checked_after_all_this(widget_ready, alice):
    body = json.dumps({"email": alice.email, "signature": sessions.identity_signature(alice.email)})

    assert raw_post(Client(), "/chat/session/", body).json()["customer"] == {"name": alice.name}


# --- the demo page and the console -----------------------------------------------------------------


def test_the_demo_page_with_nul_in_its_query_is_a_400(settings):
    settings.DEMO_SHOP = True

    assert Client().get("/?customer=%00").status_code == 400


def test_a_console_page_with_nul_in_its_path_is_a_400(agent_client):
    assert agent_client.get("/console/conversations/thread_%00/").status_code == 400
