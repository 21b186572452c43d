"""What every /v1 view shares: API-key auth, the per-key throttle, the error envelope, x-request-id."""

from __future__ import annotations

import uuid

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from runtime.api.auth import ApiKeyAuthentication, V1KeyThrottle
from runtime.api.errors import exception_handler


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


class V1View(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [V1KeyThrottle]
    parser_classes = [JSONParser]  # bodies are JSON, as the API's (others are a 415)
    # OpenAI-Beta, X-Stainless-* and Idempotency-Key headers are accepted and ignored: nothing reads them.

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs):
        # Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE, and text nothing may store, were refused before
        # any view ran (config.middleware).
        request.request_id = new_request_id()
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["x-request-id"] = getattr(request, "request_id", None) or new_request_id()
        return response

    @property
    def owner(self):
        return self.request.user


@csrf_exempt  # API-key callers send no CSRF token: a wrong path is a 404 for every method, not a 403
def unknown_endpoint(request, path: str = "") -> JsonResponse:
    """404 for a path /v1 does not serve (files, vector stores, …), in the API's envelope."""
    response = JsonResponse(
        {
            "error": {
                "message": f"Invalid URL ({request.method} {request.path})",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        },
        status=404,
    )
    response["x-request-id"] = new_request_id()
    return response
