"""The OpenAI SDK client every model call goes through.

With OPENAI_API_KEY the client talks to a real provider (OPENAI_BASE_URL for any OpenAI-compatible
server); without it, the same SDK reaches the offline model through an in-process transport. The
SDK path is identical either way. Retries are off: the engine retries with its own backoff.
"""

from __future__ import annotations

import threading

import httpx2
import openai
from django.conf import settings

from offline_model.transport import OfflineTransport

OFFLINE_BASE_URL = "http://offline.concierge/v1"
OFFLINE_API_KEY = "offline"
CONNECT_TIMEOUT_SECONDS = 10
MAX_CACHED_CLIENTS = 8

_clients: dict[tuple, openai.OpenAI] = {}
_lock = threading.Lock()


def is_offline() -> bool:
    """True when no provider key is configured and the offline model answers."""
    return not settings.OPENAI_API_KEY


def default_model() -> str:
    return settings.CONCIERGE_MODEL


def chat_client(*, token_delay_ms: float | None = None) -> openai.OpenAI:
    """The process's SDK client for the configured provider (thread-safe, built once per configuration).

    `token_delay_ms` paces the offline model's streamed chunks (default OFFLINE_MODEL_TOKEN_DELAY_MS);
    it has no effect on a real provider.
    """
    if is_offline():
        delay = settings.OFFLINE_MODEL_TOKEN_DELAY_MS if token_delay_ms is None else token_delay_ms
        key: tuple = ("offline", float(delay or 0), default_model())
    else:
        key = ("provider", settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.OPENAI_TIMEOUT_SECONDS)
    # Keyed by configuration, so tests that override settings get a client that matches them.
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                if len(_clients) >= MAX_CACHED_CLIENTS:  # only tests cycle through many configurations
                    _clients.clear()
                client = _clients[key] = _build(key)
    return client


def _build(key: tuple) -> openai.OpenAI:
    if key[0] == "offline":
        _, delay, model = key
        transport = OfflineTransport(token_delay_ms=delay, model_names=[model])
        return openai.OpenAI(
            api_key=OFFLINE_API_KEY,
            base_url=OFFLINE_BASE_URL,
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
        )
    _, api_key, base_url, timeout = key
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=httpx2.Timeout(timeout, connect=CONNECT_TIMEOUT_SECONDS),
        max_retries=0,
    )
