"""/v1/vector_stores, their files and file batches, and search: the API's shapes (checked against the
openai SDK's own types), its errors, ingestion moving a file from in_progress to completed or failed,
and nobody but the store's key owner reaching any of it.

Ingestion runs after commit (RUN_DISPATCH is "inline" in tests); `committed` runs what a request
handed to after commit, as a real commit would.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openai.types import VectorStore, VectorStoreDeleted, VectorStoreSearchResponse
from openai.types.vector_stores import VectorStoreFile, VectorStoreFileBatch, VectorStoreFileDeleted

from knowledge import ingest, services
from knowledge.help_centre import ensure_help_centre
from knowledge.models import Chunk, FileBatch
from knowledge.models import VectorStore as Store
from tests.api import key_client
from tests.knowledge.v1 import NOT_A_PDF, PNG, RETURNS_MD, SHIPPING_MD, error_of, uploaded

pytestmark = pytest.mark.django_db

AUTO = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
# A document long enough to be cut into several chunks of 100 tokens.
LONG_MD = b"# Warranty\n\n" + b"".join(
    b"## Part %d\nEvery appliance part number %d is covered for two years against faults in materials. "
    b"Keep the receipt and the serial number, and write to us before sending anything back.\n\n" % (i, i)
    for i in range(12)
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def client():
    return key_client("acme")[1]


@pytest.fixture
def globex():
    """Another key's owner: must never reach what acme made."""
    return key_client("globex")[1]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A context in which what the requests hand to after commit (ingestion) runs, as on a commit."""

    @contextmanager
    def context():
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return context


@pytest.fixture
def returns_file(client) -> dict:
    return uploaded(client, "returns.md", RETURNS_MD)


@pytest.fixture
def store(client, returns_file, committed) -> dict:
    """Acme's store holding returns.md, ingested."""
    with committed():
        created = client.post("/v1/vector_stores", {"name": "Policies", "file_ids": [returns_file["id"]]}).json()
    return client.get(f"/v1/vector_stores/{created['id']}").json()


@pytest.fixture
def empty_store(client) -> dict:
    """A store with nothing in it: enough for requests refused before they reach a file."""
    return client.post("/v1/vector_stores", {"name": "Empty"}).json()


def store_url(store: dict, rest: str = "") -> str:
    return f"/v1/vector_stores/{store['id']}{rest}"


def search(client, store: dict, **body):
    return client.post(store_url(store, "/search"), body)


def found_files(client, store: dict, query: str = "refund return", **body) -> list[str]:
    response = search(client, store, query=query, **body)
    assert response.status_code == 200, response.content
    return [hit["file_id"] for hit in response.json()["data"]]


# --- Vector stores -----------------------------------------------------------------------------------


def test_a_store_is_in_progress_until_its_files_are_ingested_then_completed(client, returns_file, committed):
    with committed():
        response = client.post(
            "/v1/vector_stores",
            {"name": "Policies", "file_ids": [returns_file["id"]], "metadata": {"team": "support"}},
        )
        created = response.json()
        # Answered before the commit: its file waits for ingestion.
        assert response.status_code == 200
        VectorStore.model_validate(created, strict=True)
        assert set(created) == set(VectorStore.model_fields)
        assert created["id"].startswith("vs_") and created["object"] == "vector_store"
        assert created["status"] == "in_progress" and created["usage_bytes"] == 0
        assert created["file_counts"] == {"in_progress": 1, "completed": 0, "failed": 0, "cancelled": 0, "total": 1}
        assert created["metadata"] == {"team": "support"} and created["expires_after"] is None

    ready = client.get(store_url(created)).json()
    VectorStore.model_validate(ready, strict=True)
    assert ready["status"] == "completed" and ready["usage_bytes"] > 0
    assert ready["file_counts"] == {"in_progress": 0, "completed": 1, "failed": 0, "cancelled": 0, "total": 1}
    (store_file,) = client.get(store_url(created, "/files")).json()["data"]
    VectorStoreFile.model_validate(store_file, strict=True)
    assert store_file["id"] == returns_file["id"] and store_file["vector_store_id"] == created["id"]
    assert store_file["status"] == "completed" and store_file["last_error"] is None
    assert store_file["chunking_strategy"] == AUTO and store_file["usage_bytes"] > 0


def test_retrieve_modify_and_delete_a_store(client, store, returns_file):
    url = store_url(store)

    assert client.get(url).json() == store
    renamed = client.post(url, {"name": "FAQ", "metadata": {"v": "2"}}).json()
    VectorStore.model_validate(renamed, strict=True)
    assert renamed["name"] == "FAQ" and renamed["metadata"] == {"v": "2"}
    expiring = client.post(url, {"expires_after": {"anchor": "last_active_at", "days": 7}}).json()
    VectorStore.model_validate(expiring, strict=True)
    assert expiring["expires_after"] == {"anchor": "last_active_at", "days": 7}
    assert expiring["expires_at"] - expiring["last_active_at"] in range(7 * 86400 - 1, 7 * 86400 + 2)
    assert expiring["name"] == "FAQ"
    lasting = client.post(url, {"expires_after": None, "name": None, "metadata": None}).json()
    assert lasting["expires_after"] is None and lasting["expires_at"] is None
    assert lasting["name"] == "" and lasting["metadata"] == {}

    deleted = client.delete(url)
    assert deleted.status_code == 200
    VectorStoreDeleted.model_validate(deleted.json(), strict=True)
    assert deleted.json() == {"id": store["id"], "object": "vector_store.deleted", "deleted": True}
    assert error_of(client.get(url), 404)["message"] == f"No vector store found with id '{store['id']}'."
    assert client.get(f"/v1/files/{returns_file['id']}").status_code == 200  # the file stays
    assert not Chunk.objects.exists()


def test_a_description_is_accepted_as_the_sdk_sends_it(client):
    response = client.post("/v1/vector_stores", {"name": "kb", "description": "What the shop's policies say."})

    assert response.status_code == 200
    VectorStore.model_validate(response.json(), strict=True)
    assert response.json()["status"] == "completed" and response.json()["file_counts"]["total"] == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "kb", "colour": "blue"}, "colour"),
        ({"name": 7}, "name"),
        ({"name": "x" * 257}, "name"),
        ({"description": "x" * 513}, "description"),
        ({"file_ids": "file-abc"}, "file_ids"),
        ({"file_ids": [1, 2]}, "file_ids"),
        ({"expires_after": {"anchor": "created_at", "days": 7}}, "expires_after"),
        ({"expires_after": {"anchor": "last_active_at", "days": 0}}, "expires_after.days"),
        ({"expires_after": {"anchor": "last_active_at", "days": 366}}, "expires_after.days"),
        ({"expires_after": {"anchor": "last_active_at", "days": "7"}}, "expires_after.days"),
        ({"expires_after": {"anchor": "last_active_at", "days": True}}, "expires_after.days"),
        ({"expires_after": {"anchor": "last_active_at"}}, "expires_after"),
        ({"expires_after": {"anchor": "last_active_at", "days": 7, "hours": 1}}, "expires_after"),
        ({"expires_after": 7}, "expires_after"),
        ({"chunking_strategy": {"type": "fancy"}}, "chunking_strategy.type"),
        ({"chunking_strategy": {"type": "static"}}, "chunking_strategy.static"),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0},
                }
            },
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0},
                }
            },
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 201},
                }
            },
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        (
            {"chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 400}}},
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        ({"chunking_strategy": {"type": "auto", "static": {}}}, "chunking_strategy.static"),
        ({"metadata": {"k": 1}}, None),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, None),
    ],
)
def test_a_bad_store_is_a_400_naming_the_field_and_nothing_is_made(client, body, param):
    error = error_of(client.post("/v1/vector_stores", body), 400)

    if param is not None:
        assert error["param"] == param, error
    assert not Store.objects.exists()


def test_a_file_id_that_does_not_exist_is_a_404_and_nothing_is_made(client, returns_file):
    error = error_of(client.post("/v1/vector_stores", {"file_ids": [returns_file["id"], "file-nope"]}), 404)

    assert error["message"] == "No file found with id 'file-nope'."
    assert not Store.objects.exists()


def test_modify_refuses_what_it_cannot_change(client, empty_store):
    store = empty_store
    error_of(client.post(store_url(store), {"file_ids": []}), 400, param="file_ids")
    error_of(client.post(store_url(store), {"expires_after": {"anchor": "last_active_at", "days": 0}}), 400)
    error_of(client.post(store_url(store), {"name": ["a"]}), 400, param="name")
    assert client.get(store_url(store)).json()["name"] == "Empty"


def test_stores_page_by_limit_after_before_and_order(client):
    ids = [client.post("/v1/vector_stores", {"name": f"s{i}"}).json()["id"] for i in range(5)]

    first = client.get("/v1/vector_stores", {"limit": 2}).json()
    assert [s["id"] for s in first["data"]] == [ids[4], ids[3]] and first["has_more"] is True
    second = client.get("/v1/vector_stores", {"limit": 2, "after": first["last_id"]}).json()
    assert [s["id"] for s in second["data"]] == [ids[2], ids[1]]
    third = client.get("/v1/vector_stores", {"limit": 2, "after": second["last_id"]}).json()
    assert [s["id"] for s in third["data"]] == [ids[0]] and third["has_more"] is False
    ascending = client.get("/v1/vector_stores", {"order": "asc", "after": ids[1]}).json()
    assert [s["id"] for s in ascending["data"]] == ids[2:]
    before = client.get("/v1/vector_stores", {"limit": 2, "before": ids[1]}).json()
    assert [s["id"] for s in before["data"]] == [ids[3], ids[2]]
    for body in client.get("/v1/vector_stores").json()["data"]:
        VectorStore.model_validate(body, strict=True)
    error_of(client.get("/v1/vector_stores", {"limit": 101}), 400, param="limit")


def test_a_page_of_stores_costs_the_same_queries_however_many_it_holds(client, returns_file):
    client.post("/v1/vector_stores", {"name": "one", "file_ids": [returns_file["id"]]})
    client.get("/v1/vector_stores")  # the key's lookup cached, as in steady use
    with CaptureQueriesContext(connection) as one:
        listed = client.get("/v1/vector_stores").json()
    assert listed["data"][0]["file_counts"]["total"] == 1
    for i in range(5):
        client.post("/v1/vector_stores", {"name": f"more {i}", "file_ids": [returns_file["id"]]})

    with CaptureQueriesContext(connection) as six:
        listed = client.get("/v1/vector_stores").json()

    assert len(listed["data"]) == 6 and all(s["file_counts"]["total"] == 1 for s in listed["data"])
    assert len(six.captured_queries) == len(one.captured_queries)


# --- Files in a store ---------------------------------------------------------------------------------


def test_adding_a_file_with_a_chunking_strategy_and_attributes(client, store, committed):
    warranty = uploaded(client, "warranty.md", LONG_MD)
    small = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}}

    with committed():
        response = client.post(
            store_url(store, "/files"),
            {"file_id": warranty["id"], "chunking_strategy": small, "attributes": {"topic": "warranty", "year": 2026}},
        )
        added = response.json()
        VectorStoreFile.model_validate(added, strict=True)
        assert set(added) == set(VectorStoreFile.model_fields)
        assert added["status"] == "in_progress" and added["object"] == "vector_store.file"
        assert response["openai-poll-after-ms"].isdigit()  # the SDK's create_and_poll sleeps this long

    done = client.get(store_url(store, f"/files/{warranty['id']}"))
    VectorStoreFile.model_validate(done.json(), strict=True)
    assert "openai-poll-after-ms" not in done
    assert done.json()["status"] == "completed" and done.json()["chunking_strategy"] == small
    assert done.json()["attributes"] == {"topic": "warranty", "year": 2026}
    chunks = Chunk.objects.filter(store_file__file__public_id=warranty["id"])
    assert chunks.count() > 3 and all(chunk.tokens <= 100 for chunk in chunks)
    content = client.get(store_url(store, f"/files/{warranty['id']}/content")).json()
    assert content["object"] == "vector_store.file_content.page" and content["has_more"] is False
    assert [part["text"] for part in content["data"]] == list(chunks.order_by("index").values_list("text", flat=True))
    assert client.get(store_url(store)).json()["file_counts"]["completed"] == 2


def test_adding_a_file_already_in_the_store_leaves_it_as_it_is(client, store, returns_file):
    again = client.post(store_url(store, "/files"), {"file_id": returns_file["id"]})

    assert again.status_code == 200 and again.json()["status"] == "completed"
    assert client.get(store_url(store)).json()["file_counts"]["total"] == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "file_id"),
        ({"file_id": 5}, "file_id"),
        ({"file_id": "FILE", "colour": "blue"}, "colour"),
        ({"file_id": "FILE", "attributes": {"k": {"nested": 1}}}, "attributes"),
        ({"file_id": "FILE", "attributes": {"k": ["a"]}}, "attributes"),
        ({"file_id": "FILE", "attributes": {"k" * 65: "v"}}, "attributes"),
        ({"file_id": "FILE", "attributes": {"k": "v" * 513}}, "attributes"),
        ({"file_id": "FILE", "attributes": {f"k{i}": i for i in range(17)}}, "attributes"),
        ({"file_id": "FILE", "attributes": "topic=returns"}, "attributes"),
        (
            {
                "file_id": "FILE",
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 51},
                },
            },
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
    ],
)
def test_a_bad_file_to_add_is_a_400_naming_the_field(client, empty_store, body, param):
    empty = empty_store
    shipping = uploaded(client, "shipping.md", SHIPPING_MD)
    if body.get("file_id") == "FILE":
        body = {**body, "file_id": shipping["id"]}

    error_of(client.post(store_url(empty, "/files"), body), 400, param=param)
    assert client.get(store_url(empty)).json()["file_counts"]["total"] == 0


def test_attributes_are_updated_and_checked(client, store, returns_file):
    url = store_url(store, f"/files/{returns_file['id']}")

    updated = client.post(url, {"attributes": {"topic": "returns", "public": True, "rank": 1.5}})

    assert updated.status_code == 200
    VectorStoreFile.model_validate(updated.json(), strict=True)
    assert updated.json()["attributes"] == {"topic": "returns", "public": True, "rank": 1.5}
    assert client.get(url).json()["attributes"] == {"topic": "returns", "public": True, "rank": 1.5}
    assert client.post(url, {"attributes": None}).json()["attributes"] == {}
    error_of(client.post(url, {}), 400, param="attributes")
    error_of(client.post(url, {"attributes": {"k": {"a": 1}}}), 400, param="attributes")
    error_of(client.post(url, {"attributes": {}, "status": "completed"}), 400, param="status")
    error_of(client.post(store_url(store, "/files/file-nope"), {"attributes": {}}), 404)


def test_files_in_a_store_page_and_filter_by_status(client, store, returns_file, committed):
    more = [uploaded(client, f"shipping{i}.md", SHIPPING_MD) for i in range(3)]
    broken = uploaded(client, "broken.pdf", NOT_A_PDF)
    with committed():
        for file in [*more, broken]:
            client.post(store_url(store, "/files"), {"file_id": file["id"]})
    ids = [returns_file["id"], *(f["id"] for f in more), broken["id"]]  # oldest first

    newest = client.get(store_url(store, "/files"), {"limit": 2}).json()
    assert [f["id"] for f in newest["data"]] == [ids[4], ids[3]] and newest["has_more"] is True
    following = client.get(store_url(store, "/files"), {"limit": 2, "after": newest["last_id"]}).json()
    assert [f["id"] for f in following["data"]] == [ids[2], ids[1]]
    oldest = client.get(store_url(store, "/files"), {"order": "asc", "limit": 3}).json()
    assert [f["id"] for f in oldest["data"]] == ids[:3]
    before = client.get(store_url(store, "/files"), {"order": "asc", "before": ids[3]}).json()
    assert [f["id"] for f in before["data"]] == ids[:3]
    completed = client.get(store_url(store, "/files"), {"filter": "completed"}).json()["data"]
    assert {f["id"] for f in completed} == set(ids[:4])
    failed = client.get(store_url(store, "/files"), {"filter": "failed"}).json()["data"]
    assert [f["id"] for f in failed] == [broken["id"]]
    assert client.get(store_url(store, "/files"), {"filter": "in_progress"}).json()["data"] == []
    for body in [*completed, *failed]:
        VectorStoreFile.model_validate(body, strict=True)
    error_of(client.get(store_url(store, "/files"), {"filter": "done"}), 400, param="filter")
    error_of(client.get(store_url(store, "/files"), {"after": "file-nope"}), 400, param="after")


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("policy.pdf", NOT_A_PDF, "invalid_file"),  # says it is a PDF, and is not one
        ("photo.png", PNG, "unsupported_file"),
        ("photo.md", PNG, "unsupported_file"),  # an image, whatever its name says
        ("blank.md", b"   \n\n  ", "invalid_file"),  # no text to search
    ],
)
def test_a_file_that_cannot_be_read_ends_failed_with_its_code(client, store, committed, name, data, code):
    file = uploaded(client, name, data)

    with committed():
        assert client.post(store_url(store, "/files"), {"file_id": file["id"]}).json()["status"] == "in_progress"

    body = client.get(store_url(store, f"/files/{file['id']}")).json()
    VectorStoreFile.model_validate(body, strict=True)
    assert body["status"] == "failed" and body["last_error"]["code"] == code and body["last_error"]["message"]
    counted = client.get(store_url(store)).json()
    assert counted["status"] == "completed"  # never stuck in progress
    assert counted["file_counts"] == {"in_progress": 0, "completed": 1, "failed": 1, "cancelled": 0, "total": 2}


def test_removing_a_file_from_a_store_keeps_the_file_and_search_stops_finding_it(client, store, returns_file):
    assert set(found_files(client, store)) == {returns_file["id"]}

    removed = client.delete(store_url(store, f"/files/{returns_file['id']}"))

    assert removed.status_code == 200
    VectorStoreFileDeleted.model_validate(removed.json(), strict=True)
    assert removed.json() == {"id": returns_file["id"], "object": "vector_store.file.deleted", "deleted": True}
    assert found_files(client, store) == []
    error_of(client.get(store_url(store, f"/files/{returns_file['id']}")), 404)
    assert client.get(f"/v1/files/{returns_file['id']}").status_code == 200
    assert client.get(store_url(store)).json()["file_counts"]["total"] == 0


def test_deleting_a_file_takes_it_out_of_every_store(client, store, returns_file, committed):
    with committed():
        other = client.post("/v1/vector_stores", {"name": "Other", "file_ids": [returns_file["id"]]}).json()
    assert found_files(client, store) and found_files(client, other)

    with committed():
        assert client.delete(f"/v1/files/{returns_file['id']}").status_code == 200

    for each in (store, other):
        assert found_files(client, each) == []
        error_of(client.get(store_url(each, f"/files/{returns_file['id']}")), 404)
        counted = client.get(store_url(each)).json()
        assert counted["file_counts"]["total"] == 0 and counted["usage_bytes"] == 0
    assert not Chunk.objects.exists()


def test_an_expired_store_refuses_files_with_a_400_never_a_409(client, store):
    Store.objects.filter(public_id=store["id"]).update(expires_at=Store.objects.get(public_id=store["id"]).created_at)
    assert services.expire_stores() == 1
    shipping = uploaded(client, "shipping.md", SHIPPING_MD)

    error = error_of(client.post(store_url(store, "/files"), {"file_id": shipping["id"]}), 400)

    assert error["code"] == "vector_store_expired"
    assert client.get(store_url(store)).json()["status"] == "expired"
    assert search(client, store, query="refund").json()["data"] == []


# --- Search -------------------------------------------------------------------------------------------


def test_search_answers_the_sdks_results_best_first(client, store, returns_file, committed):
    shipping = uploaded(client, "shipping.md", SHIPPING_MD)
    with committed():
        client.post(store_url(store, "/files"), {"file_id": shipping["id"], "attributes": {"topic": "shipping"}})

    response = search(client, store, query="How long does express shipping take?")

    assert response.status_code == 200
    page = response.json()
    assert page["object"] == "vector_store.search_results.page"
    assert page["search_query"] == ["How long does express shipping take?"]
    assert page["has_more"] is False and page["next_page"] is None
    for hit in page["data"]:
        VectorStoreSearchResponse.model_validate(hit, strict=True)
        assert set(hit) == set(VectorStoreSearchResponse.model_fields)
    best = page["data"][0]
    assert best["file_id"] == shipping["id"] and best["filename"] == "shipping.md"
    assert "express shipping" in best["content"][0]["text"] and best["attributes"] == {"topic": "shipping"}
    scores = [hit["score"] for hit in page["data"]]
    assert all(0 <= score <= 1 for score in scores)
    assert len(search(client, store, query="shipping refund", max_num_results=1).json()["data"]) == 1
    assert search(client, store, query="shipping", ranking_options={"score_threshold": 1.0}).json()["data"] == []
    several = search(client, store, query=["express shipping", "refund"], rewrite_query=True).json()
    assert several["search_query"] == ["express shipping", "refund"]
    assert {hit["file_id"] for hit in several["data"]} == {shipping["id"], returns_file["id"]}


def test_search_filters_on_attributes(client, store, returns_file, committed):
    shipping = uploaded(client, "shipping.md", SHIPPING_MD)
    client.post(store_url(store, f"/files/{returns_file['id']}"), {"attributes": {"topic": "returns", "year": 2025}})
    with committed():
        client.post(
            store_url(store, "/files"), {"file_id": shipping["id"], "attributes": {"topic": "shipping", "year": 2026}}
        )
    query = "refund shipping delivery return"

    def only(filters) -> set[str]:
        return set(found_files(client, store, query, filters=filters))

    both = {returns_file["id"], shipping["id"]}
    assert only({"type": "eq", "key": "topic", "value": "shipping"}) == {shipping["id"]}
    assert only({"type": "ne", "key": "topic", "value": "shipping"}) == {returns_file["id"]}
    assert only({"type": "gte", "key": "year", "value": 2026}) == {shipping["id"]}
    assert only({"type": "lt", "key": "year", "value": 2026}) == {returns_file["id"]}
    assert only({"type": "in", "key": "topic", "value": ["returns", "shipping"]}) == both
    assert only({"type": "nin", "key": "topic", "value": ["returns"]}) == {shipping["id"]}
    assert only({"type": "eq", "key": "topic", "value": "warranty"}) == set()
    compound = {
        "type": "or",
        "filters": [
            {"type": "eq", "key": "topic", "value": "returns"},
            {"type": "and", "filters": [{"type": "in", "key": "year", "value": [2026]}]},
        ],
    }
    assert only(compound) == both


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"query": []}, "query"),
        ({"query": ["refund", ""]}, "query"),
        ({"query": 5}, "query"),
        ({"query": "x" * 4097}, "query"),
        ({"query": "refund", "max_num_results": 0}, "max_num_results"),
        ({"query": "refund", "max_num_results": 51}, "max_num_results"),
        ({"query": "refund", "max_num_results": "5"}, "max_num_results"),
        ({"query": "refund", "max_num_results": True}, "max_num_results"),
        ({"query": "refund", "filters": {"type": "like", "key": "topic", "value": "r"}}, "filters"),
        ({"query": "refund", "filters": {"type": "eq", "value": "r"}}, "filters"),
        ({"query": "refund", "filters": {"type": "eq", "key": "topic", "value": {"a": 1}}}, "filters"),
        ({"query": "refund", "filters": {"type": "in", "key": "topic", "value": "returns"}}, "filters"),
        ({"query": "refund", "filters": {"type": "in", "key": "topic", "value": []}}, "filters"),
        ({"query": "refund", "filters": {"type": "and", "filters": []}}, "filters"),
        ({"query": "refund", "filters": {"type": "or", "filters": [{"type": "eq"}]}}, "filters.filters[0]"),
        ({"query": "refund", "filters": "topic=returns"}, "filters"),
        ({"query": "refund", "ranking_options": {"ranker": "default_2024_08_21"}}, "ranking_options"),
        ({"query": "refund", "ranking_options": {"score_threshold": 2}}, "ranking_options"),
        ({"query": "refund", "ranking_options": {"boost": 1}}, "ranking_options"),
        ({"query": "refund", "rewrite_query": "yes"}, "rewrite_query"),
        ({"query": "refund", "page": 2}, "page"),
    ],
)
def test_a_bad_search_is_a_400_naming_the_field(client, empty_store, body, param):
    error_of(search(client, empty_store, **body), 400, param=param)


# --- File batches -------------------------------------------------------------------------------------


def test_a_batch_is_created_ingested_and_lists_its_files(client, store, committed):
    files = [uploaded(client, f"shipping{i}.md", SHIPPING_MD) for i in range(3)]
    broken = uploaded(client, "photo.png", PNG)

    with committed():
        response = client.post(
            store_url(store, "/file_batches"),
            {"file_ids": [f["id"] for f in [*files, broken]], "attributes": {"topic": "shipping"}},
        )
        batch = response.json()
        VectorStoreFileBatch.model_validate(batch, strict=True)
        assert set(batch) == set(VectorStoreFileBatch.model_fields)
        assert batch["id"].startswith("vsfb_") and batch["vector_store_id"] == store["id"]
        assert batch["status"] == "in_progress" and batch["file_counts"]["in_progress"] == 4
        assert response["openai-poll-after-ms"].isdigit()

    done = client.get(store_url(store, f"/file_batches/{batch['id']}")).json()
    VectorStoreFileBatch.model_validate(done, strict=True)
    assert done["status"] == "completed"
    assert done["file_counts"] == {"in_progress": 0, "completed": 3, "failed": 1, "cancelled": 0, "total": 4}
    listed = client.get(store_url(store, f"/file_batches/{batch['id']}/files")).json()
    for body in listed["data"]:
        VectorStoreFile.model_validate(body, strict=True)
        assert body["attributes"] == {"topic": "shipping"}
    assert {f["id"] for f in listed["data"]} == {f["id"] for f in [*files, broken]}  # not the store's first file
    failed = client.get(store_url(store, f"/file_batches/{batch['id']}/files"), {"filter": "failed"}).json()
    assert [f["id"] for f in failed["data"]] == [broken["id"]]
    paged = client.get(store_url(store, f"/file_batches/{batch['id']}/files"), {"limit": 2, "order": "asc"}).json()
    assert [f["id"] for f in paged["data"]] == [files[0]["id"], files[1]["id"]] and paged["has_more"] is True
    assert client.get(store_url(store)).json()["file_counts"]["total"] == 5


def test_a_batch_of_files_gives_each_its_own_attributes_and_chunking_strategy(client, store, committed):
    warranty, shipping = uploaded(client, "warranty.md", LONG_MD), uploaded(client, "shipping.md", SHIPPING_MD)
    small = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}

    with committed():
        batch = client.post(
            store_url(store, "/file_batches"),
            {
                "files": [
                    {"file_id": warranty["id"], "attributes": {"topic": "warranty"}, "chunking_strategy": small},
                    {"file_id": shipping["id"]},
                ],
                "attributes": {"ignored": True},  # the API ignores the batch's own with `files`
            },
        ).json()

    by_id = {f["id"]: f for f in client.get(store_url(store, f"/file_batches/{batch['id']}/files")).json()["data"]}
    assert by_id[warranty["id"]]["attributes"] == {"topic": "warranty"}
    assert by_id[warranty["id"]]["chunking_strategy"] == small
    assert by_id[shipping["id"]]["attributes"] == {} and by_id[shipping["id"]]["chunking_strategy"] == AUTO


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "file_ids"),
        ({"file_ids": []}, "file_ids"),
        ({"file_ids": ["FILE"], "files": [{"file_id": "FILE"}]}, "files"),
        ({"files": []}, "files"),
        ({"files": [{"attributes": {}}]}, "files[0].file_id"),
        ({"files": [{"file_id": "FILE", "colour": "blue"}]}, "colour"),
        (
            {"files": [{"file_id": "FILE", "chunking_strategy": {"type": "static"}}]},
            "files[0].chunking_strategy.static",
        ),
        ({"file_ids": ["FILE"], "chunking_strategy": {"type": "fancy"}}, "chunking_strategy.type"),
        ({"file_ids": ["FILE"] * 2001}, "file_ids"),
    ],
)
def test_a_bad_batch_is_a_400_and_nothing_is_made(client, empty_store, body, param):
    store = empty_store
    shipping = uploaded(client, "shipping.md", SHIPPING_MD)

    def real(value):
        if value == "FILE":
            return shipping["id"]
        if isinstance(value, list):
            return [real(item) for item in value]
        if isinstance(value, dict):
            return {key: real(item) for key, item in value.items()}
        return value

    if body.get("file_ids") == ["FILE"] * 2001:
        body = {"file_ids": [f"file-{i}" for i in range(2001)]}
    error_of(client.post(store_url(store, "/file_batches"), real(body)), 400, param=param)
    assert not FileBatch.objects.exists()


def test_cancelling_a_batch_cancels_the_files_not_yet_ingested(client, store):
    files = [uploaded(client, f"shipping{i}.md", SHIPPING_MD) for i in range(2)]
    # Not committed: the files wait for ingestion, as on a busy worker.
    batch = client.post(store_url(store, "/file_batches"), {"file_ids": [f["id"] for f in files]}).json()

    cancelled = client.post(store_url(store, f"/file_batches/{batch['id']}/cancel"))

    assert cancelled.status_code == 200
    VectorStoreFileBatch.model_validate(cancelled.json(), strict=True)
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["file_counts"] == {
        "in_progress": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 2,
        "total": 2,
    }
    for store_file in FileBatch.objects.get(public_id=batch["id"]).store_files.all():
        assert ingest.ingest(store_file.pk, worker="late-worker") is None  # a late worker leaves it cancelled
    listed = client.get(store_url(store, f"/file_batches/{batch['id']}/files"), {"filter": "cancelled"}).json()
    assert {f["id"] for f in listed["data"]} == {f["id"] for f in files}
    assert not set(found_files(client, store, "express shipping carriers")) & {f["id"] for f in files}
    assert client.get(store_url(store)).json()["file_counts"]["cancelled"] == 2
    error_of(client.get(store_url(store, "/file_batches/vsfb_nope")), 404)
    error_of(client.post(store_url(store, "/file_batches/vsfb_nope/cancel")), 404)


# --- Who sees what --------------------------------------------------------------------------------------


def test_another_owners_store_and_its_files_read_as_not_found_everywhere(client, globex, store, returns_file):
    batch = client.post(store_url(store, "/file_batches"), {"file_ids": [returns_file["id"]]}).json()
    file_id, batch_id = returns_file["id"], batch["id"]
    attempts = [
        globex.get(store_url(store)),
        globex.post(store_url(store), {"name": "mine now"}),
        globex.post(store_url(store, "/search"), {"query": "refund"}),
        globex.get(store_url(store, "/files")),
        globex.post(store_url(store, "/files"), {"file_id": file_id}),
        globex.get(store_url(store, f"/files/{file_id}")),
        globex.post(store_url(store, f"/files/{file_id}"), {"attributes": {"a": "b"}}),
        globex.get(store_url(store, f"/files/{file_id}/content")),
        globex.delete(store_url(store, f"/files/{file_id}")),
        globex.post(store_url(store, "/file_batches"), {"file_ids": [file_id]}),
        globex.get(store_url(store, f"/file_batches/{batch_id}")),
        globex.post(store_url(store, f"/file_batches/{batch_id}/cancel")),
        globex.get(store_url(store, f"/file_batches/{batch_id}/files")),
        globex.delete(store_url(store)),
    ]

    for response in attempts:
        assert error_of(response, 404)["message"] == f"No vector store found with id '{store['id']}'."
    assert globex.get("/v1/vector_stores").json()["data"] == []
    after = client.get(store_url(store)).json()
    assert after["name"] == "Policies" and after["file_counts"]["total"] == 1
    assert client.get(store_url(store, f"/file_batches/{batch_id}")).json()["status"] != "cancelled"


def test_another_owners_file_cannot_be_put_in_ones_own_store(client, globex, returns_file):
    own = globex.post("/v1/vector_stores", {"name": "globex"}).json()
    file_id = returns_file["id"]
    attempts = [
        globex.post("/v1/vector_stores", {"name": "stolen", "file_ids": [file_id]}),
        globex.post(store_url(own, "/files"), {"file_id": file_id}),
        globex.post(store_url(own, "/file_batches"), {"file_ids": [file_id]}),
        globex.post(store_url(own, "/file_batches"), {"files": [{"file_id": file_id}]}),
    ]

    for response in attempts:
        assert error_of(response, 404)["message"] == f"No file found with id '{file_id}'."
    assert [s["id"] for s in globex.get("/v1/vector_stores").json()["data"]] == [own["id"]]
    assert globex.get(store_url(own)).json()["file_counts"]["total"] == 0
    assert not FileBatch.objects.exists()


def test_the_shops_help_centre_is_invisible_through_v1(client, committed):
    help_store, _ = ensure_help_centre()
    with committed():
        article = services.file_create(
            owner=None, upload=ContentFile(RETURNS_MD, name="returns.md"), purpose="assistants", help_slug="returns"
        )
        services.store_file_add(help_store, article)
    shop = {"id": help_store.public_id}

    for response in (
        client.get(store_url(shop)),
        client.post(store_url(shop, "/search"), {"query": "refund"}),
        client.get(store_url(shop, "/files")),
        client.get(store_url(shop, f"/files/{article.public_id}")),
        client.delete(store_url(shop)),
        client.post("/v1/vector_stores", {"file_ids": [article.public_id]}),
    ):
        error_of(response, 404)
    assert client.get("/v1/vector_stores").json()["data"] == []
    assert Store.objects.filter(pk=help_store.pk).exists() and Chunk.objects.filter(vector_store=help_store).exists()
