"""Prometheus metrics of the serving side, the queues' state read at scrape time, and /metrics.

The runtime's own metrics (runs, tools, model calls, first token, tokens, cost) are defined in
runtime/metrics.py; every metric of every app lands in prometheus_client's registry, and this
exposes it. Multi-process: with PROMETHEUS_MULTIPROC_DIR set (to an empty directory, the same for
daphne and the Celery workers of a host) every process writes its samples there and /metrics adds
them up; without it (the embedded default, one process) it serves the process's own registry.
"""

from __future__ import annotations

import hmac
import logging
import os

import kombu
from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from runtime.metrics import LATENCY_BUCKETS
from runtime.models import Run

log = logging.getLogger(__name__)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "concierge_http_requests", "HTTP requests answered, by method and status.", ["method", "status"]
)
HTTP_SECONDS = Histogram(
    "concierge_http_request_seconds", "From a request's arrival to its response's start.", buckets=LATENCY_BUCKETS
)
WEBSOCKETS = Gauge("concierge_websockets_open", "Websockets open (handshakes included).", multiprocess_mode="livesum")
WEBSOCKETS_OPENED = Counter("concierge_websockets", "Websockets opened.")


class Queues:
    """The runs' queue as the database has it, read at each scrape (one query): how many runs wait
    for a worker and how long the oldest has waited, the lag a customer feels before any answer."""

    def describe(self):
        """What collect() yields, without reading it: registering must not query (no database yet)."""
        yield GaugeMetricFamily("concierge_runs_queued", "")
        yield GaugeMetricFamily("concierge_runs_queue_lag_seconds", "")

    def collect(self):
        queued = Run.objects.filter(status=Run.Status.QUEUED).aggregate(count=Count("id"), oldest=Min("created_at"))
        depth = GaugeMetricFamily("concierge_runs_queued", "Runs waiting for a worker.")
        depth.add_metric([], queued["count"])
        lag = GaugeMetricFamily("concierge_runs_queue_lag_seconds", "How long the oldest queued run has waited.")
        oldest = queued["oldest"]
        lag.add_metric([], (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0)
        yield depth
        yield lag


class CeleryQueue:
    """The messages waiting in the Celery queue on the broker (runs, summaries, webhooks, ingestion:
    one queue, CELERY_TASK_DEFAULT_QUEUE), read at each scrape: a passive declare, one round trip.
    Without a broker (tasks in the web process) there is none; a broker that does not answer gives
    no sample and a warning in the log, never a failed scrape."""

    def describe(self):
        yield GaugeMetricFamily("concierge_celery_queue_messages", "", labels=["queue"])

    def collect(self):
        family = GaugeMetricFamily(
            "concierge_celery_queue_messages", "Messages waiting in the Celery queue on the broker.", labels=["queue"]
        )
        if settings.CELERY_BROKER_URL:
            name = settings.CELERY_TASK_DEFAULT_QUEUE
            try:
                family.add_metric([name], celery_queue_length(name))
            except Exception as error:  # the scrape goes on without it
                log.warning("metrics: the broker did not say how long %s is: %r", name, error)
        yield family


def celery_queue_length(name: str) -> int:
    with kombu.Connection(settings.CELERY_BROKER_URL, connect_timeout=settings.READINESS_TIMEOUT_SECONDS) as broker:
        try:
            return broker.default_channel.queue_declare(queue=name, passive=True).message_count
        except broker.channel_errors:  # no such queue yet: nothing was ever sent to it
            return 0


QUEUES = Queues()
CELERY_QUEUE = CeleryQueue()
REGISTRY.register(QUEUES)
REGISTRY.register(CELERY_QUEUE)


def exposition() -> bytes:
    """This host's metrics in Prometheus's text format."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(QUEUES)
        registry.register(CELERY_QUEUE)
    return generate_latest(registry)


def scrape(request: HttpRequest) -> HttpResponse:
    """/metrics for a scraper holding METRICS_TOKEN as its bearer token; off (404) without one set."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("Metrics are off: set METRICS_TOKEN.\n", status=404, content_type="text/plain")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse(
            "Metrics need METRICS_TOKEN as a bearer token.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
