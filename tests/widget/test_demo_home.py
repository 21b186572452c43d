from __future__ import annotations

import re

import pytest

from tests.factories import CustomerFactory, ShipmentFactory, TrackingEventFactory, delivered_order

pytestmark = pytest.mark.django_db


def visible_text(page: str) -> str:
    """The page's text as a reader sees it: tags removed, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


@pytest.fixture
def mallory_order(mallory):
    return delivered_order(customer=mallory, number="M2001")


def test_it_lists_the_demo_customers(client, alice, mallory):
    page = client.get("/").content.decode()

    assert '<option value="alice@example.com">Alice Example (alice@example.com)</option>' in page
    assert '<option value="mallory@example.com">Mallory Other (mallory@example.com)</option>' in page
    assert "Order " not in page


def test_it_shows_only_the_chosen_customers_orders(client, alice_order, mallory_order):
    page = client.get("/", {"customer": "alice@example.com"}).content.decode()

    assert "Orders for Alice Example" in page
    assert "Order A1001" in page
    assert "2 \N{MULTIPLICATION SIGN} Ceramic Mug 25.00 USD" in visible_text(page)
    assert f"{alice_order.total} USD" in page
    assert "M2001" not in page
    assert '<option value="alice@example.com" selected>' in page


def test_it_summarizes_an_orders_shipment_tracking(client, alice_order):
    shipment = ShipmentFactory(order=alice_order, carrier="FedEx", tracking_number="771234567890")
    TrackingEventFactory(shipment=shipment, location="Memphis, TN", description="Arrived at carrier facility")

    page = client.get("/", {"customer": "alice@example.com"}).content.decode()

    assert "FedEx 771234567890 : In transit" in visible_text(page)
    assert "Latest: Arrived at carrier facility, Memphis, TN" in visible_text(page)


def test_it_escapes_html_in_a_customers_name(client):
    CustomerFactory(name="<script>alert('x')</script>", email="eve@example.com")

    listing = client.get("/").content.decode()
    chosen = client.get("/", {"customer": "eve@example.com"}).content.decode()

    for page in (listing, chosen):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_it_escapes_an_unknown_customer_email_it_repeats(client, alice):
    page = client.get("/", {"customer": '"><b>nobody</b>'}).content.decode()

    assert "There is no demo customer with the email" in page
    assert "&quot;&gt;&lt;b&gt;nobody&lt;/b&gt;" in page
    assert "<b>nobody</b>" not in page


def test_it_links_to_the_console_admin_and_api_docs(client):
    page = client.get("/").content.decode()

    for link in ("/console/", "/admin/", "/api/docs/"):
        assert f'href="{link}"' in page
