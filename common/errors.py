"""Errors every app shares: each carries a stable code and a message a customer can read.

The REST APIs turn them into their error envelope, the assistant's tool registry into a structured
tool result, the console into a flash message.
"""

from __future__ import annotations


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
