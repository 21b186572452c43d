"""Database work from async code (the sockets, the SSE streams): in a worker thread, connection given back.

Not thread-sensitive: one socket's queries must not queue behind another's in a single thread. The
connection is closed (given back to the pool) inside the call itself, as the SSE streams always
did: the customer socket's calls through channels' database_sync_to_async left about one pooled
connection per socket checked out (measured with the pool's stats while
tests/security/test_hostile_sockets.py ran the pool dry), and closing in the call gives it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

T = TypeVar("T")


async def in_worker(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    def call() -> T:
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return await sync_to_async(call, thread_sensitive=False)()
