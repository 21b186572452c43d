"""Who sees and changes what: Mallory never sees Alice's order, through any endpoint.

Callers: the shop's backend (API key, sees everything), a customer (token, only their own orders),
a staff member (session, sees everything). Anything else is refused.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from orders.models import Order, OrderEvent, Return
from tests.conftest import session_client
from tests.factories import ReturnFactory, UserFactory, delivered_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_return(alice_order):
    return ReturnFactory(item=alice_order.items.get(), quantity=1)


def test_alices_order_reads_to_mallory_exactly_like_a_missing_one(mallory_client, alice, mug):
    before_it_existed = mallory_client.get("/api/orders/A1001/")
    delivered_order(customer=alice, number="A1001", items=[(2, mug)])
    after = mallory_client.get("/api/orders/A1001/")

    assert (before_it_existed.status_code, after.status_code) == (404, 404)
    assert (
        after.json()
        == before_it_existed.json()
        == {
            "error": {
                "type": "not_found_error",
                "code": "not_found",
                "message": "No order A1001 was found.",
                "param": None,
            }
        }
    )


def test_alice_sees_her_own_order(alice_client, alice_order):
    response = alice_client.get("/api/orders/A1001/")

    assert response.status_code == 200
    assert response.json()["number"] == "A1001"
    assert response.json()["customer_email"] == "alice@example.com"


def test_mallorys_order_list_holds_only_her_orders(mallory_client, alice_order, mallory_order):
    response = mallory_client.get("/api/orders/")

    assert response.status_code == 200
    assert [order["number"] for order in response.json()["results"]] == ["M2001"]
    assert response.json()["count"] == 1


def test_mallory_cannot_find_alices_order_by_filtering(mallory_client, alice_order):
    response = mallory_client.get("/api/orders/", {"status": "delivered"})

    assert response.json()["count"] == 0
    assert response.json()["results"] == []


def test_mallorys_return_list_holds_none_of_alices_returns(mallory_client, alice_return, mallory_order):
    own = ReturnFactory(item=mallory_order.items.get())

    response = mallory_client.get("/api/returns/")

    assert response.status_code == 200
    assert [ret["id"] for ret in response.json()["results"]] == [own.pk]


def test_alices_return_reads_to_mallory_as_not_found(mallory_client, alice_return):
    response = mallory_client.get(f"/api/returns/{alice_return.pk}/")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "not_found_error",
        "code": "not_found",
        "message": f"No return {alice_return.pk} was found.",
        "param": None,
    }


def test_alice_sees_her_own_return(alice_client, alice_return):
    response = alice_client.get(f"/api/returns/{alice_return.pk}/")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["order"]) == (alice_return.pk, "A1001")


def test_mallory_cannot_open_a_return_on_alices_order(mallory_client, alice_order):
    item = alice_order.items.get()
    body = {"order": "A1001", "item": str(item.pk), "reason": "defective"}

    response = mallory_client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="sneaky")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No order A1001 was found."
    assert not Return.objects.exists()
    assert not OrderEvent.objects.exists()


def test_mallory_cannot_cancel_alices_order(mallory_client, alice):
    order = Order.objects.create(number="A1002", customer=alice, status=Order.Status.PLACED)

    response = mallory_client.post("/api/orders/A1002/cancel/", {}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No order A1002 was found."
    order.refresh_from_db()
    assert (order.status, order.cancelled_at) == (Order.Status.PLACED, None)


@pytest.mark.parametrize("action", ["approve", "reject", "receive", "refund"])
def test_mallory_cannot_decide_on_alices_return(mallory_client, alice_return, action):
    response = mallory_client.post(f"/api/returns/{alice_return.pk}/{action}/", {}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Return.objects.get().status == Return.Status.REQUESTED


def test_the_shop_sees_every_customers_orders(shop_client, alice_order, mallory_order):
    listing = shop_client.get("/api/orders/")
    detail = shop_client.get("/api/orders/A1001/")

    assert sorted(order["number"] for order in listing.json()["results"]) == ["A1001", "M2001"]
    assert detail.status_code == 200


def test_the_shop_sees_every_customers_returns(shop_client, alice_return, mallory_order):
    mallorys = ReturnFactory(item=mallory_order.items.get())

    response = shop_client.get("/api/returns/")

    assert sorted(ret["id"] for ret in response.json()["results"]) == sorted([alice_return.pk, mallorys.pk])


def test_staff_sees_every_customers_orders(staff_client, alice_order, mallory_order):
    response = staff_client.get("/api/orders/")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_a_signed_in_user_who_is_not_staff_is_refused(alice_order):
    client = session_client(UserFactory(username="someone", is_staff=False))

    listing = client.get("/api/orders/")
    detail = client.get("/api/orders/A1001/")

    assert (listing.status_code, detail.status_code) == (403, 403)
    assert listing.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/orders/"),
        ("get", "/api/orders/A1001/"),
        ("get", "/api/returns/"),
        ("post", "/api/returns/"),
        ("post", "/api/orders/A1001/cancel/"),
        ("post", "/api/customer-tokens/"),
    ],
)
def test_an_anonymous_caller_is_asked_to_authenticate(alice_order, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["type"] == "authentication_error"
    assert Order.objects.get().status == Order.Status.DELIVERED


@pytest.mark.parametrize("token", ["ck_not-a-real-key", "ct_not-a-real-token", "something-else"])
def test_a_wrong_bearer_token_is_refused_with_401(alice_order, token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get("/api/orders/A1001/")

    assert response.status_code == 401
    assert response.json()["error"] == {
        "type": "authentication_error",
        "code": "invalid_api_key",
        "message": "Invalid API key or token.",
        "param": None,
    }


def test_a_customer_cannot_mint_tokens(mallory_client, alice):
    response = mallory_client.post("/api/customer-tokens/", {"email": "alice@example.com"}, format="json")

    assert response.status_code == 403
    assert "token" not in response.json()
