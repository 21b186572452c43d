"""/metrics: Prometheus's text format for a scraper holding METRICS_TOKEN, the serving side's
requests and sockets, the runs' queue read at scrape time, and one host's processes added up."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta

import kombu
import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.utils import timezone
from prometheus_client import REGISTRY

from config.asgi import application
from runtime.models import Assistant, Run, Thread
from tests import needs

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = "scrape-7b1c"
    return "scrape-7b1c"


def test_metrics_are_off_without_a_token_and_refused_without_the_right_one(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "scrape-7b1c"
    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-7b1d")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_a_scraper_reads_the_text_format_by_the_pods_address(client, token, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    for family in ("concierge_runs_queued", "concierge_model_calls_total", "concierge_http_requests_total"):
        assert f"# TYPE {family.removesuffix('_total')}" in text


def test_the_queue_depth_and_the_oldest_runs_wait(client, token):
    assistant = Assistant.objects.create(name="Support", model="m")
    thread = Thread.objects.create(assistant=assistant)
    Run.objects.create(thread=thread, assistant=assistant, status=Run.Status.QUEUED, model="m")
    Run.objects.filter(thread=thread).update(created_at=timezone.now() - timedelta(seconds=90))
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode()
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("concierge_runs_queue"))
    assert float(lines["concierge_runs_queued"]) == 1
    assert 90 <= float(lines["concierge_runs_queue_lag_seconds"]) < 120


@pytest.mark.django_db(transaction=True)
async def test_requests_are_counted_by_method_and_status():
    @sync_to_async  # reading the registry runs every collector, the queue's query among them
    def count() -> float:
        return REGISTRY.get_sample_value("concierge_http_requests_total", {"method": "GET", "status": "404"}) or 0.0

    before = await count()
    communicator = HttpCommunicator(application, "GET", "/no-such-page/", headers=[(b"host", b"testserver")])
    assert (await communicator.get_response(timeout=10))["status"] == 404
    assert await count() == before + 1


PROCESS = """
import django, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
django.setup()
from runtime import metrics
metrics.RUNS.labels("completed").inc(int(sys.argv[1]))
"""
SCRAPE = """
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
django.setup()
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print(generate_latest(registry).decode())
"""


def test_the_processes_of_a_host_are_added_up(tmp_path):
    """daphne and the workers write to PROMETHEUS_MULTIPROC_DIR; a scrape of any of them sums all."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for runs in ("2", "3"):
        subprocess.run([sys.executable, "-c", PROCESS, runs], env=env, check=True, timeout=60)
    scraped = subprocess.run(
        [sys.executable, "-c", SCRAPE], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    assert 'concierge_runs_total{status="completed"} 5.0' in scraped


@pytest.fixture
def broker(settings):
    """A queue of this test's own on the Redis broker CI runs."""
    url = os.environ.get("REDIS_URL")
    if not url:
        needs.missing("the Celery queue's depth needs a broker: REDIS_URL", "CI runs Redis")
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_DEFAULT_QUEUE = f"metrics-{secrets.token_hex(4)}"
    with kombu.Connection(url) as connection:
        queue = kombu.Queue(settings.CELERY_TASK_DEFAULT_QUEUE)
        yield connection, queue
        queue(connection.default_channel).delete()


def test_the_celery_queues_depth_is_read_from_the_broker(client, token, broker, settings):
    connection, queue = broker

    def depth() -> str:
        text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode()
        return next(
            (
                line.rsplit(" ", 1)[1]
                for line in text.splitlines()
                if line.startswith("concierge_celery_queue_messages{")
            ),
            "none",
        )

    assert depth() == "0.0"  # nothing ever sent: the queue does not exist yet
    queue(connection.default_channel).declare()
    for _ in range(2):
        connection.Producer().publish({"task": "x"}, routing_key=queue.name)
    assert depth() == "2.0"

    settings.CELERY_BROKER_URL = "redis://:hunter2@127.0.0.1:1/0"  # a broker that does not answer
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and depth() == "none"
    assert "hunter2" not in response.content.decode()
