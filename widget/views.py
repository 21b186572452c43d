"""HTTP endpoints of the customer channel: opening a widget session, the widget's string catalogue,
and the photos a customer attaches (uploaded before the message that carries them, read back only
by their sender)."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from common.errors import DomainError
from common.ratelimit import allow
from knowledge import images
from widget import catalogue, language, sessions

SESSION_FIELDS = ("email", "external_id", "signature", "session", "language")
MAX_LANGUAGES_CHARS = 200  # a browser's whole navigator.languages fits many times over


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "?")


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "Retry-After"
        response["Vary"] = "Origin"
    return response


@csrf_exempt  # called by the widget from the shop's pages; guarded by the origin check instead
@require_http_methods(["POST", "OPTIONS"])
def widget_session(request: HttpRequest) -> HttpResponse:
    """Open (or continue) a visitor's chat session: a session token to keep and a ticket for the socket.

    Body (JSON, all optional): `session` (the token from an earlier visit), `email` or
    `external_id` with `signature` (the shop's HMAC-SHA256 of it), `language` (the one the widget
    shows: its refusals are worded in it, and the conversation notes it as the customer's hint).
    """
    with translation.override(_language_asked(request)):
        return _widget_session(request)


def _language_asked(request: HttpRequest) -> str:
    """The widget's language from the body, else the browser's Accept-Language (as LocaleMiddleware would)."""
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    asked = language.widget_language(body.get("language")) if isinstance(body, dict) else None
    return asked or translation.get_language_from_request(request)


def _widget_session(request: HttpRequest) -> HttpResponse:
    origin = request.headers.get("Origin")
    if not sessions.origin_allowed(origin, request.get_host()):
        return JsonResponse(
            {"error": {"code": "origin_not_allowed", "message": _("This site may not embed the chat.")}}, status=403
        )
    if not allow(
        f"widget:sessions:{_client_ip(request)}", limit=settings.WIDGET_SESSIONS_PER_IP_PER_MINUTE, window_seconds=60
    ):
        response = JsonResponse(
            {
                "error": {
                    "code": "rate_limited",
                    "message": _("Too many chat sessions from here. Try again in a minute."),
                }
            },
            status=429,
        )
        response["Retry-After"] = "60"
        return _cors(response, origin)
    try:
        body = json.loads(request.body or b"{}")  # UTF-8 and storable text: config.middleware saw to it
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return _cors(
            JsonResponse({"error": {"code": "invalid_json", "message": _("Send a JSON object.")}}, status=400), origin
        )
    fields = {name: body.get(name) or "" for name in SESSION_FIELDS}
    wrong = [name for name, value in fields.items() if not isinstance(value, str)]
    if wrong:
        message = _("'%(field)s' must be a string.") % {"field": wrong[0]}
        return _cors(JsonResponse({"error": {"code": "invalid_request", "message": message}}, status=400), origin)
    try:
        customer = sessions.verify_identity(
            email=fields["email"], external_id=fields["external_id"], signature=fields["signature"]
        )
        session, token = sessions.open_session(previous_token=fields["session"], customer=customer)
    except sessions.SessionRefused as refused:
        return _cors(
            JsonResponse({"error": {"code": refused.code, "message": refused.message}}, status=refused.status), origin
        )
    language.set_widget_language(session.thread_id, language.widget_language(fields["language"]))
    return _cors(
        JsonResponse(
            {
                "session": token,
                "ticket": sessions.issue_ticket(session),
                "thread_id": session.thread_id,
                "customer": {"name": customer.name} if customer else None,
                "limits": {
                    "image_bytes": settings.WIDGET_MAX_IMAGE_BYTES,
                    "images_per_message": settings.WIDGET_MAX_IMAGES_PER_MESSAGE,
                },
            }
        ),
        origin,
    )


@require_GET
def widget_catalogue(request: HttpRequest) -> HttpResponse:
    """The widget's own strings in the first of `?languages=` (a browser's list, best first, or the
    embed's data-language) that Concierge speaks, else English: {"language", "catalog"}.

    Public and the same for everyone: any shop's page may read it (Access-Control-Allow-Origin: *,
    no credentials), and caches may keep it for an hour."""
    asked = request.GET.get("languages", "")[:MAX_LANGUAGES_CHARS].split(",")
    chosen = language.first_supported([value.strip() for value in asked])
    response = JsonResponse({"language": chosen, "catalog": catalogue.widget_strings(chosen)})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    response["Content-Language"] = chosen
    return response


# --- photos -------------------------------------------------------------------------------------

SESSION_HEADER = "X-Concierge-Session"
# Room for the multipart framing and the session token around the largest photo.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def _error(code: str, message: str, status: int, origin: str | None) -> HttpResponse:
    return _cors(JsonResponse({"error": {"code": code, "message": message}}, status=status), origin)


@csrf_exempt  # a multipart POST from the shop's pages (a CORS simple request); guarded by the origin check
@require_http_methods(["POST"])
def widget_attachment_upload(request: HttpRequest) -> HttpResponse:
    """Store a photo for the visitor's conversation: multipart fields `session` (the widget's session
    token) and `file`. Answers {"file_id", "content_type", "bytes"}; the message that shows it names
    the file_id (the socket's `images`). The photo is checked and cleaned by knowledge.images."""
    origin = request.headers.get("Origin")
    if not sessions.origin_allowed(origin, request.get_host()):
        return _error("origin_not_allowed", "This site may not embed the chat.", 403, origin)
    size = int(request.META.get("CONTENT_LENGTH") or 0)
    if size > settings.WIDGET_MAX_IMAGE_BYTES + UPLOAD_OVERHEAD_BYTES:
        limit = settings.WIDGET_MAX_IMAGE_BYTES // (1024 * 1024)
        return _error("image_too_large", f"That photo is too large: the limit is {limit} MB.", 413, origin)
    session = sessions.read_session(request.POST.get("session", ""))
    if session is None:
        return _error("invalid_session", "Your chat session has expired. Reload the page and try again.", 403, origin)
    if not allow(
        f"widget:uploads:{session.visitor}", limit=settings.WIDGET_MESSAGES_PER_VISITOR_PER_MINUTE, window_seconds=60
    ):
        return _error("rate_limited", "You're sending photos too quickly. Please wait a moment.", 429, origin)
    upload = request.FILES.get("file")
    if upload is None:
        return _error("no_file", "Choose a photo to attach.", 400, origin)
    if upload.size > settings.WIDGET_MAX_IMAGE_BYTES:
        limit = settings.WIDGET_MAX_IMAGE_BYTES // (1024 * 1024)
        return _error("image_too_large", f"That photo is too large: the limit is {limit} MB.", 413, origin)
    try:
        file = images.customer_image_create(thread_public_id=session.thread_id, data=upload.read())
    except DomainError as refused:
        return _error(refused.code, refused.message, refused.http_status, origin)
    return _cors(
        JsonResponse({"file_id": file.public_id, "content_type": file.content_type, "bytes": file.bytes}, status=201),
        origin,
    )


@csrf_exempt
@require_http_methods(["GET", "OPTIONS"])
def widget_attachment(request: HttpRequest, file_id: str) -> HttpResponse:
    """A photo of the visitor's own conversation, for the session token in the X-Concierge-Session
    header (a header, not the URL: tokens stay out of access logs). Any other file is a 404."""
    origin = request.headers.get("Origin")
    if not sessions.origin_allowed(origin, request.get_host()):
        return _error("origin_not_allowed", "This site may not embed the chat.", 403, origin)
    if request.method == "OPTIONS":  # the preflight a cross-origin shop's page sends for the header
        response = _cors(HttpResponse(status=204), origin)
        response["Access-Control-Allow-Headers"] = SESSION_HEADER
        response["Access-Control-Allow-Methods"] = "GET"
        response["Access-Control-Max-Age"] = "600"
        return response
    session = sessions.read_session(request.headers.get(SESSION_HEADER, ""))
    if session is None:
        return _error("invalid_session", "Your chat session has expired.", 403, origin)
    try:
        file = images.access_conversation_image(session.thread_id, file_id)
    except DomainError as refused:
        return _error(refused.code, refused.message, refused.http_status, origin)
    return _cors(images.image_response(file), origin)
