"""/healthz and /readyz as a load balancer or an orchestrator's probe calls them: by the pod's
address, over plain HTTP, with no session; and what /readyz says when a service is down."""

from __future__ import annotations

import json

import pytest
from channels.layers import channel_layers

pytestmark = pytest.mark.django_db

POD = {"HTTP_HOST": "10.0.3.7:8000"}  # not in ALLOWED_HOSTS, as a kubelet's probe names the pod


@pytest.fixture
def secure_deployment(settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_SSL_REDIRECT = True


def test_liveness_answers_by_the_pods_address_without_touching_the_database(
    client, secure_deployment, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/healthz", **POD)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readiness_reports_each_service_and_the_time_it_took(client, secure_deployment):
    response = client.get("/readyz", **POD)
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "channel_layer", "broker", "model_provider"}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert 0 <= check["ms"] < 2_000
    assert body["checks"]["model_provider"]["detail"] == "offline model"
    assert body["checks"]["model_provider"]["required"] is False


def test_an_unreachable_broker_makes_it_unavailable_and_its_password_stays_out(client, settings):
    settings.CELERY_BROKER_URL = "redis://:hunter2-broker@127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["detail"].startswith("unreachable (")
    assert body["checks"]["database"]["ok"] is True
    assert "hunter2" not in response.content.decode()


def test_an_unreachable_channel_layer_makes_it_unavailable(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://:hunter2-layer@127.0.0.1:1/0"]},
        }
    }
    channel_layers.backends.clear()
    try:
        response = client.get("/readyz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"]["ok"] is False
    assert "hunter2" not in response.content.decode()


@pytest.mark.parametrize(("required", "status"), [(False, 200), (True, 503)])
def test_a_provider_that_does_not_answer_fails_readiness_only_when_required(client, settings, required, status):
    settings.OPENAI_API_KEY = "sk-hunter2-provider"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:1/v1"
    settings.READINESS_REQUIRES_MODEL = required
    response = client.get("/readyz")
    assert response.status_code == status
    model = response.json()["checks"]["model_provider"]
    assert model["ok"] is False
    assert model["required"] is required
    assert "hunter2" not in response.content.decode()


def test_probes_answer_only_get_and_head(client):
    assert client.head("/healthz").status_code == 200
    response = client.post("/readyz", data=json.dumps({}), content_type="application/json")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
