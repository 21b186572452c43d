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


# --- /v1/files and /v1/vector_stores ------------------------------------------------------------------


@pytest.fixture
def knowledge_media(settings, tmp_path):
    """Uploads land in a directory of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.parametrize(
    "purpose",
    [b"assist\x00ants", b"assistants\x00", b"\xed\xa0\x80", b"caf\xe9", b"assistants\r\nX-Injected: 1"],
)
def test_files_a_purpose_with_nul_a_surrogate_or_bytes_that_are_not_utf8_is_a_400(v1, knowledge_media, purpose):
    from knowledge.models import File
    from tests.knowledge.v1 import RETURNS_MD, raw_upload

    envelope(raw_upload(v1, "returns.md", RETURNS_MD, purpose=purpose), 400)

    assert not File.objects.exists()
    assert not any(path.is_file() for path in knowledge_media.rglob("*"))


@pytest.mark.parametrize(
    "filename",
    [
        b"../../etc/passwd",
        b"..\\..\\..\\windows\\system32\\config\\sam",
        b"notes\x00.md",
        b"\x00",
        b"caf\xe9.md",  # not UTF-8
        b"\xed\xa0\x80.md",  # an encoded lone surrogate
        b"%2e%2e%2fsecret.md",
        b"a" * 5000 + b".md",
        b"\xe2\x80\xaemd.exe",  # a right-to-left override before "md.exe"
    ],
)
def test_files_a_hostile_filename_is_stored_safely_or_refused_never_a_500(v1, knowledge_media, filename):
    from knowledge.models import File
    from tests.knowledge.v1 import RETURNS_MD, raw_upload

    response = raw_upload(v1, filename, RETURNS_MD)

    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        envelope(response, 400)
        assert not File.objects.exists()
        return
    stored = File.objects.get(public_id=response.json()["id"])
    assert stored.filename == response.json()["filename"]
    assert stored.filename and len(stored.filename.encode()) <= 200
    assert not any(c in stored.filename for c in "/\\\x00\u202e") and stored.filename not in (".", "..")
    path = knowledge_media.joinpath(stored.content.name).resolve()
    assert path.is_relative_to(knowledge_media.resolve()) and path.read_bytes() == RETURNS_MD
    disposition = v1.get(f"/v1/files/{stored.public_id}/content")["Content-Disposition"]
    assert disposition.isascii() and "\n" not in disposition and "\r" not in disposition


def test_files_a_huge_content_length_is_a_413_before_the_body_is_read(v1, knowledge_media):
    """The test client's input raises if more is read than was sent: a clean 413 proves it was not."""
    from knowledge.models import File
    from tests.knowledge.v1 import BOUNDARY

    response = v1.generic(
        "POST",
        "/v1/files",
        b"--%s--\r\n" % BOUNDARY.encode(),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_LENGTH=str(10**12),
    )

    assert envelope(response, 413)["code"] == "file_too_large"
    assert not File.objects.exists()


def test_vector_stores_a_huge_content_length_is_a_413_before_the_body_is_read(v1):
    response = v1.generic(
        "POST", "/v1/vector_stores", b"{}", content_type="application/json", CONTENT_LENGTH=str(10**12)
    )

    envelope(response, 413)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/vector_stores", '{"name": "kb%s"}'),
        ("/v1/vector_stores", '{"metadata": {"k": "v%s"}}'),
        ("/v1/vector_stores", '{"file_ids": ["file-%s"]}'),
        ("STORE/search", '{"query": "refund%s"}'),
        ("STORE/search", '{"query": "refund", "filters": {"type": "eq", "key": "k%s", "value": "v"}}'),
        ("STORE/files", '{"file_id": "file-x", "attributes": {"k": "v%s"}}'),
        ("STORE/file_batches", '{"file_ids": ["file-%s"]}'),
    ],
)
@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_vector_stores_nul_or_a_lone_surrogate_in_a_body_is_a_400(v1, path, body, bad):
    from knowledge.models import VectorStore

    store = v1.post("/v1/vector_stores", {"name": "kb"}, format="json").json()["id"]

    envelope(raw_post(v1, path.replace("STORE", f"/v1/vector_stores/{store}"), body % bad), 400)
    assert list(VectorStore.objects.values_list("public_id", "name")) == [(store, "kb")]


@pytest.mark.parametrize(
    "path",
    ["/v1/files/file-%00", "/v1/files/file-%00/content", "/v1/vector_stores/vs_%00", "/v1/vector_stores/vs_%ED%A0%80"],
)
def test_knowledge_a_path_id_with_nul_is_a_400_or_404_in_the_envelope(v1, path):
    response = v1.get(path)

    assert response.status_code in (400, 404)
    envelope(response, response.status_code)


def test_knowledge_another_owners_ids_are_a_404_on_every_endpoint(v1, knowledge_media):
    """Mallory-the-key-owner names the shop backend's file, store and batch on every knowledge path."""
    from knowledge.models import FileBatch, VectorStore, VectorStoreFile
    from tests.api import key_client
    from tests.knowledge.v1 import uploaded

    file_id = uploaded(v1)["id"]
    store = v1.post("/v1/vector_stores", {"name": "kb"}, format="json").json()["id"]
    batch = v1.post(f"/v1/vector_stores/{store}/file_batches", {"file_ids": [file_id]}, format="json").json()["id"]
    other = key_client("mallory-backend")[1]
    own_store = other.post("/v1/vector_stores", {"name": "mine"}).json()["id"]
    s, f, b = f"/v1/vector_stores/{store}", f"/v1/files/{file_id}", f"{store}/file_batches/{batch}"
    attempts = [
        ("GET", f, None),
        ("DELETE", f, None),
        ("GET", f"{f}/content", None),
        ("GET", s, None),
        ("POST", s, {"name": "taken"}),
        ("DELETE", s, None),
        ("POST", f"{s}/search", {"query": "refund"}),
        ("GET", f"{s}/files", None),
        ("POST", f"{s}/files", {"file_id": file_id}),
        ("GET", f"{s}/files/{file_id}", None),
        ("POST", f"{s}/files/{file_id}", {"attributes": {}}),
        ("DELETE", f"{s}/files/{file_id}", None),
        ("GET", f"{s}/files/{file_id}/content", None),
        ("POST", f"{s}/file_batches", {"file_ids": [file_id]}),
        ("GET", f"/v1/vector_stores/{b}", None),
        ("POST", f"/v1/vector_stores/{b}/cancel", None),
        ("GET", f"/v1/vector_stores/{b}/files", None),
        ("POST", "/v1/vector_stores", {"file_ids": [file_id]}),
        ("POST", f"/v1/vector_stores/{own_store}/files", {"file_id": file_id}),
        ("POST", f"/v1/vector_stores/{own_store}/file_batches", {"files": [{"file_id": file_id}]}),
    ]

    for method, path, body in attempts:
        response = other.generic(method, path, json.dumps(body) if body else "", content_type="application/json")
        assert envelope(response, 404)["message"].startswith("No "), (method, path)
    assert VectorStore.objects.get(public_id=store).name == "kb"
    assert VectorStoreFile.objects.filter(vector_store__public_id=store).count() == 1
    assert not FileBatch.objects.filter(cancelled=True).exists()
    assert not VectorStoreFile.objects.filter(vector_store__public_id=own_store).exists()
