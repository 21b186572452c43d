"""Who calls the shop's REST API (/api/): an API key (the shop's backend), a customer token, or staff.

As an orders.Actor, for the services' permission checks and the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.authentication import key_for
from accounts.models import ApiKey
from common.actors import Actor
from orders.models import Customer
from orders.tokens import customer_id_from_token


@dataclass
class CustomerPrincipal:
    """request.user for a customer token: not a Django user, just the customer it is bound to."""

    customer: Customer
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def pk(self) -> str:
        return f"customer:{self.customer.pk}"


class BearerAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer …`: an API key (ck_…) or a customer token (ct_…)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        raw = raw.strip()
        key = key_for(raw)
        if key is not None:
            return key.owner, key
        customer_id = customer_id_from_token(raw)
        if customer_id is not None:
            customer = Customer.objects.filter(pk=customer_id).first()
            if customer is not None:
                return CustomerPrincipal(customer), None
        raise exceptions.AuthenticationFailed("Invalid API key or token.", code="invalid_api_key")

    def authenticate_header(self, request) -> str:
        return self.keyword


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    """How /api/docs/ describes BearerAuthentication (defined here, so it is registered with it)."""

    target_class = "orders.api.auth.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (ck_…) for the shop's backend, or a customer token (ct_…).",
        }


def actor_for_request(request) -> Actor:
    """The Actor behind an authenticated DRF request."""
    user = request.user
    if isinstance(user, CustomerPrincipal):
        return Actor.customer(user.customer.pk)
    if isinstance(request.auth, ApiKey):
        return Actor.shop(f"key:{request.auth.prefix}")
    if user.is_authenticated and user.is_staff:
        return Actor.staff(user.get_username())
    raise exceptions.PermissionDenied("This account has no access to the shop's orders.")
