"""API keys for the shop's backends: stored hashed, shown once."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "ck_"


def hash_key(raw: str) -> str:
    # The key has 256 bits of entropy, so a fast hash is enough (as for GitHub's tokens).
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A bearer key. It acts as the shop's backend on /api/ and as its owner on /v1/."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The first characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, owner, name: str) -> tuple[ApiKey, str]:
        """Create a key; the raw key is returned once and never stored."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(owner=owner, name=name, prefix=raw[:10], key_hash=hash_key(raw))
        return key, raw

    @classmethod
    def authenticate(cls, raw: str) -> ApiKey | None:
        if not raw.startswith(KEY_PREFIX):
            return None
        key = cls.objects.active().select_related("owner").filter(key_hash=hash_key(raw)).first()
        if key is None or not key.owner.is_active:
            return None
        return key
