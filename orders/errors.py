"""The shop's own errors (return rules, approvals, idempotency keys), on common.errors.DomainError."""

from __future__ import annotations

from decimal import Decimal

from common.errors import DomainError


class ReturnNotAllowed(DomainError):
    code = "return_not_allowed"
    http_status = 422


class ApprovalRequired(DomainError):
    """The return would bring the order's opened refunds above the caller's approval limit.

    Raised only when a caller passes a limit (the assistant in a customer conversation, without a
    person's approval); the tool turns it into a request for approval, so it never reaches the API.
    """

    code = "approval_required"
    http_status = 403

    def __init__(self, message: str, *, refund: Decimal, order_total: Decimal, limit: Decimal) -> None:
        super().__init__(message)
        self.refund = refund  # this return's refund
        self.order_total = order_total  # the order's refunds, this one included
        self.limit = limit


class IdempotencyConflict(DomainError):
    """The same key arrived with a different request (Stripe answers 422)."""

    code = "idempotency_key_reused"
    http_status = 422


class IdempotencyInFlight(DomainError):
    """Another request with the same key is still running and did not finish in time."""

    code = "idempotency_key_in_use"
    http_status = 409
