"""Who gets into /v1: API keys only, each seeing its owner's objects; every answer has an x-request-id."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from orders.tokens import issue_customer_token
from runtime import runs
from runtime.models import Assistant, Thread
from tests.api import ORDER_SUPPORT, key_client
from tests.conftest import session_client
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_request_without_a_key_is_401_invalid_api_key():
    response = APIClient().get("/v1/assistants")

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert error["type"] == "invalid_request_error"
    assert "Authorization: Bearer" in error["message"]
    assert response["x-request-id"].startswith("req_")


def test_a_wrong_key_is_401_and_is_not_echoed_in_full():
    response = bearer("ck_not-a-real-key-at-all-1234567890").get("/v1/assistants")

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert error["message"].startswith("Incorrect API key provided: ck_not…")
    assert "1234567890" not in error["message"]


def test_a_customer_token_is_not_accepted_on_v1():
    customer = CustomerFactory()
    response = bearer(issue_customer_token(customer.pk)).get("/v1/assistants")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_signed_in_staff_session_is_not_accepted_on_v1():
    response = session_client(UserFactory(username="staffer", is_staff=True)).get("/v1/assistants")

    assert response.status_code == 401


def test_every_answer_carries_a_distinct_request_id(client):
    ok = client.get("/v1/assistants")
    missing = client.get("/v1/assistants/asst_nope")

    assert ok.status_code == 200 and missing.status_code == 404
    assert ok["x-request-id"].startswith("req_") and missing["x-request-id"].startswith("req_")
    assert ok["x-request-id"] != missing["x-request-id"]


def test_sdk_headers_are_accepted_and_ignored(client):
    response = client.post(
        "/v1/threads",
        {},
        HTTP_X_STAINLESS_LANG="python",
        HTTP_X_STAINLESS_PACKAGE_VERSION="3.57.0",
        HTTP_X_STAINLESS_RETRY_COUNT="0",
        HTTP_IDEMPOTENCY_KEY="stainless-python-retry-1",
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 200
    assert response.json()["object"] == "thread"


def test_the_beta_header_is_optional(client):
    assert bearer(client.raw_key).get("/v1/assistants").status_code == 200


def test_a_path_v1_does_not_serve_is_a_404_in_the_api_envelope(client):
    response = client.post("/v1/fine_tuning/jobs", {"model": "gpt-4o-mini"})

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "Invalid URL (POST /v1/fine_tuning/jobs)",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert response["x-request-id"].startswith("req_")


def test_another_keys_objects_read_as_not_found(owner_client):
    owner, client = owner_client
    assistant = client.post("/v1/assistants", ORDER_SUPPORT).json()
    thread = client.post("/v1/threads", {"messages": [{"role": "user", "content": "Hi"}]}).json()
    _, stranger = key_client("stranger")

    response = stranger.get(f"/v1/assistants/{assistant['id']}")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": f"No assistant found with id '{assistant['id']}'.",
        "type": "invalid_request_error",
        "param": None,
        "code": "not_found",
    }
    assert stranger.get(f"/v1/threads/{thread['id']}").json()["error"]["message"] == (
        f"No thread found with id '{thread['id']}'."
    )
    assert stranger.get(f"/v1/threads/{thread['id']}/messages").status_code == 404
    assert stranger.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]}).status_code == 404
    assert stranger.delete(f"/v1/threads/{thread['id']}").status_code == 404
    assert stranger.get("/v1/assistants").json()["data"] == []
    # Nothing was touched.
    assert Thread.objects.filter(public_id=thread["id"], owner=owner).exists()


def test_a_thread_of_mine_cannot_run_another_owners_assistant(owner_client):
    _, client = owner_client
    _, other = key_client("other")
    their_assistant = other.post("/v1/assistants", ORDER_SUPPORT).json()
    thread = client.post("/v1/threads", {}).json()

    response = client.post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": their_assistant["id"]})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"No assistant found with id '{their_assistant['id']}'."


def test_the_shops_own_assistant_and_widget_threads_are_never_visible(client):
    shop_assistant = Assistant.objects.create(name="Shop", model="gpt-4o-mini")
    widget_thread = runs.thread_create(assistant=shop_assistant, messages=[{"role": "user", "content": "Hi"}])

    assert client.get(f"/v1/assistants/{shop_assistant.public_id}").status_code == 404
    assert client.get(f"/v1/threads/{widget_thread.public_id}").status_code == 404
    assert client.get(f"/v1/threads/{widget_thread.public_id}/messages").status_code == 404
    assert shop_assistant.public_id not in [a["id"] for a in client.get("/v1/assistants").json()["data"]]


def test_requests_over_the_per_key_rate_are_429_with_retry_after(settings, owner_client):
    _, client = owner_client
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "v1": "3/min"},
    }
    statuses = [client.get("/v1/assistants").status_code for _ in range(3)]
    throttled = client.get("/v1/assistants")
    _, other = key_client("someone-else")

    assert statuses == [200, 200, 200]
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(throttled["Retry-After"]) > 0
    assert throttled["x-request-id"].startswith("req_")
    assert other.get("/v1/assistants").status_code == 200  # per key, not global


def test_a_body_over_the_upload_limit_is_413(settings, client):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = client.post("/v1/threads", {"metadata": {"note": "x" * 500, "more": "y" * 500, "k": "z" * 500}})
    too_big = client.post("/v1/threads", {"messages": [{"role": "user", "content": "x" * 3000}]})

    assert response.status_code == 200
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "request_too_large"
    assert not Thread.objects.filter(messages__content__icontains="xxxxxxxxxx").exists()


def test_bodies_are_json_only(client):
    form = client.post("/v1/threads", {"metadata": "x"}, format="multipart")
    broken = client.post("/v1/threads", data="{not json", content_type="application/json")

    assert form.status_code == 415
    assert form.json()["error"]["type"] == "invalid_request_error"
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "parse_error"
    assert not Thread.objects.exists()
