"""An https endpoint: the guarded connection goes to the address it checked, and TLS still verifies the
certificate against the endpoint's host name."""

from __future__ import annotations

import socket
import ssl
import subprocess

import pytest

from tests.webhooks.receiver import Receiver
from webhooks import transport

REAL_GETADDRINFO = socket.getaddrinfo


def certificate(directory, name: str) -> tuple[str, str]:
    """A self-signed certificate for `name` and its key, made by openssl."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key, "-out", cert]
    subject = ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
    subprocess.run([*command, *subject], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def https_receiver(tmp_path, settings, monkeypatch):
    """An https receiver on 127.0.0.1 for the name hooks.shop.test, whose certificate we trust."""
    settings.DEBUG, settings.WEBHOOK_ALLOW_HTTP = False, False
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # it listens on this machine
    cert, key = certificate(tmp_path, "hooks.shop.test")
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    monkeypatch.setattr(transport, "ssl_context", lambda: ssl.create_default_context(cafile=cert))

    def lookup(host, port, *args, **kwargs):
        if host.endswith(".shop.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    running = Receiver(tls=server_side)
    yield running
    running.stop()


def test_an_https_endpoint_is_reached_with_its_certificate_verified(https_receiver):
    port = https_receiver.server.server_port

    answer = transport.post(f"https://hooks.shop.test:{port}/hooks", headers={"webhook-id": "dlv_1"}, body=b"{}")

    assert (answer.status_code, answer.error) == (200, "")
    (got,) = https_receiver.requests
    assert got.headers["host"] == f"hooks.shop.test:{port}" and got.headers["webhook-id"] == "dlv_1"


def test_a_certificate_for_another_name_is_refused(https_receiver):
    port = https_receiver.server.server_port

    answer = transport.post(f"https://other.shop.test:{port}/hooks", headers={}, body=b"{}")

    assert answer.status_code is None
    assert answer.error.startswith("ConnectError") and "certificate" in answer.error.lower()
    assert https_receiver.requests == []
