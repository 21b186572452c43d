"""What a piece of work sends to the database and to Redis, counted on every connection (the tools'
threads and the event publisher's included), for bench/statements.py and bench/overhead.py.

    with counting() as counted:
        work()
    counted.sql, counted.redis, counted.shown  # statements, Redis round trips, each statement's SQL

Installed only inside the block: counting costs CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis.client
from django.db import connection
from django.db.backends.signals import connection_created


@dataclass
class Counted:
    sql: int = 0
    redis: int = 0
    shown: list[str] = field(default_factory=list)  # each statement: its thread and SQL, in order
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self.sql, self.redis, self.shown = 0, 0, []

    def statement(self, execute, sql, params, many, context):
        with self._lock:
            self.sql += 1
            self.shown.append(f"{threading.current_thread().name:<12} {' '.join(sql.split())[:160]}")
        return execute(sql, params, many, context)

    def round_trip(self, method):
        def counted(client, *args, **kwargs):
            with self._lock:
                self.redis += 1
            return method(client, *args, **kwargs)

        return counted


@contextmanager
def counting() -> Iterator[Counted]:
    counted = Counted()

    def install(sender, connection, **kwargs) -> None:
        if counted.statement not in connection.execute_wrappers:
            connection.execute_wrappers.append(counted.statement)

    connection_created.connect(install, weak=False, dispatch_uid="bench.counting")
    install(None, connection)
    execute_command, pipeline_execute = redis.client.Redis.execute_command, redis.client.Pipeline.execute
    redis.client.Redis.execute_command = counted.round_trip(execute_command)
    redis.client.Pipeline.execute = counted.round_trip(pipeline_execute)
    try:
        yield counted
    finally:
        connection_created.disconnect(dispatch_uid="bench.counting")
        redis.client.Redis.execute_command, redis.client.Pipeline.execute = execute_command, pipeline_execute
        if counted.statement in connection.execute_wrappers:
            connection.execute_wrappers.remove(counted.statement)
