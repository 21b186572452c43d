"""The run updates every run makes, written out as SQL: the claim and the lease renewal.

The ORM's form of them, with its conditions and expressions, cost more to build than to execute
(docs/benchmarks.md); written out, each is one string and a dict of named parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import connection

from runtime.models import Run, Thread

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


def thread_mode_in(modes: Iterable[str]) -> tuple[str, dict[str, str]]:
    """A condition on the run's thread's mode being one of `modes`, and its parameters."""
    params = {f"mode_{i}": mode for i, mode in enumerate(modes)}
    names = ", ".join(f"%({name})s" for name in params)
    condition = (
        f"EXISTS (SELECT 1 FROM {quoted(Thread)} t WHERE t.id = {quoted(Run)}.thread_id AND t.mode IN ({names}))"
    )
    return condition, params
