"""/v1/files: upload (multipart), list, retrieve, delete and content, in the API's shapes (checked
against the openai SDK's own types), its errors, and nobody but the uploader's key owner sees a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from openai.types import FileDeleted, FileObject

from knowledge import services
from knowledge.models import File
from tests.api import key_client
from tests.knowledge.v1 import RETURNS_MD, SHIPPING_MD, error_of, raw_upload, upload, uploaded

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def acme():
    return key_client("acme")


@pytest.fixture
def client(acme):
    return acme[1]


@pytest.fixture
def globex():
    """Another key's owner: must never see what acme uploaded."""
    return key_client("globex")[1]


def content_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_upload_answers_the_sdks_file_object_and_stores_the_bytes(acme):
    owner, client = acme

    response = upload(client, "returns.md", RETURNS_MD)

    assert response.status_code == 200
    body = response.json()
    FileObject.model_validate(body, strict=True)
    assert set(body) == set(FileObject.model_fields)
    assert body["id"].startswith("file-") and body["object"] == "file"
    assert body["bytes"] == len(RETURNS_MD) and body["filename"] == "returns.md"
    assert body["purpose"] == "assistants" and body["status"] == "processed"
    assert body["expires_at"] is None and body["status_details"] is None
    stored = File.objects.get(public_id=body["id"])
    assert stored.owner == owner and stored.content_type == "text/markdown"
    with stored.content.open("rb") as handle:
        assert handle.read() == RETURNS_MD


def test_retrieve_list_and_delete(client, media, django_capture_on_commit_callbacks):
    created = uploaded(client)
    url = f"/v1/files/{created['id']}"
    path = Path(File.objects.get(public_id=created["id"]).content.path)

    assert client.get(url).json() == created
    assert [f["id"] for f in client.get("/v1/files").json()["data"]] == [created["id"]]
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.delete(url)

    assert deleted.status_code == 200
    FileDeleted.model_validate(deleted.json(), strict=True)
    assert deleted.json() == {"id": created["id"], "object": "file", "deleted": True}
    assert error_of(client.get(url), 404)["message"] == f"No file found with id '{created['id']}'."
    error_of(client.get(f"{url}/content"), 404)
    error_of(client.delete(url), 404)
    assert not File.objects.exists() and not path.exists()


def test_the_content_is_the_exact_bytes_with_a_safe_content_disposition(client):
    data = "# Café policy\n\nRefunds within 5 days.\n".encode() + bytes(range(1, 9))
    created = uploaded(client, 'Résumé "final";\r\nX-Evil: 1.md', data)

    response = client.get(f"/v1/files/{created['id']}/content")

    assert response.status_code == 200
    assert content_of(response) == data
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "\r" not in disposition and "\n" not in disposition and "X-Evil" not in response
    assert "filename*=utf-8''" in disposition  # RFC 6266 for the non-ASCII name, quotes encoded
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "stored_as"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/absolute/notes.md", "notes.md"),
        ("\u202egnp.md", "gnp.md"),  # a right-to-left override, which would disguise the extension
        ("CON.md", "_CON.md"),  # a Windows device name
        ('a"b<c>.md', "a_b_c_.md"),
    ],
)
def test_a_hostile_filename_is_stored_as_its_safe_last_component(client, media, name, stored_as):
    response = raw_upload(client, name, RETURNS_MD)

    assert response.status_code == 200, response.content
    created = response.json()
    assert created["filename"] == stored_as
    path = Path(File.objects.get(public_id=created["id"]).content.path).resolve()
    assert path.is_relative_to(media.resolve()) and path.read_bytes() == RETURNS_MD
    assert client.get(f"/v1/files/{created['id']}/content")["Content-Disposition"].isascii()


@pytest.mark.parametrize("name", ["..", "../..", ""])
def test_a_filename_with_nothing_left_is_refused_as_no_file(client, name):
    error_of(raw_upload(client, name, RETURNS_MD), 400, param="file")
    assert not File.objects.exists()


def test_upload_expires_after_sets_expires_at(client):
    body = uploaded_with(client, **{"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"})

    FileObject.model_validate(body, strict=True)
    assert body["expires_at"] == body["created_at"] + 3600


def uploaded_with(client, **fields) -> dict:
    response = upload(client, "returns.md", RETURNS_MD, **fields)
    assert response.status_code == 200, response.content
    return response.json()


def test_expired_files_are_deleted_by_the_expiry(client):
    keep = uploaded(client)
    gone = uploaded_with(client, **{"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"})
    File.objects.filter(public_id=gone["id"]).update(expires_at=File.objects.get(public_id=gone["id"]).created_at)

    assert services.expire_files() == 1

    assert [f["id"] for f in client.get("/v1/files").json()["data"]] == [keep["id"]]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"purpose": "fine-tune"}, "purpose"),
        ({"purpose": "batch"}, "purpose"),
        ({"purpose": "assistants_output"}, "purpose"),
        ({"purpose": ""}, "purpose"),
        ({"purpose": "assistants", "colour": "blue"}, "colour"),
        ({"purpose": "assistants", "expires_after[anchor]": "last_active_at", "expires_after[seconds]": "3600"}, None),
        ({"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "60"}, None),
        ({"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "2592001"}, None),
        ({"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "soon"}, None),
        ({"purpose": "assistants", "expires_after[anchor]": "created_at"}, None),
    ],
)
def test_a_bad_upload_is_a_400_naming_the_field_and_stores_nothing(client, media, fields, param):
    purpose = fields.pop("purpose")

    error = error_of(upload(client, "returns.md", RETURNS_MD, purpose=purpose, **fields), 400)

    assert error["param"] == (param or error["param"])
    if param is None:
        assert error["param"].startswith("expires_after.")
    assert not File.objects.exists()
    assert not any(path.is_file() for path in media.rglob("*"))


def test_an_upload_without_a_file_or_an_empty_one_is_a_400(client):
    assert error_of(client.post("/v1/files", {"purpose": "assistants"}, format="multipart"), 400)["param"] == "file"
    assert error_of(client.post("/v1/files", {"purpose": "assistants"}), 400)["param"] == "file"  # JSON body
    assert error_of(upload(client, "empty.md", b""), 400)["param"] == "file"
    no_purpose = client.post("/v1/files", {"file": ContentFile(RETURNS_MD, name="r.md")}, format="multipart")
    assert error_of(no_purpose, 400)["param"] == "purpose"
    assert not File.objects.exists()


def test_an_upload_over_the_limit_is_a_413_in_the_envelope(client, media, settings):
    settings.KNOWLEDGE_MAX_UPLOAD_BYTES = 100

    error = error_of(upload(client, "big.md", b"x" * 101), 413, param="file")

    assert error["code"] == "file_too_large" and "100 bytes" in error["message"]
    assert upload(client, "small.md", b"x" * 100).status_code == 200
    assert File.objects.count() == 1
    assert len([path for path in media.rglob("*") if path.is_file()]) == 1


def test_the_list_pages_by_limit_after_and_order(client):
    ids = [uploaded(client, f"doc{i}.md", SHIPPING_MD)["id"] for i in range(5)]

    newest_first = client.get("/v1/files", {"limit": 2}).json()
    assert [f["id"] for f in newest_first["data"]] == ids[:-3:-1]
    assert newest_first["has_more"] is True and newest_first["last_id"] == ids[3]
    following = client.get("/v1/files", {"limit": 2, "after": ids[3]}).json()
    assert [f["id"] for f in following["data"]] == [ids[2], ids[1]]
    last = client.get("/v1/files", {"limit": 2, "after": ids[1]}).json()
    assert [f["id"] for f in last["data"]] == [ids[0]] and last["has_more"] is False
    oldest_first = client.get("/v1/files", {"order": "asc", "limit": 3}).json()
    assert [f["id"] for f in oldest_first["data"]] == ids[:3] and oldest_first["has_more"] is True
    everything = client.get("/v1/files").json()  # the API's default limit for files is 10,000
    assert len(everything["data"]) == 5 and everything["has_more"] is False
    for body in everything["data"]:
        FileObject.model_validate(body, strict=True)
    assert client.get("/v1/files", {"purpose": "vision"}).json()["data"] == []
    assert len(client.get("/v1/files", {"purpose": "assistants"}).json()["data"]) == 5


@pytest.mark.parametrize(
    ("query", "param"),
    [({"limit": 0}, "limit"), ({"limit": 10_001}, "limit"), ({"order": "up"}, "order"), ({"after": "file-x"}, "after")],
)
def test_bad_list_parameters_are_a_400(client, query, param):
    error_of(client.get("/v1/files", query), 400, param=param)


def test_another_owners_file_reads_as_not_found_everywhere(client, globex):
    created = uploaded(client)
    url = f"/v1/files/{created['id']}"

    for response in (globex.get(url), globex.get(f"{url}/content"), globex.delete(url)):
        assert error_of(response, 404)["message"] == f"No file found with id '{created['id']}'."
    assert globex.get("/v1/files").json()["data"] == []
    assert client.get(url).status_code == 200


def test_the_shops_own_files_are_invisible_through_v1(client):
    shop_file = services.file_create(
        owner=None, upload=ContentFile(RETURNS_MD, name="returns.md"), purpose="assistants", help_slug="returns"
    )
    url = f"/v1/files/{shop_file.public_id}"

    for response in (client.get(url), client.get(f"{url}/content"), client.delete(url)):
        error_of(response, 404)
    assert client.get("/v1/files").json()["data"] == []
    assert File.objects.filter(pk=shop_file.pk).exists()


def test_a_files_request_without_a_key_is_a_401_in_the_envelope(db):
    from rest_framework.test import APIClient

    response = APIClient().get("/v1/files")

    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
