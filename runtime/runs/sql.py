"""The run updates every run makes, written out as SQL: the claim, the lease renewal, the count of
model calls and the status changes.

The ORM's form of them, with its conditions and expressions, cost more to build than to execute
(docs/benchmarks.md); written out, each is one string and a dict of named parameters. A change that
needs the row afterwards returns it in the same statement (`UPDATE … RETURNING`: PostgreSQL, and
SQLite since 3.35), read back through the ORM's raw queries so the columns convert as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from runtime.models import Message, Run, Thread

UNEXPIRED = "(expires_at IS NULL OR expires_at > %(now)s)"


def quoted(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def update_run(set_sql: str, where_sql: str, params: Mapping[str, Any]) -> int:
    """One UPDATE of the runs table with named %(name)s parameters; returns how many rows it changed."""
    ops = connection.ops
    values = {k: ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for k, v in params.items()}
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {quoted(Run)} SET {set_sql} WHERE {where_sql}", values)
        return cursor.rowcount


def update_run_returning(set_sql: str, where_sql: str, params: Mapping[str, Any], returning: str) -> tuple | None:
    """update_run, returning the `returning` expressions of the changed row (None if none changed)."""
    ops = connection.ops
    values = {k: ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for k, v in params.items()}
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {quoted(Run)} SET {set_sql} WHERE {where_sql} RETURNING {returning}", values)
        return cursor.fetchone()


def move_status(
    run_pk: int, to: str, *, allowed_from: Iterable[str], fields: Mapping[str, Any], usage: tuple[int, int]
) -> Run | None:
    """Compare-and-set a run's status, setting `fields` (model field names, ORM values) and adding
    `usage` (prompt, completion tokens) to its counts; the run as it now is, or None if its status
    was not one of `allowed_from`."""
    params: dict[str, Any] = {"run": run_pk, "to": to, "prompt": usage[0], "completion": usage[1]}
    assignments = ["status = %(to)s"]
    for name, value in fields.items():
        field = Run._meta.get_field(name)
        params[f"set_{name}"] = field.get_db_prep_save(value, connection)
        assignments.append(f"{connection.ops.quote_name(field.column)} = %(set_{name})s")
    if usage != (0, 0):
        assignments.append("prompt_tokens = prompt_tokens + %(prompt)s")
        assignments.append("completion_tokens = completion_tokens + %(completion)s")
    allowed = {f"from_{i}": status for i, status in enumerate(allowed_from)}
    params.update(allowed)
    statuses = ", ".join(f"%({name})s" for name in allowed)
    sql = (
        f"UPDATE {quoted(Run)} SET {', '.join(assignments)} "
        f"WHERE id = %(run)s AND status IN ({statuses}) RETURNING {run_columns()}"
    )
    moved = list(Run.objects.raw(sql, params))  # read to the end: SQLite ends the statement there
    return moved[0] if moved else None


@cache
def run_columns() -> str:
    return ", ".join(connection.ops.quote_name(field.column) for field in Run._meta.concrete_fields)


def thread_mode_in(modes: Iterable[str]) -> tuple[str, dict[str, str]]:
    """A condition on the run's thread's mode being one of `modes`, and its parameters."""
    params = {f"mode_{i}": mode for i, mode in enumerate(modes)}
    names = ", ".join(f"%({name})s" for name in params)
    condition = (
        f"EXISTS (SELECT 1 FROM {quoted(Thread)} t WHERE t.id = {quoted(Run)}.thread_id AND t.mode IN ({names}))"
    )
    return condition, params


FINISHED_MESSAGE_FIELDS = ("content", "status", "completed_at", "incomplete_at", "incomplete_details")


def finish_message_while(message: Message, thread_modes: Iterable[str]) -> bool:
    """Store the assistant's written message (its text and outcome) only while its thread's mode is
    one of `thread_modes`, checked in the same statement; False, nothing stored, otherwise."""
    params: dict[str, Any] = {"message": message.pk}
    assignments = []
    for name in FINISHED_MESSAGE_FIELDS:
        field = Message._meta.get_field(name)
        params[name] = field.get_db_prep_save(getattr(message, field.attname), connection)
        assignments.append(f"{connection.ops.quote_name(field.column)} = %({name})s")
    modes = {f"mode_{i}": mode for i, mode in enumerate(thread_modes)}
    params.update(modes)
    names = ", ".join(f"%({name})s" for name in modes)
    table = quoted(Message)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(assignments)} WHERE id = %(message)s AND EXISTS "
            f"(SELECT 1 FROM {quoted(Thread)} t WHERE t.id = {table}.thread_id AND t.mode IN ({names}))",
            params,
        )
        return cursor.rowcount == 1
