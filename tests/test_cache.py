"""The Redis cache backend builds one redis client per connection pool, not one per call."""

from __future__ import annotations

from config.cache import SharedClientRedisCache


def test_the_redis_cache_reuses_its_client():
    cache = SharedClientRedisCache("redis://127.0.0.1:6379/0", {})  # clients connect lazily: no server needed
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client("any-key", write=True) is client
    assert cache._cache.get_client("other-key") is client  # one server: reads use the same pool
