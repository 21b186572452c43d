"""Domain errors: each carries a stable code and a message a customer can read.

The REST API turns them into its error envelope, the assistant's tool registry into a structured
tool result, the console into a flash message.
"""

from __future__ import annotations

from decimal import Decimal


class DomainError(Exception):
    code = "domain_error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param  # the request field at fault, when there is one
        if code:
            self.code = code


class InvalidInput(DomainError):
    """A value the caller sent breaks a rule (the API answers 400, naming the field in `param`)."""

    code = "invalid_request"
    http_status = 400


class NotFound(DomainError):
    """Also used for things that exist but are not the caller's: never reveal which."""

    code = "not_found"
    http_status = 404


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403


class InvalidState(DomainError):
    code = "invalid_state"
    http_status = 409


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
