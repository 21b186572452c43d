"""The widget's photos: POST /chat/attachments/ (the session token proves the conversation), reading a
photo back (its sender only), and the socket's message that carries it."""

from __future__ import annotations

import io

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from knowledge.models import File
from orders.assistant.persona import ensure_demo_assistant
from runtime.models import Message, Thread
from tests.widget.test_chat_consumer import connect, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def chat_ready(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RUN_DISPATCH = "thread"
    ensure_demo_assistant()


def photo(fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 90)).save(out, format=fmt)
    return out.getvalue()


def new_session() -> dict:
    response = Client().post("/chat/session/", {}, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def upload(session: str, data: bytes, name: str = "IMG_0001.jpg", **extra):
    body = {"session": session, "file": SimpleUploadedFile(name, data, content_type="image/jpeg")}
    return Client().post("/chat/attachments/", body, **extra)


def read_back(file_id: str, session: str | None):
    headers = {"HTTP_X_CONCIERGE_SESSION": session} if session is not None else {}
    return Client().get(f"/chat/attachments/{file_id}/", **headers)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_photo_is_stored_for_the_visitors_conversation_and_the_session_says_the_limits(settings):
    session = new_session()
    assert session["limits"] == {
        "image_bytes": settings.WIDGET_MAX_IMAGE_BYTES,
        "images_per_message": settings.WIDGET_MAX_IMAGES_PER_MESSAGE,
    }

    response = upload(session["session"], photo())  # a PNG, whatever its name says

    assert response.status_code == 201, response.content
    stored = File.objects.get(public_id=response.json()["file_id"])
    assert response.json() == {"file_id": stored.public_id, "content_type": "image/png", "bytes": stored.bytes}
    assert (stored.thread_public_id, stored.owner_id, stored.purpose) == (session["thread_id"], None, "vision")


@pytest.mark.parametrize(
    "data, name",
    [
        (b"<html><body><script>alert(1)</script></body></html>", "label.png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "label.png"),
        (b"%PDF-1.4\n%%EOF", "label.png"),
    ],
    ids=["html", "svg", "pdf"],
)
def test_what_is_not_a_photo_is_refused_whatever_its_name(data, name):
    response = upload(new_session()["session"], data, name)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_image"
    assert not File.objects.exists()


def test_a_forged_or_missing_session_uploads_nothing():
    session = new_session()["session"]
    for token in ("", "not-a-token", session[:-2] + ("AA" if not session.endswith("AA") else "BB")):
        response = upload(token, photo())
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "invalid_session"
    assert not File.objects.exists()


def test_a_photo_over_the_limit_is_refused_with_413(settings):
    data = photo()
    settings.WIDGET_MAX_IMAGE_BYTES = len(data) - 1
    response = upload(new_session()["session"], data)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "image_too_large"
    assert "limit" in response.json()["error"]["message"]
    assert not File.objects.exists()


def test_a_huge_body_is_refused_by_its_length_before_the_session_is_read(settings):
    settings.WIDGET_MAX_IMAGE_BYTES = 1024
    response = upload("whatever", b"\x89PNG" + b"\x00" * 200_000)
    assert response.status_code == 413
    assert not File.objects.exists()


def test_a_nul_byte_in_the_session_field_is_refused():
    response = upload("abc\x00def", photo())
    assert response.status_code == 400
    assert not File.objects.exists()


def test_an_upload_without_a_file_is_a_clear_400():
    response = Client().post("/chat/attachments/", {"session": new_session()["session"]})
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "no_file", "message": "Choose a photo to attach."}


def test_the_sender_reads_their_photo_back_and_nobody_else_does():
    alice, bob = new_session(), new_session()
    file_id = upload(alice["session"], photo()).json()["file_id"]

    mine = read_back(file_id, alice["session"])
    assert mine.status_code == 200
    assert mine["Content-Type"] == "image/png"
    assert mine["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in mine["Content-Security-Policy"]
    assert body_of(mine).startswith(b"\x89PNG")

    assert read_back(file_id, bob["session"]).status_code == 404  # another visitor
    assert read_back(file_id, None).status_code == 403  # no session at all
    assert read_back(file_id, "forged").status_code == 403
    assert read_back("file-doesnotexist", alice["session"]).status_code == 404


def test_a_cross_origin_shop_page_gets_its_preflight_answered(settings):
    settings.WIDGET_ALLOWED_ORIGINS = ["https://shop.example"]
    response = Client().options(
        "/chat/attachments/file-x/", HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Access-Control-Allow-Headers"] == "X-Concierge-Session"
    foreign = Client().options("/chat/attachments/file-x/", HTTP_ORIGIN="https://evil.example")
    assert foreign.status_code == 403


# --- the message that carries it ------------------------------------------------------------------


async def test_a_message_carries_the_photo_as_an_image_file_part():
    session = await database_sync_to_async(new_session)()
    file_id = (await database_sync_to_async(upload)(session["session"], photo())).json()["file_id"]
    comm, connected, _ = await connect(session["ticket"])
    assert connected
    await comm.receive_json_from(timeout=5)  # hello

    await comm.send_json_to({"type": "message", "text": "It arrived broken", "client_id": "c1", "images": [file_id]})
    ack = (await receive_until(comm, lambda m: m["type"] in ("ack", "error")))[-1]

    assert ack["type"] == "ack", ack
    assert ack["message"]["images"] == [file_id]
    assert ack["message"]["text"] == "It arrived broken"
    answer = (await receive_until(comm, lambda m: m["type"] == "message" and m["message"]["role"] == "assistant"))[-1]
    assert answer["message"]["text"].startswith("Thanks for the photo")
    stored = await database_sync_to_async(lambda: Message.objects.get(public_id=ack["message"]["id"]))()
    assert stored.content == [
        {"type": "text", "text": {"value": "It arrived broken", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": file_id, "detail": "auto"}},
    ]
    await comm.disconnect()


async def test_a_photo_alone_is_a_message():
    session = await database_sync_to_async(new_session)()
    file_id = (await database_sync_to_async(upload)(session["session"], photo())).json()["file_id"]
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from(timeout=5)

    await comm.send_json_to({"type": "message", "client_id": "c1", "images": [file_id]})
    ack = (await receive_until(comm, lambda m: m["type"] in ("ack", "error")))[-1]

    assert ack["type"] == "ack", ack
    assert (ack["message"]["text"], ack["message"]["images"]) == ("", [file_id])
    answer = (await receive_until(comm, lambda m: m["type"] == "message" and m["message"]["role"] == "assistant"))[-1]
    assert "damaged or wrong item" in answer["message"]["text"]
    await comm.disconnect()


async def test_another_visitors_photo_cannot_be_sent_and_the_text_comes_back():
    alice, bob = await database_sync_to_async(new_session)(), await database_sync_to_async(new_session)()
    bobs = (await database_sync_to_async(upload)(bob["session"], photo())).json()["file_id"]
    comm, _, _ = await connect(alice["ticket"])
    await comm.receive_json_from(timeout=5)

    for images in ([bobs], ["file-doesnotexist"]):
        await comm.send_json_to({"type": "message", "text": "look", "client_id": "c1", "images": images})
        error = (await receive_until(comm, lambda m: m["type"] in ("ack", "error")))[-1]
        # The widget puts the text back in the box when its client_id comes back with an error.
        assert (error["type"], error["code"], error["client_id"]) == ("error", "invalid_image", "c1")

    thread = await database_sync_to_async(Thread.objects.get)(public_id=alice["thread_id"])
    assert not await database_sync_to_async(thread.messages.exists)()
    await comm.disconnect()


@pytest.mark.parametrize(
    "images, code",
    [
        ("file-x", "bad_request"),
        ([1], "bad_request"),
        (["x" * 65], "bad_request"),
        (["a", "b", "c", "d"], "too_many_images"),
    ],
)
async def test_malformed_images_are_refused(images, code):
    session = await database_sync_to_async(new_session)()
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from(timeout=5)

    await comm.send_json_to({"type": "message", "text": "look", "client_id": "c9", "images": images})
    error = (await receive_until(comm, lambda m: m["type"] in ("ack", "error")))[-1]

    assert (error["type"], error["code"], error["client_id"]) == ("error", code, "c9")
    await comm.disconnect()
