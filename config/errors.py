"""Error pages: the JSON error envelope for API paths, Django's pages elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIXES = ("/api/", "/v1/")


def _envelope(status: int, kind: str, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"type": kind, "code": code, "message": message, "param": None}}, status=status)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIXES):
        return _envelope(404, "invalid_request_error", "not_found", f"Unknown path: {request.path}")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIXES):
        return _envelope(500, "server_error", "server_error", "Something went wrong on our side. Please retry.")
    return defaults.server_error(request)
