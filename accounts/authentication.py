"""API keys on the wire: `Authorization: Bearer ck_…`, the owner's key, its use noted."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import ApiKey


def bearer_credentials(request) -> str | None:
    """What follows `Bearer ` in the Authorization header; the whole header for another scheme;
    None without one."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, raw = header.partition(" ")
    return raw.strip() if scheme.lower() == "bearer" else header


def key_for(raw: str) -> ApiKey | None:
    """The active key `raw` is, noting its use (one write a minute at most, not one per request)."""
    key = ApiKey.authenticate(raw)
    if key is not None:
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
