"""The demo shop is a demo: off in production, nothing there signs an identity for anyone.

With the demo on, `GET /?customer=bob@example.com` signs Bob's email with the widget's identity
secret for whoever asks (that is how a visitor chats as Bob in the demo). In production that page
was a signing oracle: the signature opens a chat as Bob, even where identity is mandatory.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from orders.models import Customer
from tests.factories import CustomerFactory, delivered_order
from tests.test_settings import PRODUCTION, manage
from widget import sessions

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings):
    """The settings of a deployment (DEBUG=false, DEMO_SHOP unset): the demo is off."""
    settings.DEMO_SHOP = False
    settings.WIDGET_IDENTITY_SECRET = "the-shops-real-secret"
    settings.WIDGET_REQUIRE_IDENTITY = True
    return settings


@pytest.fixture
def bob(db):
    bob = CustomerFactory(name="Bob Example", email="bob@example.com")
    delivered_order(customer=bob, number="A1110")
    return bob


def test_the_front_page_signs_nobody_in_production(production, bob):
    response = Client().get("/", {"customer": "bob@example.com"})
    page = response.content.decode()

    assert response.status_code == 302 and response["Location"] == "/console/"
    assert sessions.identity_signature("bob@example.com") not in page
    assert "A1110" not in page and "bob@example.com" not in page


def test_the_demo_page_still_signs_in_the_demo(settings, bob):
    settings.DEMO_SHOP = True

    page = Client().get("/", {"customer": "bob@example.com"}).content.decode()

    assert f'data-signature="{sessions.identity_signature("bob@example.com")}"' in page


def test_seed_demo_refuses_to_run_when_the_demo_is_off(production):
    with pytest.raises(CommandError, match="published passwords"):
        call_command("seed_demo")

    assert not Customer.objects.exists()


def test_seed_demo_runs_when_forced(production):
    call_command("seed_demo", force=True, stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert Customer.objects.filter(email="alice@example.com").exists()


def test_a_production_environment_turns_the_demo_off_and_seed_demo_refuses():
    done = manage("seed_demo", **PRODUCTION)

    assert done.returncode != 0
    assert "the demo is off here" in done.stderr


def test_the_deploy_check_warns_while_the_demo_shop_is_on():
    done = manage("check", "--deploy", DEMO_SHOP="true", **PRODUCTION)

    assert "concierge.W001" in done.stderr + done.stdout
    assert "DEMO_SHOP is on" in done.stderr + done.stdout
