"""One webhook request, made so that an endpoint's URL cannot turn it against the shop's own network.

httpcore2 (the HTTP engine under httpx2, pinned with it) with a network backend of our own:
- every TCP connection resolves the host itself, checks each address (webhooks.addresses) and
  connects to the address it checked, so a DNS answer that changed since the URL was saved (DNS
  rebinding) reaches nothing; TLS still verifies the certificate against the host name;
- one deadline for the whole attempt (connect, TLS, sending, every read): a receiver that answers
  one byte at a time cannot hold a worker past it, nor past the delivery's lease;
- redirects are not followed (httpcore2 never follows them; a 3xx is a failed attempt), no proxy
  from the environment is used, and at most WEBHOOK_RESPONSE_MAX_BYTES of the answer are read.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import httpcore2
import httpx2
from django.conf import settings

from webhooks.addresses import AddressRefused, parse, resolve

log = logging.getLogger(__name__)
USER_AGENT = "Concierge-Webhooks/1"
EXCERPT_CHARS = 1000


@dataclass(frozen=True)
class Answer:
    """What came of one request: a status code, or an error (never both missing)."""

    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    retry_after: str | None = None  # the Retry-After header, as received
    location: str = ""  # a redirect's Location, which is not followed


class DeadlineStream(httpcore2.NetworkStream):
    """A connection whose every operation ends by the attempt's deadline."""

    def __init__(self, stream: httpcore2.NetworkStream, deadline: float) -> None:
        self._stream, self._deadline = stream, deadline

    def _left(self, timeout: float | None, expired: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise expired("The attempt's deadline passed.")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, self._left(timeout, httpcore2.ConnectTimeout))
        return DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore2.SyncBackend):
    """Connects only to addresses webhooks.addresses allows, checked at the moment of connecting."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore2.NetworkStream:
        failure: Exception | None = None
        for address in resolve(host, port):  # AddressRefused unless every address may be reached
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise httpcore2.ConnectTimeout("The attempt's deadline passed.")
            try:
                stream = super().connect_tcp(address, port, min(timeout or left, left), local_address, socket_options)
            except httpcore2.ConnectError as error:  # the next address, if the host has another
                failure = error
                continue
            return DeadlineStream(stream, self._deadline)
        raise failure or httpcore2.ConnectError(f"No address of {host} answered.")

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise AddressRefused("Webhooks are sent over TCP only.")


@cache
def ssl_context() -> ssl.SSLContext:
    """The trusted certificates as httpx2 loads them (SSL_CERT_FILE and SSL_CERT_DIR honoured),
    made once per process. Proxies are not httpcore2's business: none is used."""
    return httpx2.create_ssl_context()


def _read_capped(stream: Iterable[bytes], limit: int) -> bytes:
    read = b""
    for chunk in stream:
        read += chunk
        if len(read) >= limit:
            break  # the rest is never read: closing the response drops the connection
    return read[:limit]


def storable(text: str, limit: int) -> str:
    """Text from a receiver, fit for a log row: NUL (which PostgreSQL refuses) replaced, cut to `limit`."""
    return text.replace("\x00", "\ufffd")[:limit]


def post(url: str, *, headers: dict[str, str], body: bytes) -> Answer:
    """POST `body` to `url` once, within WEBHOOK_TIMEOUT_SECONDS; what the receiver answered, or why not."""
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    try:
        target = parse(url)
        url_parts = httpcore2.URL(
            scheme=target.scheme.encode(), host=target.host.encode(), port=target.port, target=target.target.encode()
        )
        request_headers = [("Host", target.host_header), ("User-Agent", USER_AGENT), *headers.items()]
        backend = GuardedBackend(deadline=time.monotonic() + timeout)
        with (
            httpcore2.ConnectionPool(ssl_context=ssl_context(), network_backend=backend, max_connections=1) as pool,
            pool.stream(
                "POST",
                url_parts,
                headers=request_headers,
                content=body,
                extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)},
            ) as response,
        ):
            raw = _read_capped(response.iter_stream(), settings.WEBHOOK_RESPONSE_MAX_BYTES)
            found = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in response.headers}
    except AddressRefused as refused:
        return Answer(error=f"Refused: {refused}")
    except httpcore2.TimeoutException:
        return Answer(error=f"Timed out: no complete answer within {timeout:g} s.")
    except (httpcore2.NetworkError, httpcore2.ProtocolError, httpcore2.UnsupportedProtocol) as error:
        return Answer(error=f"{type(error).__name__}: {error or 'the connection failed'}")
    return Answer(
        status_code=response.status,
        excerpt=storable(raw.decode("utf-8", errors="replace"), EXCERPT_CHARS),
        retry_after=found.get("retry-after"),
        location=storable(found.get("location", ""), 300),
    )
