"""One error shape for every JSON API of Concierge.

    {"error": {"type": "...", "code": "...", "message": "...", "param": null}}

It is the OpenAI envelope, so /api/ and /v1/ clients parse errors the same way. `code` is
machine-readable, `message` is for people; validation errors add `details` per field.
"""

from __future__ import annotations

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import DomainError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_response(
    status_code: int, code: str, message: str, *, param: str | None = None, details=None, headers=None
) -> Response:
    error = {"type": _TYPES.get(status_code, "server_error"), "code": code, "message": message, "param": param}
    if details is not None:
        error["details"] = details
    return Response({"error": error}, status=status_code, headers=headers)


def _first_message(detail) -> tuple[str | None, str]:
    """The first field name and message in a DRF ValidationError detail."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            _, message = _first_message(value)
            return (None if field == "non_field_errors" else field), message
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return None, str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return error_response(exc.http_status, exc.code, exc.message, param=exc.param)
    if isinstance(exc, Http404):
        return error_response(404, "not_found", "Not found.")
    if isinstance(exc, exceptions.ValidationError):
        param, message = _first_message(exc.detail)
        text = f"{param}: {message}" if param else message
        return error_response(400, "invalid_request", text, param=param, details=exc.detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    detail = getattr(exc, "detail", "")
    code = detail.code if hasattr(detail, "code") else getattr(exc, "default_code", "error")
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        code = "invalid_api_key" if code == "authentication_failed" else code
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    return error_response(response.status_code, str(code), str(detail), headers=headers)
