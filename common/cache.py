"""Django's Redis cache, with one connection pool and one redis client per process.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call, and keeps its connection
pools on the cache object, which Django keeps per thread and, under ASGI, per request context: every
HTTP request or websocket of daphne would open its own pool and a new connection to Redis. Concierge
uses the cache per streamed event (sequence numbers, the stream snapshot) and per customer message
(rate limits), so the pools and clients here belong to the process; both are safe to share between
threads.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_lock = threading.Lock()
_pools: dict[str, object] = {}
_clients: dict[int, object] = {}


class _SharedClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        server = self._servers[self._get_connection_pool_index(write)]
        pool = _pools.get(server)
        if pool is None:
            with _lock:
                pool = _pools.get(server)
                if pool is None:
                    pool = _pools[server] = self._pool_class.from_url(server, **self._pool_options)
        return pool

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = _clients.get(id(pool))
        if client is None:
            with _lock:
                client = _clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


def redis_client_for(key: str):
    """(client, full key) for `key` when the cache is Redis, for commands Django's cache API lacks
    (an INCRBY that creates its key, a pipeline); None with any other cache."""
    from django.core.cache import cache

    backend = getattr(cache, "_cache", None)
    if not isinstance(backend, RedisCacheClient):
        return None
    full_key = cache.make_and_validate_key(key)
    return backend.get_client(full_key, write=True), full_key


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _SharedClient
