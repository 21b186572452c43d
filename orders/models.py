"""The shop's domain: customers, products, orders, shipments and returns.

Rows here change only through orders.services; models hold data and the guards that read it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone

MONEY = {"max_digits": 12, "decimal_places": 2}


class Customer(models.Model):
    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        PREMIUM = "premium", "Premium"

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200)
    external_id = models.CharField(
        max_length=100, unique=True, null=True, blank=True, help_text="The customer's id in the shop's own system."
    )
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.STANDARD)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


class Product(models.Model):
    sku = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    returnable = models.BooleanField(default=True)
    return_window_days = models.PositiveIntegerField(default=30)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Order(models.Model):
    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        PAID = "paid", "Paid"
        FULFILLED = "fulfilled", "Fulfilled"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    CANCELLABLE = (Status.PLACED, Status.PAID)
    RETURNABLE = (Status.DELIVERED,)

    number = models.CharField(max_length=20, unique=True, help_text="The public order number, e.g. A1001.")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLACED, db_index=True)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(**MONEY, default=Decimal("0"))
    shipping_total = models.DecimalField(**MONEY, default=Decimal("0"))
    tax_total = models.DecimalField(**MONEY, default=Decimal("0"))
    total = models.DecimalField(**MONEY, default=Decimal("0"))
    placed_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]

    def __str__(self) -> str:
        return self.number

    def can_cancel(self) -> bool:
        return self.status in self.CANCELLABLE

    def accepts_returns(self) -> bool:
        return self.status in self.RETURNABLE

    @property
    def latest_shipment(self) -> Shipment | None:
        return self.shipments.order_by("-shipped_at", "-id").first()


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=40, help_text="The product's SKU when ordered.")
    name = models.CharField(max_length=200, help_text="The product's name when ordered.")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity

    def returned_quantity(self) -> int:
        """Units already claimed by returns that are not rejected."""
        claimed = self.returns.exclude(status=Return.Status.REJECTED).aggregate(n=Sum("quantity"))["n"]
        return claimed or 0

    def returnable_quantity(self) -> int:
        return self.quantity - self.returned_quantity()

    def return_deadline(self):
        if self.order.delivered_at is None:
            return None
        return self.order.delivered_at + timedelta(days=self.product.return_window_days)


class Shipment(models.Model):
    class Status(models.TextChoices):
        LABEL_CREATED = "label_created", "Label created"
        IN_TRANSIT = "in_transit", "In transit"
        OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
        DELIVERED = "delivered", "Delivered"
        EXCEPTION = "exception", "Delivery problem"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(max_length=50)
    tracking_number = models.CharField(max_length=60, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.LABEL_CREATED)
    shipped_at = models.DateTimeField(null=True, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-shipped_at", "-id"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class TrackingEvent(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Shipment.Status.choices)
    location = models.CharField(max_length=120, blank=True)
    description = models.CharField(max_length=255)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.description}"


class Return(models.Model):
    class Reason(models.TextChoices):
        DEFECTIVE = "defective", "Defective"
        WRONG_ITEM = "wrong_item", "Wrong item"
        NOT_NEEDED = "not_needed", "Not needed"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        RECEIVED = "received", "Received"
        REFUNDED = "refunded", "Refunded"

    class Channel(models.TextChoices):
        API = "api", "API"
        ASSISTANT = "assistant", "Assistant"
        AGENT = "agent", "Agent"
        ADMIN = "admin", "Admin"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    item = models.ForeignKey(OrderItem, on_delete=models.PROTECT, related_name="returns")
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    refund_amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    decision_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="return_quantity_positive")]

    def __str__(self) -> str:
        return f"Return #{self.pk} for {self.order.number}"


class OrderEvent(models.Model):
    """The audit trail: one row for every change made through orders.services."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40)
    actor = models.CharField(max_length=120, help_text="Who made the change, e.g. 'customer:7' or 'staff:alice'.")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order.number} {self.kind} by {self.actor}"


class IdempotencyKey(models.Model):
    """A stored result for one (scope, key): see orders.idempotency."""

    scope = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    # The response's JSON text exactly as it was first sent: a replay sends these very bytes (a
    # jsonb column would hand the keys back in its own order).
    response_body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique_in_scope")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class VerifiedOrder(models.Model):
    """An order proven in a conversation (its email matched), so the assistant's tools may act on it
    there (orders.assistant.proofs)."""

    thread = models.ForeignKey("support.Thread", on_delete=models.CASCADE, related_name="verified_orders")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    verified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The table it had when the runtime kept it: moving the model moved no rows.
        db_table = "support_verifiedorder"
        constraints = [models.UniqueConstraint(fields=["thread", "order"], name="verified_order_once_per_thread")]

    def __str__(self) -> str:
        return f"{self.order} verified in {self.thread}"
