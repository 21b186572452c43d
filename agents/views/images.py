"""The photos customers attached in the chat, for the console's agents only (/console/images/<file_id>/)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from agents.views.access import agent_required
from common.errors import NotFound
from knowledge import images


@require_GET
@agent_required
def customer_image(request: HttpRequest, file_id: str) -> HttpResponse:
    """A customer's photo, inline; any other file (a /v1 caller's, the shop's own, an analyst's
    chart) is a 404, whoever asks."""
    try:
        file = images.access_customer_image(file_id)
    except NotFound:
        raise Http404("No such photo.") from None
    return images.image_response(file)
