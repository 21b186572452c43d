"""/healthz, /readyz and /metrics, answered before anything else runs.

First in MIDDLEWARE: an orchestrator's probe names the pod by its address (a Host that is not in
ALLOWED_HOSTS) and comes over plain HTTP behind TLS termination (SECURE_SSL_REDIRECT), and a probe
needs no session, no CSRF cookie and no database unless it asks for one.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from ops import health, metrics

LIVENESS = "/healthz"
READINESS = "/readyz"
METRICS = "/metrics"


class Probes:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == LIVENESS:
            return answer(request, {"status": "ok"}, 200)
        if request.path_info == READINESS:
            ready, checks = health.readiness()
            body = {"status": "ready" if ready else "unavailable", "checks": {c.name: c.as_dict() for c in checks}}
            return answer(request, body, 200 if ready else 503)
        if request.path_info == METRICS:
            return metrics.scrape(request)
        return self.get_response(request)


def answer(request: HttpRequest, body: dict, status: int) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse({"error": "GET or HEAD"}, status=405)
        response["Allow"] = "GET, HEAD"
        return response
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response
