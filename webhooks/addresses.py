"""Which URLs an endpoint may have, and which addresses a webhook may reach.

An endpoint's URL is typed by a staff member, but the request is made from inside the shop's network,
where the database, Redis and the cloud's metadata service listen: a URL pointing there would make
Concierge a proxy into it (SSRF). So a URL must be https (http only with DEBUG or
WEBHOOK_ALLOW_HTTP, for local testing), carry no credentials, and every address its host resolves
to must be public, unless WEBHOOK_ALLOW_PRIVATE_TARGETS. The form checks this when the URL is
saved; webhooks.transport checks the addresses again on every connection, since DNS answers may
change after the check (rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The URL or an address it leads to is not one a webhook may reach; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str  # "https" or "http"
    host: str  # ASCII (IDNA), without brackets
    port: int
    target: str  # path and query, as sent in the request line
    host_header: str


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not reach `address`, or None if it may (a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 reaches that IPv4 address: judge it as one.
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services listen)"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private or not address.is_global:
        return "a private or reserved address"
    return None


def allow_private() -> bool:
    return settings.WEBHOOK_ALLOW_PRIVATE_TARGETS


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, each checked; AddressRefused if it resolves to none, or
    to any that is not public (a name with one private address among public ones is refused:
    which one a connection uses is not ours to choose)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"{host} could not be resolved ({error}).") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise AddressRefused(f"{host} could not be resolved.")
    if not allow_private():
        for address in addresses:
            why = refusal(ipaddress.ip_address(address.split("%")[0]))
            if why is not None:
                raise AddressRefused(f"{host} resolves to {address}, {why}.")
    return addresses


def parse(url: str) -> Target:
    """The parts of an endpoint's URL a request is made of, or AddressRefused saying what is wrong.

    No DNS here: see `check` (on save) and webhooks.transport (on every connection)."""
    if not isinstance(url, str) or not url:
        raise AddressRefused("Enter a URL.")
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"A URL has at most {MAX_URL_LENGTH} characters.")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise AddressRefused("A URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise AddressRefused(f"This is not a valid URL ({error}).") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if settings.DEBUG or settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if scheme not in allowed:
        if scheme == "http":
            raise AddressRefused("The URL must start with https:// (http:// only with DEBUG or WEBHOOK_ALLOW_HTTP).")
        raise AddressRefused("The URL must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("A URL with a user name or password is refused: the signature authenticates us.")
    if not parts.hostname:
        raise AddressRefused("The URL has no host.")
    if not (parts.path + parts.query + parts.fragment).isascii():
        raise AddressRefused("Percent-encode the characters of the URL's path and query that are not ASCII.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise AddressRefused("The URL's host is not a valid domain name.") from None
    default_port = 443 if scheme == "https" else 80
    port = default_port if port is None else port
    if port == 0:
        raise AddressRefused("The URL's port must be between 1 and 65535.")
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default_port else f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port, target=target, host_header=host_header)


def check(url: str) -> Target:
    """`url` parsed, and its host resolved to public addresses only (or private ones allowed)."""
    target = parse(url)
    resolve(target.host, target.port)
    return target
