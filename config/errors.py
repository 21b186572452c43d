"""Error pages: the JSON error envelope for API paths and JSON callers, Django's pages elsewhere."""

from __future__ import annotations

import uuid

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views import defaults

# Paths whose callers read JSON: the shop's REST API, the Assistants-compatible API, the widget's session.
API_PREFIXES = ("/api/", "/v1/", "/chat/")


def _envelope(status: int, kind: str, code: str | None, message: str) -> JsonResponse:
    return JsonResponse({"error": {"type": kind, "code": code, "message": message, "param": None}}, status=status)


def wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith(API_PREFIXES)
        or "application/json" in request.headers.get("Accept", "")
        or request.content_type == "application/json"
    )


def refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    """A 4xx for input refused before any view ran, in the shape its caller reads."""
    if not wants_json(request):
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response = _envelope(status, "invalid_request_error", code, message)
    if request.path.startswith("/v1/"):
        response["x-request-id"] = f"req_{uuid.uuid4().hex}"
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a SuspiciousOperation: a body too large, too many fields, a bad host…)."""
    if isinstance(exception, RequestDataTooBig):
        return refuse(request, 413, "request_too_large", "The request body is too large.")
    if wants_json(request):
        return refuse(request, 400, "bad_request", "The request could not be read.")
    return HttpResponseBadRequest("Bad request.", content_type="text/plain; charset=utf-8")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIXES):
        return _envelope(404, "invalid_request_error", "not_found", f"Unknown path: {request.path}")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIXES):
        return _envelope(500, "server_error", "server_error", "Something went wrong on our side. Please retry.")
    return defaults.server_error(request)
