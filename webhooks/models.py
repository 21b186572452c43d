"""Webhooks: the shop's endpoints, the events sent to them, and the delivery log.

An Event is written once, its body exactly the bytes every endpoint receives; a Delivery is that
event on its way to one endpoint (its id is the `webhook-id` the receiver deduplicates on, the same
on every retry and redelivery), and each DeliveryAttempt is one HTTP request of it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from runtime.ids import new_id
from webhooks import catalog


def new_event_id() -> str:
    return new_id("evt_")


def new_delivery_id() -> str:
    return new_id("dlv_")


class Endpoint(models.Model):
    """A URL of the shop's own systems that receives the events it subscribed to, signed with its secret."""

    name = models.CharField(max_length=100, help_text="What receives these events, e.g. “ERP returns”.")
    url = models.CharField(
        "URL",
        max_length=2000,
        help_text="Where events are POSTed: https (http only with DEBUG or WEBHOOK_ALLOW_HTTP), and never an "
        "address of this network (loopback, private, link-local) unless WEBHOOK_ALLOW_PRIVATE_TARGETS.",
    )
    # Standard Webhooks' serialization: "whsec_" and the key's base64. Stored as it is (an HMAC key
    # cannot be hashed away); shown to the admin once, when it is made.
    secret = models.CharField(max_length=100, editable=False)
    # The secret before the last rotation signs too until then, so the receiver can switch without
    # losing a delivery.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    event_types = models.JSONField(default=list, help_text="The event types this endpoint receives.")
    is_active = models.BooleanField("active", default=True)
    disabled_reason = models.CharField(
        max_length=300, blank=True, help_text="Why Concierge turned this endpoint off (it answered 410 Gone)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in (self.event_types or [])

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets that sign a request now: the current one, and the previous one until it expires."""
        now = now or timezone.now()
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            secrets.append(self.previous_secret)
        return secrets


class Event(models.Model):
    """Something that happened, as the shop's systems read it: `body` is the JSON every endpoint receives."""

    public_id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    type = models.CharField(max_length=40, choices=catalog.CHOICES, db_index=True)
    body = models.TextField(help_text="The exact JSON sent (and signed).")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class Delivery(models.Model):
    """One event on its way to one endpoint: the delivery log's row."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its next attempt (next_attempt_at)
        SENDING = "sending", "Sending"  # claimed by a worker until lease_expires_at
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # attempts used up, or not worth retrying (410 Gone)

    public_id = models.CharField(max_length=40, unique=True, default=new_delivery_id, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    attempt_limit = models.PositiveIntegerField(help_text="Attempts allowed in all (a redelivery allows one more).")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the sweep last handed it to a worker, due: it is not handed out again before a lease has
    # passed (a worker behind on its queue would otherwise find it there many times over).
    queued_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Who asked for the next attempt by hand (a redelivery from the admin); its attempt records it.
    redelivery_requested_by = models.CharField(max_length=150, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_event_endpoint")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhooks_delivery_due")]

    def __str__(self) -> str:
        return self.public_id


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery, and what came of it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    redelivered_by = models.CharField(max_length=150, blank=True, help_text="The admin who asked for it, if one did.")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True, help_text="The beginning of the receiver's answer.")

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery.public_id} #{self.number}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
