"""The one gate every HTTP request passes before any view: input nothing may store is refused here.

A NUL or a lone surrogate in the path, the query, a header, a cookie or a JSON or form body; a body
that is not UTF-8, nested past the parser's depth, or over DATA_UPLOAD_MAX_MEMORY_SIZE. Each gets
a 400 (413 for size) in the error shape of the API it was meant for (config.errors), so no view,
serializer or service checks field by field and nothing reaches PostgreSQL that it would refuse
with a 500. Syntax errors in JSON are left to the views, whose APIs word them their own way. Of a
multipart body, the fields are checked; its files are streamed to their handlers, for their views.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse

from common.text import InputRefused, load_json, unstorable
from config.errors import refuse

FORM, MULTIPART = "application/x-www-form-urlencoded", "multipart/form-data"
DRF_PREFIXES = ("/api/", "/v1/")


class RefuseUnstorableInput:
    sync_capable = async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self._acall(request)
        return refusal(request) or self.get_response(request)

    async def _acall(self, request: HttpRequest):
        # Pure CPU on a body ASGI has already read into memory: no thread hop needed.
        return refusal(request) or await self.get_response(request)


def refusal(request: HttpRequest) -> HttpResponse | None:
    """The error response for a request that carries input nothing may store; None for a clean one."""
    try:
        problem = _problem(request)
    except RequestDataTooBig:
        return refuse(request, 413, "request_too_large", _too_large(request))
    except TooManyFieldsSent:
        return refuse(request, 400, "too_many_fields", "The form has too many fields.")
    except InputRefused as refused:
        return refuse(request, 400, refused.code, refused.message)
    return refuse(request, 400, "invalid_text", problem) if problem else None


def _problem(request: HttpRequest) -> str | None:
    texts = [request.path]
    for key, values in request.GET.lists():
        texts.append(key)
        texts.extend(values)
    texts.extend(value for key, value in request.META.items() if key.startswith("HTTP_") and isinstance(value, str))
    texts.extend(request.COOKIES.values())
    content_type = request.content_type or ""
    if content_type == "application/json" or content_type.endswith("+json"):
        if request.body:
            try:
                load_json(request.body)
            except InputRefused as refused:
                if refused.code != "invalid_json":
                    raise
    elif content_type == FORM or (content_type == MULTIPART and not request.path.startswith(DRF_PREFIXES)):
        # Fields only: uploaded files stream to their handlers and are their views' to check. A REST
        # API's multipart body is left to DRF's parsers: read here, it would reach them empty.
        for key, values in request.POST.lists():
            texts.append(key)
            texts.extend(values)
    return next((problem for problem in map(unstorable, texts) if problem), None)


def _too_large(request: HttpRequest) -> str:
    return (
        f"The request body is {request.META.get('CONTENT_LENGTH', 'too many')} bytes; "
        f"the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    )
