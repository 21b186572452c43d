"""Shared fixtures: a pair of named customers used across the suite.

Alice owns order A1001; Mallory is a customer who must never see it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections
from rest_framework.test import APIClient

from accounts.models import ApiKey
from orders.tokens import issue_customer_token
from tests.factories import CustomerFactory, ProductFactory, UserFactory, delivered_order


@pytest.fixture(scope="session", autouse=True)
def uploads_out_of_the_checkout(tmp_path_factory):
    """Uploads (knowledge files) of every test, the live servers' included, land in a temporary
    directory, never in the checkout's media/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, and on teardown nothing left holding it: PostgreSQL refuses to drop a
    database with open sessions. Connections still checked out of the pool by threads that tests
    started and never closed are ended server-side; then the pools are closed."""
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()


@pytest.fixture
def alice(db):
    return CustomerFactory(name="Alice Example", email="alice@example.com", external_id="cust-alice")


@pytest.fixture
def mallory(db):
    return CustomerFactory(name="Mallory Other", email="mallory@example.com", external_id="cust-mallory")


@pytest.fixture
def mug(db):
    return ProductFactory(sku="MUG-1", name="Ceramic Mug", price=Decimal("12.50"))


@pytest.fixture
def alice_order(alice, mug):
    """A1001: delivered 3 days ago, two mugs."""
    return delivered_order(customer=alice, number="A1001", items=[(2, mug)])


@pytest.fixture
def api_key(db):
    owner = UserFactory(username="shop-backend")
    _, raw = ApiKey.issue(owner=owner, name="test backend")
    return raw


@pytest.fixture
def shop_client(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


def customer_client(customer) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_customer_token(customer.pk)}")
    return client


@pytest.fixture
def alice_client(alice):
    return customer_client(alice)


@pytest.fixture
def mallory_client(mallory):
    return customer_client(mallory)


@pytest.fixture
def staff_user(db):
    return UserFactory(username="agent", is_staff=True)


def session_client(user) -> APIClient:
    """An APIClient signed in as `user` with a session, as the console's browser is."""
    # UserFactory skips its post-generation save, so the password it set is only in memory; the
    # session's hash is checked against the database's, so store it first.
    user.save(update_fields=["password"])
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(staff_user):
    """A support agent signed in to the console (a staff session)."""
    return session_client(staff_user)


@pytest.fixture
def mallory_order(mallory):
    """M2001: Mallory's own delivered order, one item."""
    return delivered_order(customer=mallory, number="M2001")
