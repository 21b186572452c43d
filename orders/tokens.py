"""Customer tokens: a signed, expiring token bound to one customer, for /api/.

Stateless (django.core.signing), so nothing is stored; rotating SECRET_KEY revokes them all.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

TOKEN_PREFIX = "ct_"
_SALT = "concierge.customer-token"


def issue_customer_token(customer_id: int) -> str:
    return TOKEN_PREFIX + signing.dumps({"customer": customer_id}, salt=_SALT, compress=True)


def customer_id_from_token(raw: str) -> int | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None
    try:
        data = signing.loads(raw[len(TOKEN_PREFIX) :], salt=_SALT, max_age=settings.CUSTOMER_TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return data.get("customer") if isinstance(data, dict) else None
