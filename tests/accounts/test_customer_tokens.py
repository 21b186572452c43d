"""POST /api/customer-tokens/: the shop mints a token that sees only one customer's orders."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.core import signing
from rest_framework.test import APIClient

from orders.tokens import _SALT, TOKEN_PREFIX, customer_id_from_token, issue_customer_token
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


class _SignedLongAgo(signing.TimestampSigner):
    """Signs as if it were `age` seconds ago (the token format's own clock, not a mock)."""

    def __init__(self, *, age: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.age = age

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - self.age)


def test_the_shop_mints_a_token_by_email(shop_client, alice):
    response = shop_client.post("/api/customer-tokens/", {"email": "Alice@Example.com"}, format="json")

    assert response.status_code == 201
    assert response.json()["customer_email"] == "alice@example.com"
    assert response.json()["token"].startswith("ct_")
    assert customer_id_from_token(response.json()["token"]) == alice.pk


def test_the_shop_mints_a_token_by_its_own_customer_id(shop_client, alice):
    response = shop_client.post("/api/customer-tokens/", {"external_id": "cust-alice"}, format="json")

    assert response.status_code == 201
    assert customer_id_from_token(response.json()["token"]) == alice.pk


def test_staff_can_mint_a_token(staff_client, alice):
    response = staff_client.post("/api/customer-tokens/", {"email": "alice@example.com"}, format="json")

    assert response.status_code == 201


def test_a_minted_token_sees_only_its_customers_orders(shop_client, alice_order, mallory_order):
    token = shop_client.post("/api/customer-tokens/", {"email": "alice@example.com"}, format="json").json()["token"]
    alice = client_with(token)

    listing = alice.get("/api/orders/")
    mallorys = alice.get("/api/orders/M2001/")

    assert [order["number"] for order in listing.json()["results"]] == ["A1001"]
    assert mallorys.status_code == 404


def test_an_unknown_customer_is_not_found(shop_client, alice):
    response = shop_client.post("/api/customer-tokens/", {"email": "nobody@example.com"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "not_found_error",
        "code": "not_found",
        "message": "No such customer.",
        "param": None,
    }


@pytest.mark.parametrize("body", [{}, {"email": "alice@example.com", "external_id": "cust-alice"}])
def test_exactly_one_of_email_or_external_id_is_required(shop_client, alice, body):
    response = shop_client.post("/api/customer-tokens/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Give exactly one of email or external_id."
    assert "token" not in response.json()


def test_a_malformed_email_is_refused(shop_client, alice):
    response = shop_client.post("/api/customer-tokens/", {"email": "not-an-email"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "email"


def test_a_customer_token_cannot_mint_tokens(alice_client, mallory):
    response = alice_client.post("/api/customer-tokens/", {"email": "mallory@example.com"}, format="json")

    assert response.status_code == 403
    assert "token" not in response.json()


def test_an_expired_token_is_refused(alice, alice_order):
    max_age = settings.CUSTOMER_TOKEN_MAX_AGE_SECONDS
    signer = _SignedLongAgo(age=max_age + 60, salt=_SALT)
    expired = TOKEN_PREFIX + signer.sign_object({"customer": alice.pk}, compress=True)

    response = client_with(expired).get("/api/orders/A1001/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_token_just_inside_its_lifetime_still_works(alice, alice_order):
    max_age = settings.CUSTOMER_TOKEN_MAX_AGE_SECONDS
    signer = _SignedLongAgo(age=max_age - 60, salt=_SALT)
    old = TOKEN_PREFIX + signer.sign_object({"customer": alice.pk}, compress=True)

    response = client_with(old).get("/api/orders/A1001/")

    assert response.status_code == 200


def test_a_token_rewritten_to_another_customer_is_refused(alice, mallory, mallory_order):
    token = issue_customer_token(alice.pk)
    forged = TOKEN_PREFIX + signing.dumps({"customer": mallory.pk}, salt="another purpose", compress=True)

    response = client_with(forged).get("/api/orders/M2001/")

    assert client_with(token).get("/api/orders/M2001/").status_code == 404
    assert response.status_code == 401


def test_a_token_with_a_changed_signature_is_refused(alice, alice_order):
    token = issue_customer_token(alice.pk)
    tampered = token[:-2] + ("xx" if not token.endswith("xx") else "yy")

    response = client_with(tampered).get("/api/orders/A1001/")

    assert response.status_code == 401


def test_a_token_for_a_deleted_customer_is_refused():
    gone = CustomerFactory(email="gone@example.com")
    token = issue_customer_token(gone.pk)
    gone.delete()

    response = client_with(token).get("/api/orders/")

    assert response.status_code == 401
