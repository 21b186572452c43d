"""Test settings: the real settings with a fast password hasher."""

import os

from config.settings import *  # noqa: F403
from config.settings import CACHES, CHANNEL_LAYERS, REDIS_URL, REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
RUN_DISPATCH = "inline"
# A test that dispatches to the embedded pool must not leave a beat running in the test process
# between tests (its database access is refused there); tests/runtime/test_embedded_beat.py runs one.
EMBEDDED_BEAT = False
# Tests share one cache (Redis, in CI, for the whole run); don't let unrelated tests add up to a
# throttle. Tests of a limit set their own.
WIDGET_SESSIONS_PER_IP_PER_MINUTE = 100_000
WIDGET_MESSAGES_PER_IP_PER_MINUTE = 100_000
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api_key": "100000/min"},
}

# Test processes side by side (pytest-xdist's workers, other checkouts) share one Redis, whose
# pub/sub ignores the database number: each process's events and cache keys get names of their own,
# which its live servers are given too (tests/e2e/conftest.py), or one's console hears the other's queue.
if REDIS_URL:
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = CACHES["default"]["KEY_PREFIX"] = f"test{os.getpid()}"
