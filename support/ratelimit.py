"""Fixed-window rate limits on the shared cache (Redis in production, so limits hold across servers)."""

from __future__ import annotations

import time

from django.core.cache import cache

from config.cache import redis_client_for


def allow(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one hit for `key`; False once `limit` hits fell in the current window."""
    window = int(time.time() // window_seconds)
    bucket = f"ratelimit:{key}:{window}"
    redis = redis_client_for(bucket)
    if redis is not None:
        # One round trip (INCR creates the key) instead of Django's add + exists + incr: this runs
        # for every customer message.
        client, full_key = redis
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, window_seconds + 1)
        hits, _ = pipe.execute()
        return hits <= limit
    cache.add(bucket, 0, timeout=window_seconds + 1)
    try:
        hits = cache.incr(bucket)
    except ValueError:  # the bucket expired between add and incr
        cache.set(bucket, 1, timeout=window_seconds + 1)
        hits = 1
    return hits <= limit
