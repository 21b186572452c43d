"""Hostile input to the endpoint form: every bad URL is refused with a reason, nothing is saved."""

from __future__ import annotations

import pytest
from django.urls import reverse

from webhooks.forms import EndpointForm
from webhooks.models import Endpoint

ADD = reverse("admin:webhooks_endpoint_add")


def form(url: str, **fields) -> EndpointForm:
    return EndpointForm(data={"name": "ERP", "url": url, "event_types": ["return.requested"], **fields})


@pytest.fixture
def https_only(settings):
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("javascript:alert(1)", "The URL must start with https://."),
        ("file:///etc/passwd", "The URL must start with https://."),
        ("ftp://files.example.com/x", "The URL must start with https://."),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "The URL must start with https://."),
        ("data:text/plain,hi", "The URL must start with https://."),
        ("//example.com/hooks", "The URL must start with https://."),
        ("example.com/hooks", "The URL must start with https://."),
        (
            "http://93.184.216.34/hooks",
            "The URL must start with https:// (http:// only with DEBUG or WEBHOOK_ALLOW_HTTP).",
        ),
        ("https://user:pass@93.184.216.34/", "A URL with a user name or password is refused"),
        ("https://93.184.216.34/a b", "A URL has no spaces or control characters."),
        ("https://93.184.216.34/\r\nX-Injected: 1", "A URL has no spaces or control characters."),
        ("https://93.184.216.34/a\tb", "A URL has no spaces or control characters."),
        ("https://93.184.216.34/\x7f", "A URL has no spaces or control characters."),
        ("https://93.184.216.34:99999/", "This is not a valid URL"),
        ("https://93.184.216.34:0/", "The URL's port must be between 1 and 65535."),
        ("https://[::1/", "This is not a valid URL"),
        ("https:///hooks", "The URL has no host."),
        ("https://93.184.216.34/r\u00fcckgabe", "Percent-encode the characters"),
        ("https://93.184.216.34/\ud800", "Percent-encode the characters"),
        ("https://\ud800.example/", "The URL's host is not a valid domain name."),
        ("https://" + "a" * 2000 + ".example/", "at most 2000 characters"),
        ("https://127.0.0.1/", "a loopback address"),
        ("https://169.254.169.254/", "link-local"),
    ],
)
def test_a_bad_url_is_refused_with_its_reason(https_only, url, error):
    refused = form(url)
    assert not refused.is_valid()
    assert error in refused.errors["url"][0]


def test_nul_bytes_are_refused_by_the_form(https_only):
    refused = form("https://93.184.216.34/ho\x00oks", name="E\x00RP")
    assert not refused.is_valid()
    assert "Null characters are not allowed." in refused.errors["name"][0]
    assert "Null characters are not allowed." in refused.errors["url"][0]


def test_an_unknown_event_type_or_none_is_refused(https_only):
    assert "event_types" in form("https://93.184.216.34/", event_types=["user.deleted"]).errors
    assert "event_types" in form("https://93.184.216.34/", event_types=[]).errors


def test_a_good_public_https_url_is_accepted(https_only):
    assert form("https://93.184.216.34:8443/hooks/concierge?source=support").is_valid()


@pytest.mark.django_db
def test_the_admin_refuses_a_nul_byte_before_any_form_reads_it(admin_client):
    response = admin_client.post(
        ADD, {"name": "ERP", "url": "https://93.184.216.34/\x00", "event_types": ["return.requested"]}
    )
    assert response.status_code == 400
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_the_admin_shows_the_reason_and_saves_nothing(admin_client, https_only):
    response = admin_client.post(
        ADD, {"name": "ERP", "url": "javascript:alert(document.cookie)", "event_types": ["return.requested"]}
    )
    assert response.status_code == 200
    assert "The URL must start with https://." in response.content.decode()
    assert not Endpoint.objects.exists()
