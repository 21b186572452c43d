"""Django's Redis cache, reusing one redis client per connection pool.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call; with redis-py 8 building
one costs more than the round trip it makes. Concierge calls the cache per streamed event (sequence
numbers, the stream snapshot) and per customer message (rate limits), so the client is built once
per pool and shared: a redis client is safe to share between threads.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _SharedClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _SharedClient
