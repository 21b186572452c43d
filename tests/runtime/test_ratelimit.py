"""Fixed-window rate limits on the shared cache (local memory here; Redis in CI and production)."""

from __future__ import annotations

import uuid

from common.ratelimit import allow, allow_all


def test_a_key_is_allowed_up_to_its_limit_in_a_window():
    key = f"test:{uuid.uuid4().hex}"
    assert [allow(key, limit=3, window_seconds=60) for _ in range(5)] == [True, True, True, False, False]


def test_keys_are_counted_apart():
    first, second = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    assert allow(first, limit=1, window_seconds=60)
    assert not allow(first, limit=1, window_seconds=60)
    assert allow(second, limit=1, window_seconds=60)


def test_every_limit_counts_the_hit_and_any_one_refuses():
    tight, loose = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    both = [(tight, 1, 60), (loose, 10, 60)]
    assert [allow_all(*both) for _ in range(3)] == [True, False, False]
    # the loose key counted all three hits, the refused ones too
    assert [allow(loose, limit=4, window_seconds=60) for _ in range(2)] == [True, False]
