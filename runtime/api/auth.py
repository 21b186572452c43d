"""Who may call /v1 and how often: API keys only, throttled per key."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.authentication import bearer_credentials, key_for
from accounts.models import ApiKey


def _redacted(raw: str) -> str:
    return f"{raw[:6]}…" if len(raw) > 6 else "…"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer ck_…`; request.user is the key's owner, request.auth the ApiKey.

    Customer tokens (ct_…) and sessions are refused: /v1 acts for the key's owner, and a customer
    must never reach another owner's assistants through it.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        raw = bearer_credentials(request)
        if raw is None:
            return None
        key = key_for(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(
                f"Incorrect API key provided: {_redacted(raw)}. Create one with `python manage.py create_api_key`.",
                code="invalid_api_key",
            )
        return key.owner, key

    def authenticate_header(self, request) -> str:
        return self.keyword


class V1KeyThrottle(SimpleRateThrottle):
    """Requests per API key, at REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["v1"]."""

    scope = "v1"

    def get_rate(self):
        # Read at request time (not import time), so a settings override takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.key_hash[:24]}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """How /api/docs/ describes ApiKeyAuthentication (defined here, so it is registered with it)."""

    target_class = "runtime.api.auth.ApiKeyAuthentication"
    name = "v1ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (ck_…) from `python manage.py create_api_key`; it sees only its owner's "
            "assistants and threads.",
        }
