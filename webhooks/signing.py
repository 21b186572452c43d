"""Signing a webhook as the Standard Webhooks specification (1.0) says, so receivers can use its libraries.

- The secret: 32 random bytes, shown as "whsec_" and their base64; the HMAC key is the bytes.
- Signed content: f"{webhook_id}.{timestamp}.{body}", HMAC-SHA256, base64.
- Headers: `webhook-id` (the delivery's id, the same on every retry: the receiver's idempotency
  key), `webhook-timestamp` (Unix seconds of this attempt, so that old requests can be refused),
  `webhook-signature`: "v1,<base64>", one per secret that signs now, separated by spaces (during a
  rotation the previous secret signs too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, *, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secrets_now: list[str], *, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt: content type, id, timestamp and the signatures."""
    signatures = " ".join(signature(s, webhook_id=webhook_id, timestamp=timestamp, body=body) for s in secrets_now)
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
