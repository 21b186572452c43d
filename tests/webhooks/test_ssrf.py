"""An endpoint cannot make Concierge reach into its own network (SSRF), neither when saved nor when sent.

WEBHOOK_ALLOW_PRIVATE_TARGETS is off here unless a test says otherwise: the local receiver is the
kind of target that must be refused.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from agents.services import escalate
from tests.webhooks.conftest import make_endpoint
from tests.webhooks.receiver import Scripted
from webhooks import addresses, transport
from webhooks.forms import EndpointForm
from webhooks.models import Delivery

# Deliveries are sent after a real commit: the tests that make one need a transactional database.
sent_after_commit = pytest.mark.django_db(transaction=True)
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def http_only(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def connections(monkeypatch):
    """Every TCP connection attempted (none should be, to a refused address)."""
    attempted = []
    real = socket.create_connection

    def recording(address, *args, **kwargs):
        attempted.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording)
    return attempted


def dns(monkeypatch, answers: dict[str, list[list[str]]]):
    """Resolve the given names to the given addresses, one list per lookup in turn (the last repeats)."""

    def lookup(host, port, *args, **kwargs):
        if host not in answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        turn = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [(family[6 if ":" in a else 4], socket.SOCK_STREAM, 6, "", (a, port)) for a in turn]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/hooks", "a loopback address"),
        ("http://[::1]/hooks", "a loopback address"),
        ("http://localhost/hooks", "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address (where cloud metadata services listen)"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://10.0.0.8/hooks", "a private or reserved address"),
        ("http://192.168.1.20/hooks", "a private or reserved address"),
        ("http://172.16.0.1/", "a private or reserved address"),
        ("http://100.100.100.200/", "a private or reserved address"),  # a cloud's metadata, in shared space
        ("http://[fd00:ec2::254]/", "a private or reserved address"),  # AWS's IPv6 metadata
        ("http://0.0.0.0:5432/", "the unspecified address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),  # IPv4 inside IPv6
        ("http://[64:ff9b::a9fe:a9fe]/", "a link-local address"),  # NAT64 of 169.254.169.254
        ("http://[2002:7f00:1::]/", "a loopback address"),  # 6to4 of 127.0.0.1
        ("http://2130706433/", "a loopback address"),  # 127.0.0.1 written as a number
        ("http://0x7f.1/", "a loopback address"),
        ("http://224.0.0.1/", "a multicast address"),
    ],
)
def test_a_url_into_this_network_is_refused_on_save_and_never_connected_to(http_only, connections, url, why):
    form = EndpointForm(data={"name": "x", "url": url, "event_types": ["return.requested"], "is_active": True})
    assert not form.is_valid()
    assert why in form.errors["url"][0]

    answer = transport.post(url, headers={}, body=b"{}")
    assert answer.status_code is None and answer.error.startswith("Refused:") and why in answer.error
    assert connections == []


@sent_after_commit
def test_a_private_target_already_saved_is_refused_when_sent(http_only, receiver, thread, connections):
    endpoint = make_endpoint(receiver.url)  # saved while private targets were allowed, say

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")

    assert receiver.requests == [] and connections == []
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == "pending"  # retried later: the setting may be turned on meanwhile
    assert delivery.last_error == "Refused: 127.0.0.1 resolves to 127.0.0.1, a loopback address."


@sent_after_commit
def test_a_name_that_resolves_elsewhere_once_saved_is_refused_when_sent(
    http_only, receiver, thread, connections, monkeypatch
):
    """DNS rebinding: public when the admin saved it, this machine when the webhook is sent."""
    port = receiver.server.server_port
    dns(monkeypatch, {"hooks.shop.example": [["93.184.216.34"], ["127.0.0.1"]]})
    url = f"http://hooks.shop.example:{port}/hooks"
    form = EndpointForm(data={"name": "ERP", "url": url, "event_types": ["conversation.escalated"], "is_active": True})
    assert form.is_valid(), form.errors
    form.instance.secret = "whsec_" + "A" * 44
    form.save()

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")

    assert receiver.requests == [] and connections == []
    assert Delivery.objects.get().last_error == "Refused: hooks.shop.example resolves to 127.0.0.1, a loopback address."


def test_a_name_with_one_private_address_among_public_ones_is_refused(http_only, connections, monkeypatch):
    dns(monkeypatch, {"mixed.shop.example": [["93.184.216.34", "10.1.2.3"]]})

    answer = transport.post("http://mixed.shop.example/hooks", headers={}, body=b"{}")

    assert answer.error == "Refused: mixed.shop.example resolves to 10.1.2.3, a private or reserved address."
    assert connections == []


def test_a_name_that_does_not_resolve_is_refused_on_save(http_only, monkeypatch):
    def nowhere(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nowhere)
    form = EndpointForm(
        data={"name": "x", "url": "https://metadata.google.internal/", "event_types": ["return.requested"]}
    )
    assert not form.is_valid()
    assert "could not be resolved" in form.errors["url"][0]


@sent_after_commit
def test_redirects_are_not_followed(settings, receiver, endpoint, thread):
    receiver.answer(Scripted(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")

    assert len(receiver.requests) == 1  # the redirect's target was never asked
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert delivery.last_error == (
        "Answered 302: redirects are not followed to http://169.254.169.254/latest/meta-data/; "
        "give the endpoint its final URL."
    )


@sent_after_commit
def test_no_proxy_from_the_environment_carries_the_request(receiver, endpoint, thread, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")

    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == "succeeded"


@sent_after_commit
def test_an_answer_is_read_only_up_to_its_cap(settings, receiver, endpoint, thread):
    settings.WEBHOOK_RESPONSE_MAX_BYTES = 2048
    receiver.answer(Scripted(200, body=b"x" * 5_000_000))

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")

    attempt = Delivery.objects.get().attempt_log.get()
    assert attempt.status_code == 200 and attempt.response_excerpt == "x" * transport.EXCERPT_CHARS


@sent_after_commit
def test_an_answer_with_nul_bytes_is_logged_without_them(receiver, endpoint, thread):
    receiver.answer(Scripted(500, body=b"bad\x00\xff answer"))

    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")

    assert Delivery.objects.get().attempt_log.get().response_excerpt == "bad\ufffd\ufffd answer"


@sent_after_commit
def test_private_targets_allowed_by_the_setting_are_reached(receiver, endpoint, thread, settings):
    assert settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    escalate(thread=thread, trigger="customer_request", reason="The customer asked for a person.")
    assert len(receiver.requests) == 1


def test_the_refusal_rule_lets_public_addresses_through():
    for public in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2001:4860:4860::8888"):
        assert addresses.refusal(ipaddress.ip_address(public)) is None
