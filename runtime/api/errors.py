"""/v1 errors: the envelope of common.envelope with the Assistants API's types, codes and messages.

The shape is shared with /api/; only the `type` values differ, because OpenAI's SDKs and the code
written against them see `invalid_request_error` on every 4xx but 429. Unexpected exceptions answer
a JSON 500 (`server_error`) so an SDK never has to parse an HTML page.
"""

from __future__ import annotations

import logging

from rest_framework import status

from common.envelope import error_response
from common.envelope import exception_handler as envelope_handler
from common.errors import NotFound

log = logging.getLogger(__name__)


def not_found(kind: str, public_id: str) -> NotFound:
    """The API's 404 for an id that does not exist or is not the caller's (never say which)."""
    return NotFound(f"No {kind} found with id '{public_id}'.")


def exception_handler(exc, context):
    response = envelope_handler(exc, context)
    if response is None:
        log.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return error_response(500, "server_error", "The server had an error while processing your request.")
    error = response.data["error"]
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        error["type"], error["code"] = "requests", "rate_limit_exceeded"
    elif response.status_code < 500:
        error["type"] = "invalid_request_error"
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        error["code"] = "invalid_api_key"
        if error["message"] == "Authentication credentials were not provided.":
            error["message"] = (
                "You didn't provide an API key. Send it in the Authorization header: "
                "'Authorization: Bearer YOUR_KEY' (create one with `python manage.py create_api_key`)."
            )
    return response
