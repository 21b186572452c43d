"""factory_boy factories for the shop's domain."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from orders.models import Customer, Order, OrderItem, Product, Return, Shipment, TrackingEvent


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@shop.test")
    password = factory.django.Password("pw")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ["email"]

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("25.00")
    returnable = True
    return_window_days = 30


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"T{5000 + n}")
    customer = factory.SubFactory(CustomerFactory)
    status = Order.Status.PLACED
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))


def delivered_order(*, customer: Customer, days_ago: int = 3, items=((1, None),), number: str | None = None) -> Order:
    """A delivered order with one OrderItem per (quantity, product) pair (a new product where None)."""
    extra = {"number": number} if number else {}
    order = OrderFactory(
        customer=customer,
        status=Order.Status.DELIVERED,
        delivered_at=timezone.now() - timedelta(days=days_ago),
        **extra,
    )
    total = Decimal("0")
    for quantity, product in items:
        product = product or ProductFactory()
        OrderItemFactory(order=order, product=product, quantity=quantity)
        total += product.price * quantity
    order.subtotal = order.total = total
    order.save()
    return order


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.SelfAttribute("product.sku")
    name = factory.SelfAttribute("product.name")
    quantity = 1
    unit_price = factory.SelfAttribute("product.price")


class ShipmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory)
    carrier = "UPS"
    tracking_number = factory.Sequence(lambda n: f"1Z999AA1{n:08d}")
    status = Shipment.Status.IN_TRANSIT
    shipped_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=2))


class TrackingEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackingEvent

    shipment = factory.SubFactory(ShipmentFactory)
    occurred_at = factory.LazyFunction(timezone.now)
    status = Shipment.Status.IN_TRANSIT
    location = "Memphis, TN"
    description = "Departed facility"


class ReturnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Return

    item = factory.SubFactory(OrderItemFactory)
    order = factory.SelfAttribute("item.order")
    quantity = 1
    reason = Return.Reason.DEFECTIVE
    refund_amount = factory.SelfAttribute("item.unit_price")
    currency = "USD"
    channel = Return.Channel.API
