"""Fixed-window rate limits on the shared cache (Redis in production, so limits hold across servers)."""

from __future__ import annotations

import time

from django.core.cache import cache

from common.cache import redis_client_for


def allow(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one hit for `key`; False once `limit` hits fell in the current window."""
    return allow_all((key, limit, window_seconds))


def allow_all(*limits: tuple[str, int, int]) -> bool:
    """Count one hit in each (key, limit, window_seconds); True while every one is within its limit.

    On Redis, one round trip for all of them (a customer's message checks two limits)."""
    now = time.time()
    buckets = [(f"ratelimit:{key}:{int(now // window)}", limit, window) for key, limit, window in limits]
    targets = [redis_client_for(bucket) for bucket, _limit, _window in buckets]
    if targets[0] is None:  # not Redis: every bucket counted, not only up to the first refusal
        return all([_count_in_cache(bucket, window) <= limit for bucket, limit, window in buckets])
    # INCR creates the key: one command instead of Django's add + exists + incr. Writes all go to
    # one server, so one pipeline holds them all.
    pipe = targets[0][0].pipeline(transaction=False)
    for (_client, full_key), (_bucket, _limit, window) in zip(targets, buckets, strict=True):
        pipe.incr(full_key)
        pipe.expire(full_key, window + 1)
    hits = pipe.execute()[::2]  # each INCR's count; the EXPIREs' answers lie between them
    return all(count <= limit for count, (_bucket, limit, _window) in zip(hits, buckets, strict=True))


def _count_in_cache(bucket: str, window_seconds: int) -> int:
    cache.add(bucket, 0, timeout=window_seconds + 1)
    try:
        return cache.incr(bucket)
    except ValueError:  # the bucket expired between add and incr
        cache.set(bucket, 1, timeout=window_seconds + 1)
        return 1
