"""The OpenAI SDK client every model call goes through.

With OPENAI_API_KEY the client talks to a real provider (OPENAI_BASE_URL for any OpenAI-compatible
server); without it, the same SDK reaches the offline model through an in-process transport. The
SDK path is identical either way. Retries are off: the engine retries with its own backoff.

`embed(texts)` turns texts into embedding vectors through the same client (the offline model answers
`/v1/embeddings` too).
"""

from __future__ import annotations

import threading

import httpx2
import openai
from django.conf import settings

from common.tokens import estimate_tokens
from offline_model.transport import OfflineTransport

OFFLINE_BASE_URL = "http://offline.concierge/v1"
OFFLINE_API_KEY = "offline"
CONNECT_TIMEOUT_SECONDS = 10
MAX_CACHED_CLIENTS = 8
# Texts per embeddings request (the API takes 2,048), and their estimated tokens: the API refuses a
# request of more than 300,000 tokens in all, and the estimate may be a little low.
EMBEDDING_BATCH_SIZE = 256
EMBEDDING_BATCH_TOKENS = 250_000

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


class EmbeddingFailed(Exception):
    """An embeddings request that failed. `code` reads as the engine's ModelCallFailed codes do
    (rate_limit_exceeded, server_error, invalid_prompt); `retryable` says whether trying again later
    may help (a 429, a 5xx, a timeout), for the caller's retry policy: `embed` does not retry."""

    def __init__(self, code: str, detail: str, *, retryable: bool) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retryable = retryable


def classify_error(error: Exception) -> tuple[str, bool]:
    """(code, retryable) for an exception the openai SDK raised on a model call."""
    if isinstance(error, openai.RateLimitError):
        return "rate_limit_exceeded", True
    if isinstance(error, openai.APIStatusError):
        if error.status_code >= 500 or error.status_code in (408, 409):
            return "server_error", True
        if error.status_code == 400:
            return "invalid_prompt", False
        return "server_error", False
    if isinstance(error, openai.APIConnectionError | httpx2.TransportError):
        return "server_error", True
    return "server_error", False


# Models that refused `dimensions` (text-embedding-ada-002, many OpenAI-compatible servers): asked
# again without it, they answer at their own width, and are not asked with it again.
_fixed_width_models: set[tuple[str | None, str]] = set()


def embed(texts: list[str]) -> list[list[float]]:
    """One embedding per text, in order, from EMBEDDING_MODEL through the configured client (the
    offline model without OPENAI_API_KEY), EMBEDDING_BATCH_SIZE texts a request.

    Vectors are EMBEDDING_DIMENSIONS wide where the model can shorten them (OpenAI's text-embedding-3
    models, the offline model), else the model's own width; theirs are unit length. Every text
    must be non-empty and within the model's input limit (8,192 tokens at OpenAI): chunk first.
    Raises ValueError for an empty text, EmbeddingFailed when the provider refuses or fails.
    """
    if any(not text for text in texts):
        raise ValueError("Embeddings cannot be made of an empty text.")
    client = chat_client()
    model = settings.EMBEDDING_MODEL
    vectors: list[list[float]] = []
    for batch in _batches(texts):
        vectors.extend(_embed_batch(client, model, batch))
    return vectors


def _batches(texts: list[str]) -> list[list[str]]:
    batches: list[list[str]] = []
    batch: list[str] = []
    tokens = 0
    for text in texts:
        cost = estimate_tokens(text)
        if batch and (len(batch) >= EMBEDDING_BATCH_SIZE or tokens + cost > EMBEDDING_BATCH_TOKENS):
            batches.append(batch)
            batch, tokens = [], 0
        batch.append(text)
        tokens += cost
    if batch:
        batches.append(batch)
    return batches


def _embed_batch(client: openai.OpenAI, model: str, batch: list[str]) -> list[list[float]]:
    width_key = (None if is_offline() else settings.OPENAI_BASE_URL, model)
    options = {} if width_key in _fixed_width_models else {"dimensions": settings.EMBEDDING_DIMENSIONS}
    try:
        try:
            response = client.embeddings.create(model=model, input=batch, **options)
        except openai.BadRequestError as error:
            if not options or "dimensions" not in f"{error.message} {error.param}":
                raise
            _fixed_width_models.add(width_key)
            response = client.embeddings.create(model=model, input=batch)
    except (openai.OpenAIError, httpx2.TransportError, ValueError) as error:  # ValueError: the SDK found no data
        code, retryable = classify_error(error)
        raise EmbeddingFailed(code, f"embeddings request failed: {error}", retryable=retryable) from error
    data = sorted(response.data, key=lambda item: item.index)
    if len(data) != len(batch):
        detail = f"the embedding model answered {len(data)} embeddings for {len(batch)} texts"
        raise EmbeddingFailed("server_error", detail, retryable=True)
    return [item.embedding for item in data]
