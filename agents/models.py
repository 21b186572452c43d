"""The human side of a conversation: escalations (with their AI summary), notes, canned replies, tags,
and the audit of changes supervisors make to the assistant from the console."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Escalation(models.Model):
    class Trigger(models.TextChoices):
        MODEL_TOOL = "model_tool", "The assistant asked for a person"
        CUSTOMER_REQUEST = "customer_request", "The customer asked for a person"
        REPEATED_FAILURES = "repeated_failures", "Repeated failures"
        FRUSTRATION = "frustration", "Customer frustration"
        SUPERVISOR = "supervisor", "Picked by a supervisor"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for an agent"
        ASSIGNED = "assigned", "Assigned"
        RESOLVED = "resolved", "Resolved"
        HANDED_BACK = "handed_back", "Handed back to the assistant"

    OPEN = (Status.WAITING, Status.ASSIGNED)
    PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}

    thread = models.ForeignKey("support.Thread", on_delete=models.CASCADE, related_name="escalations")
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    reason = models.TextField()
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    priority_rank = models.PositiveSmallIntegerField(default=2, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING, db_index=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations"
    )
    sla_due_at = models.DateTimeField(help_text="When a person should have joined (the wait-time target).")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_human_reply_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    handed_back_at = models.DateTimeField(null=True, blank=True)
    # The AI summary (runtime.summaries.SUMMARY_SCHEMA), written and refreshed by a task.
    summary = models.JSONField(null=True, blank=True)
    summary_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority_rank", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["thread"],
                condition=Q(status__in=["waiting", "assigned"]),
                name="one_open_escalation_per_thread",
            )
        ]

    def __str__(self) -> str:
        return f"Escalation #{self.pk} ({self.get_trigger_display()})"

    def save(self, *args, **kwargs):
        self.priority_rank = self.PRIORITY_RANK.get(self.priority, 2)
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @staticmethod
    def sla_for(priority: str):
        minutes = settings.ESCALATION_SLA_MINUTES.get(priority, settings.ESCALATION_SLA_MINUTES["normal"])
        return timezone.now() + timedelta(minutes=minutes)


class InternalNote(models.Model):
    """A note agents leave on a conversation; never shown to the customer."""

    thread = models.ForeignKey("support.Thread", on_delete=models.CASCADE, related_name="internal_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note by {self.author} on {self.thread}"


class CannedReply(models.Model):
    title = models.CharField(max_length=100, unique=True)
    text = models.TextField()

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title


class ConversationTag(models.Model):
    """A label agents put on a conversation ("refund", "vip"), to find it again and filter the inbox by.

    Names are stored lowercased and trimmed (agents.services.tag_name), so "VIP" and "vip" are one tag.
    """

    thread = models.ForeignKey("support.Thread", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40, db_index=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["thread", "name"], name="tag_once_per_thread")]

    def __str__(self) -> str:
        return self.name


class AssistantChange(models.Model):
    """One change to an assistant's instructions or tools made on the console's settings page: who,
    when, the value before and after. Kept when the assistant or the user is deleted (the names stay)."""

    class Field(models.TextChoices):
        INSTRUCTIONS = "instructions", "Instructions"
        TOOLS = "tools", "Tools"

    assistant = models.ForeignKey(
        "support.Assistant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assistant_public_id = models.CharField(max_length=40)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_by_name = models.CharField(max_length=150)
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    field = models.CharField(max_length=20, choices=Field.choices)
    before = models.JSONField()
    after = models.JSONField()

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_field_display()} of {self.assistant_public_id} by {self.changed_by_name}"
