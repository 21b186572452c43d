"""Per-caller request throttling: by API key, customer token or user."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey
from orders.api.auth import CustomerPrincipal


class CallerRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif isinstance(request.user, CustomerPrincipal):
            ident = f"customer:{request.user.customer.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
