"""Fixed-window rate limits on the shared cache (Redis in production, so limits hold across servers)."""

from __future__ import annotations

import time

from django.core.cache import cache

from config.cache import redis_client_for


def allow(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one hit for `key`; False once `limit` hits fell in the current window."""
    return allow_all((key, limit, window_seconds))


def allow_all(*limits: tuple[str, int, int]) -> bool:
    """Count one hit in each (key, limit, window_seconds); True while every one is within its limit.

    On Redis, one round trip for all of them (a customer's message checks two limits)."""
    now = time.time()
    buckets = [(f"ratelimit:{key}:{int(now // window)}", limit, window) for key, limit, window in limits]
    pipes: dict[int, object] = {}
    counted: list[tuple[int, int, int]] = []  # per bucket: its pipeline, its INCR's place in it, its limit
    plain: list[tuple[str, int, int]] = []  # buckets on a cache other than Redis
    for bucket, limit, window in buckets:
        redis = redis_client_for(bucket)
        if redis is None:
            plain.append((bucket, limit, window))
            continue
        # INCR creates the key: one command instead of Django's add + exists + incr.
        client, full_key = redis
        pipe = pipes.setdefault(id(client), client.pipeline(transaction=False))
        counted.append((id(client), len(pipe), limit))
        pipe.incr(full_key)
        pipe.expire(full_key, window + 1)
    results = {key: pipe.execute() for key, pipe in pipes.items()}
    within = [results[pipe][index] <= limit for pipe, index, limit in counted]
    within += [_count_in_cache(bucket, window) <= limit for bucket, limit, window in plain]  # every one counted
    return all(within)


def _count_in_cache(bucket: str, window_seconds: int) -> int:
    cache.add(bucket, 0, timeout=window_seconds + 1)
    try:
        return cache.incr(bucket)
    except ValueError:  # the bucket expired between add and incr
        cache.set(bucket, 1, timeout=window_seconds + 1)
        return 1
