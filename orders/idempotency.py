"""Idempotency keys with Stripe's semantics, for the REST API and the assistant's tools.

- A key lives in a scope (who is asking, and for which operation): the same key string from two
  callers or for two operations names two different things.
- The same key with the same request returns the stored result, without running the operation again.
- The same key with a different request is refused (IdempotencyConflict, 422).
- A request arriving while another with the same key is in flight waits for it, then returns its
  stored result; if it cannot get the key in time it is refused (IdempotencyInFlight, 409).
- Keys expire after IDEMPOTENCY_KEY_TTL_HOURS; `purge_expired_keys` deletes them.

The database enforces all of it: the key row is inserted in the same transaction as the
operation's writes, under a unique constraint. A second transaction inserting the same key blocks
on that constraint until the first commits (then sees the stored result) or rolls back (then runs
the operation itself). A crash rolls the key back with the work, so nothing is left half-done.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from common.errors import DomainError
from orders.errors import IdempotencyConflict, IdempotencyInFlight
from orders.models import IdempotencyKey


@dataclass(frozen=True)
class IdempotentResult:
    status: int
    content: str  # the body's JSON text, the same for the first response and every replay
    replayed: bool

    @property
    def body(self) -> Any:
        return json.loads(self.content)


def encode(body: Any) -> str:
    """A response body as the JSON text stored and sent (compact and UTF-8, as DRF renders it)."""
    return json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def fingerprint(request: Any) -> str:
    """A stable hash of a JSON-able request (key order does not matter)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _expiry_cutoff():
    return timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def run_idempotent(
    *,
    scope: str,
    key: str,
    request: Any,
    operation: Callable[[], tuple[int, Any]],
) -> IdempotentResult:
    """Run `operation` at most once for (scope, key), returning its (status, JSON body).

    `operation` runs inside this function's transaction and must do only database work. A
    DomainError it raises is stored as the key's result (as Stripe stores a 4xx) and re-raised on
    every replay; any other exception rolls everything back, key included.
    """
    if not key or len(key) > 255:
        raise DomainError("An Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key")
    request_fp = fingerprint(request)
    try:
        with _sqlite_busy_timeout(), transaction.atomic():
            _set_lock_timeout()
            IdempotencyKey.objects.filter(scope=scope, key=key, created_at__lt=_expiry_cutoff()).delete()
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        scope=scope, key=key, request_fingerprint=request_fp, response_status=0, response_body="{}"
                    )
            except IntegrityError:
                # Another transaction holds or held this key; by now it has committed.
                stored = IdempotencyKey.objects.get(scope=scope, key=key)
                return _replay(stored, request_fp)
            try:
                with transaction.atomic():  # a refused operation leaves no partial writes
                    status, body = operation()
            except DomainError as error:
                status, body = error.http_status, _error_record(error)
            record.response_status = status
            record.response_body = encode(body)
            record.save(update_fields=["response_status", "response_body"])
    except OperationalError as error:
        if _is_lock_timeout(error):
            raise IdempotencyInFlight(
                "A request with this Idempotency-Key is still being processed. Retry in a moment."
            ) from error
        raise
    return _result(record, replayed=False)


def _replay(stored: IdempotencyKey, request_fp: str) -> IdempotentResult:
    if stored.request_fingerprint != request_fp:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request. Use a new key for a new request."
        )
    return _result(stored, replayed=True)


def _result(record: IdempotencyKey, *, replayed: bool) -> IdempotentResult:
    result = IdempotentResult(status=record.response_status, content=record.response_body, replayed=replayed)
    body = result.body
    if isinstance(body, dict) and "__domain_error__" in body:
        error = DomainError(body["message"], code=body["code"], param=body.get("param"))
        error.http_status = record.response_status
        raise error
    return result


def _error_record(error: DomainError) -> dict:
    return {"__domain_error__": True, "code": error.code, "message": error.message, "param": error.param}


def _set_lock_timeout() -> None:
    """Bound how long we wait for a concurrent request holding the same key (PostgreSQL)."""
    seconds = settings.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{seconds * 1000}"])


@contextmanager
def _sqlite_busy_timeout() -> Iterator[None]:
    """The same bound on SQLite, entered before BEGIN.

    IMMEDIATE transactions wait for the write lock at BEGIN, on the connection's busy timeout
    (20 s in settings), so the wait is shortened for this transaction and restored afterwards.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    milliseconds = int(settings.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS * 1000)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA busy_timeout = {milliseconds}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(previous)}")


def _is_lock_timeout(error: OperationalError) -> bool:
    text = str(error).lower()
    return "lock timeout" in text or "database is locked" in text


def purge_expired_keys() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=_expiry_cutoff()).delete()
    return deleted
