"""Changes to an endpoint beyond what its admin form edits: its signing secret."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks.models import Endpoint
from webhooks.signing import new_secret


def rotate_secret(endpoint_id: int) -> tuple[Endpoint, str]:
    """Give the endpoint a new secret, returned to be shown once. The one it replaces goes on
    signing beside it for WEBHOOK_SECRET_OVERLAP_HOURS, so the receiver can switch without
    refusing a delivery; a secret rotated twice in that time drops the oldest."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
        secret = new_secret()
        endpoint.previous_secret, endpoint.secret = endpoint.secret, secret
        endpoint.previous_secret_expires_at = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint, secret
