import pytest

pytestmark = pytest.mark.django_db


def test_customer_sees_own_order(alice_client, alice_order):
    response = alice_client.get("/api/orders/A1001/")
    assert response.status_code == 200
    assert response.json()["number"] == "A1001"


def test_other_customer_gets_not_found(mallory_client, alice_order):
    response = mallory_client.get("/api/orders/A1001/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_return_is_created_once_per_key(alice_client, alice_order):
    item = alice_order.items.get()
    body = {"order": "A1001", "item": str(item.pk), "reason": "defective"}
    first = alice_client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    second = alice_client.post("/api/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201, first.json()
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert item.returns.count() == 1
