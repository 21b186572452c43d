"""Widget sessions: who a visitor is, which thread is theirs, and what they may prove about themselves.

- A *session token* (signed, long-lived, kept by the widget in localStorage) names the visitor and
  their thread, so the conversation survives page reloads.
- A *ticket* (signed, single use, valid for a minute) opens the websocket: the long-lived token
  never appears in a URL that ends up in access logs.
- A shop that knows its customer signs the customer's email or external id with HMAC-SHA256 and
  its WIDGET_IDENTITY_SECRET (identity verification, as the big support platforms do it); a valid
  signature binds the thread to that customer, a forged one is refused. With
  WIDGET_REQUIRE_IDENTITY, every unsigned session is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.assistant.persona import default_assistant
from orders.models import Customer
from orders.selectors import customer_by_identity
from runtime import runs
from runtime.models import Thread

SESSION_SALT = "concierge.widget-session"
TICKET_SALT = "concierge.widget-ticket"


class SessionRefused(Exception):
    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class WidgetSession:
    visitor: str
    thread_id: str
    customer_id: int | None


def identity_signature(value: str) -> str:
    """What the shop's backend computes: hex HMAC-SHA256 of the email or external id."""
    return hmac.new(settings.WIDGET_IDENTITY_SECRET.encode(), value.encode(), hashlib.sha256).hexdigest()


def verify_identity(*, email: str = "", external_id: str = "", signature: str = "") -> Customer | None:
    """The customer a valid signature proves; None when no identity was claimed."""
    claimed = email.strip().lower() if email else external_id.strip()
    if not claimed:
        if settings.WIDGET_REQUIRE_IDENTITY:
            raise SessionRefused("identity_required", _("This chat is only available to signed-in customers."))
        return None
    if not settings.WIDGET_IDENTITY_SECRET:
        raise SessionRefused("identity_not_configured", _("Identity verification is not configured for this shop."))
    # As bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, not a mismatch).
    expected, given = identity_signature(claimed).encode(), signature.strip().lower().encode()
    if not signature or not hmac.compare_digest(expected, given):
        raise SessionRefused("invalid_identity", _("The customer's identity could not be verified."))
    customer = customer_by_identity(email=claimed) if email else customer_by_identity(external_id=claimed)
    if customer is None:
        raise SessionRefused("unknown_customer", _("The customer's identity could not be verified."))
    return customer


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Same-origin pages, and the shop's configured WIDGET_ALLOWED_ORIGINS ("*" allows any)."""
    if not origin:
        return not settings.WIDGET_REQUIRE_ORIGIN
    allowed = settings.WIDGET_ALLOWED_ORIGINS
    if "*" in allowed or origin in allowed:
        return True
    return bool(host) and urlsplit(origin).netloc == host


def open_session(*, previous_token: str = "", customer: Customer | None) -> tuple[WidgetSession, str]:
    """Continue the visitor's thread when the previous token still fits; else a signed-in customer's
    latest open conversation from the widget (another device, a cleared browser); else a new one."""
    previous = read_session(previous_token) if previous_token else None
    if previous is not None and previous.customer_id == (customer.pk if customer else None):
        thread = Thread.objects.filter(public_id=previous.thread_id).exclude(mode=Thread.Mode.CLOSED).first()
        if thread is not None:
            return previous, session_token(previous)
    visitor = previous.visitor if previous else secrets.token_urlsafe(12)
    if customer is not None:  # proven by the shop's signature, never by the visitor's word
        latest = _latest_open_conversation(customer)
        if latest is not None:
            session = WidgetSession(visitor=visitor, thread_id=latest.public_id, customer_id=customer.pk)
            return session, session_token(session)
    assistant = default_assistant()
    if assistant is None:
        raise SessionRefused("no_assistant", "The chat is not set up yet (run `manage.py seed_demo`).", status=503)
    thread = runs.thread_create(
        assistant=assistant, customer=customer, metadata={"channel": "widget", "visitor": visitor}
    )
    session = WidgetSession(visitor=visitor, thread_id=thread.public_id, customer_id=customer.pk if customer else None)
    return session, session_token(session)


def _latest_open_conversation(customer: Customer) -> Thread | None:
    """The customer's most recently active widget conversation that has not ended, if it is recent
    enough to continue (a session token would have lasted as long)."""
    since = timezone.now() - timedelta(seconds=settings.WIDGET_SESSION_MAX_AGE_SECONDS)
    return (
        Thread.objects.filter(customer=customer, metadata__channel="widget", updated_at__gte=since)
        .exclude(mode=Thread.Mode.CLOSED)
        .order_by("-updated_at", "-pk")
        .first()
    )


def session_token(session: WidgetSession) -> str:
    return signing.dumps(
        {"v": session.visitor, "t": session.thread_id, "c": session.customer_id}, salt=SESSION_SALT, compress=True
    )


def read_session(token: str) -> WidgetSession | None:
    try:
        data = signing.loads(token, salt=SESSION_SALT, max_age=settings.WIDGET_SESSION_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return WidgetSession(visitor=data["v"], thread_id=data["t"], customer_id=data.get("c"))


def issue_ticket(session: WidgetSession) -> str:
    return signing.dumps({"s": session_token(session), "n": secrets.token_urlsafe(9)}, salt=TICKET_SALT, compress=True)


def redeem_ticket(ticket: str) -> WidgetSession | None:
    """The session a ticket opens, once: a replayed or stale ticket opens nothing."""
    try:
        data = signing.loads(ticket, salt=TICKET_SALT, max_age=settings.WIDGET_TICKET_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not cache.add(f"widget:ticket:{data['n']}", 1, timeout=settings.WIDGET_TICKET_MAX_AGE_SECONDS + 5):
        return None
    return read_session(data["s"])
