"""Every error of /api/ has one shape: {"error": {"type", "code", "message", "param"}}."""

from __future__ import annotations

import pytest

from orders.models import Return
from tests.factories import ReturnFactory, delivered_order

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, type_: str, code: str, param=None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert {"type", "code", "message", "param"} <= error.keys()
    assert (error["type"], error["code"], error["param"]) == (type_, code, param)
    assert error["message"]
    return error


def test_an_invalid_field_is_a_400_naming_the_field(alice_client, alice_order):
    body = {"order": "A1001", "item": "MUG-1", "reason": "bored"}

    response = alice_client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    error = assert_error(response, 400, "invalid_request_error", "invalid_request", param="reason")
    assert error["message"] == 'reason: "bored" is not a valid choice.'
    assert error["details"] == {"reason": ['"bored" is not a valid choice.']}
    assert not Return.objects.exists()


def test_a_missing_field_is_a_400_naming_the_field(alice_client, alice_order):
    response = alice_client.post(
        "/api/returns/", {"order": "A1001", "reason": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert_error(response, 400, "invalid_request_error", "invalid_request", param="item")


def test_a_quantity_below_one_is_a_400(alice_client, alice_order):
    body = {"order": "A1001", "item": "MUG-1", "reason": "other", "quantity": 0}

    response = alice_client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert_error(response, 400, "invalid_request_error", "invalid_request", param="quantity")
    assert not Return.objects.exists()


def test_a_body_that_is_not_json_is_a_400(alice_client, alice_order):
    response = alice_client.post(
        "/api/returns/", "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert_error(response, 400, "invalid_request_error", "parse_error")


def test_giving_both_email_and_external_id_is_a_400_without_a_field(shop_client, alice):
    response = shop_client.post(
        "/api/customer-tokens/", {"email": "alice@example.com", "external_id": "cust-alice"}, format="json"
    )

    error = assert_error(response, 400, "invalid_request_error", "invalid_request")
    assert error["message"] == "Give exactly one of email or external_id."


def test_an_unknown_status_filter_is_a_400_not_an_empty_list(alice_client, alice_order):
    response = alice_client.get("/api/orders/", {"status": "deliverd"})

    error = assert_error(response, 400, "invalid_request_error", "invalid_request", param="status")
    assert "delivered" in error["message"]


def test_an_unknown_return_status_filter_is_a_400(alice_client, alice_order):
    response = alice_client.get("/api/returns/", {"status": "pending"})

    assert_error(response, 400, "invalid_request_error", "invalid_request", param="status")


def test_a_missing_order_is_a_404(alice_client):
    response = alice_client.get("/api/orders/Z9999/")

    error = assert_error(response, 404, "not_found_error", "not_found")
    assert error["message"] == "No order Z9999 was found."


@pytest.mark.parametrize("return_id", ["999999", "abc"])
def test_a_missing_return_is_a_404(alice_client, return_id):
    response = alice_client.get(f"/api/returns/{return_id}/")

    assert_error(response, 404, "not_found_error", "not_found")


def test_a_wrong_method_is_a_405(alice_client, alice_order):
    response = alice_client.delete("/api/orders/A1001/")

    error = assert_error(response, 405, "invalid_request_error", "method_not_allowed")
    assert error["message"] == 'Method "DELETE" not allowed.'


def test_missing_credentials_are_a_401(client):
    response = client.get("/api/orders/")

    error = assert_error(response, 401, "authentication_error", "not_authenticated")
    assert error["message"] == "Authentication credentials were not provided."


def test_a_customer_doing_the_shops_work_is_a_403(alice_client, alice):
    response = alice_client.post("/api/customer-tokens/", {"email": "alice@example.com"}, format="json")

    error = assert_error(response, 403, "permission_error", "permission_denied")
    assert error["message"] == "Only the shop's staff or backend can do this."


def test_a_broken_rule_is_a_422_with_a_message_for_the_customer(alice_client, alice):
    order = delivered_order(customer=alice, days_ago=40)
    body = {"order": order.number, "item": str(order.items.get().pk), "reason": "other"}

    response = alice_client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    error = assert_error(response, 422, "invalid_request_error", "return_not_allowed")
    assert "return window" in error["message"]


def test_a_transition_from_the_wrong_state_is_a_409(shop_client, alice_order):
    ret = ReturnFactory(item=alice_order.items.get())

    response = shop_client.post(f"/api/returns/{ret.pk}/receive/")

    assert_error(response, 409, "conflict_error", "invalid_state")
