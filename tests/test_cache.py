"""The Redis cache backend shares one pool and one client per server in the process.

Django keeps cache objects per thread and, under ASGI, per request context; each would otherwise
open its own pool and connection to Redis.
"""

from __future__ import annotations

from common.cache import SharedClientRedisCache


def test_every_redis_cache_object_shares_one_client():
    url = "redis://127.0.0.1:6379/0"  # clients connect lazily: no server needed
    first, second = SharedClientRedisCache(url, {}), SharedClientRedisCache(url, {})
    client = first._cache.get_client(write=True)
    assert first._cache.get_client("any-key", write=True) is client
    assert first._cache.get_client("other-key") is client  # one server: reads use the same pool
    assert second._cache.get_client(write=True) is client


def test_another_redis_server_gets_its_own_pool():
    first = SharedClientRedisCache("redis://127.0.0.1:6379/0", {})
    other = SharedClientRedisCache("redis://127.0.0.1:6379/1", {})
    assert other._cache.get_client(write=True) is not first._cache.get_client(write=True)
