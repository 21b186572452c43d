"""The assistant runtime's concepts, after OpenAI's Assistants API (v2).

Assistant → Thread (a conversation) → Message (append-only) and Run (one execution, a state
machine) → RunStep (each model response and its tool calls) → ToolCall (one call, with timing).
Public ids carry the API's prefixes, so /v1 serves them unchanged.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from runtime import ids


class Assistant(models.Model):
    """A configured persona: model, instructions and tools.

    `tools` holds Assistants-format tools; every `function` there is client-side (the run stops in
    `requires_action` for whoever created the assistant). `server_tools` names tools registered in
    code (runtime.tools.registry) that run on the server. A name may not be in both.
    """

    public_id = models.CharField(max_length=40, unique=True, default=ids.new_assistant_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assistants",
        help_text="The API key owner who created it through /v1; empty for the shop's own assistants.",
    )
    name = models.CharField(max_length=256, blank=True)
    description = models.CharField(max_length=512, blank=True)
    model = models.CharField(max_length=100)
    instructions = models.TextField(blank=True)
    tools = models.JSONField(default=list, blank=True)
    server_tools = models.JSONField(default=list, blank=True)
    tool_resources = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    response_format = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name or self.public_id


class Thread(models.Model):
    class Mode(models.TextChoices):
        ASSISTANT = "assistant", "Assistant answers"
        WAITING_HUMAN = "waiting_human", "Waiting for a human"
        HUMAN = "human", "A human answers"
        CLOSED = "closed", "Closed"

    public_id = models.CharField(max_length=40, unique=True, default=ids.new_thread_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="threads"
    )
    assistant = models.ForeignKey(
        Assistant,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="threads",
        help_text="The assistant that answers this conversation in the widget.",
    )
    customer = models.ForeignKey(
        "orders.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="threads",
        help_text="Set only from a verified identity (the shop's signature), never from what a model says.",
    )
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.ASSISTANT, db_index=True)
    metadata = models.JSONField(default=dict, blank=True)
    tool_resources = models.JSONField(default=dict, blank=True)
    # Older turns compacted into a summary when the thread outgrew the prompt budget.
    compacted_summary = models.TextField(blank=True)
    compacted_until = models.DateTimeField(null=True, blank=True)
    failed_lookups = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.public_id


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class Author(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        ASSISTANT = "assistant", "Assistant"
        AGENT = "agent", "Human agent"
        API = "api", "API caller"

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        INCOMPLETE = "incomplete", "Incomplete"
        COMPLETED = "completed", "Completed"

    public_id = models.CharField(max_length=40, unique=True, default=ids.new_message_id, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=20, choices=Role.choices)
    author = models.CharField(max_length=20, choices=Author.choices)
    author_name = models.CharField(max_length=150, blank=True)
    content = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    incomplete_details = models.JSONField(null=True, blank=True)
    assistant = models.ForeignKey(Assistant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    run = models.ForeignKey("Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    attachments = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    incomplete_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.public_id

    @property
    def text(self) -> str:
        return "".join(part["text"]["value"] for part in self.content if part.get("type") == "text")


def default_tool_choice() -> str:
    return "auto"


class RunQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=Run.ACTIVE)


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "In progress"
        REQUIRES_ACTION = "requires_action", "Requires action"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"
        COMPLETED = "completed", "Completed"
        INCOMPLETE = "incomplete", "Incomplete"
        EXPIRED = "expired", "Expired"

    ACTIVE = (Status.QUEUED, Status.IN_PROGRESS, Status.REQUIRES_ACTION, Status.CANCELLING)
    TERMINAL = (Status.CANCELLED, Status.FAILED, Status.COMPLETED, Status.INCOMPLETE, Status.EXPIRED)

    public_id = models.CharField(max_length=40, unique=True, default=ids.new_run_id, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="runs")
    # Deleting an assistant keeps its runs (the audit trail); the run remembers the assistant's id.
    assistant = models.ForeignKey(Assistant, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    assistant_public_id = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    required_action = models.JSONField(null=True, blank=True)
    last_error = models.JSONField(null=True, blank=True)
    incomplete_details = models.JSONField(null=True, blank=True)
    # What the run executes with: the assistant's settings plus the run's overrides, frozen at creation.
    model = models.CharField(max_length=100)
    instructions = models.TextField(blank=True)
    tools = models.JSONField(default=list, blank=True)
    server_tools = models.JSONField(default=list, blank=True)
    tool_resources = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    max_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    max_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    truncation_strategy = models.JSONField(default=dict, blank=True)
    tool_choice = models.JSONField(default=default_tool_choice, blank=True)
    parallel_tool_calls = models.BooleanField(default=True)
    response_format = models.JSONField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    round_trips = models.PositiveIntegerField(default=0)
    # The worker holding the run and until when its claim holds (renewed while it works).
    claimed_by = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["thread"],
                condition=Q(status__in=["queued", "in_progress", "requires_action", "cancelling"]),
                name="one_active_run_per_thread",
            )
        ]

    def __str__(self) -> str:
        return self.public_id

    def save(self, *args, **kwargs):
        if not self.assistant_public_id and self.assistant_id:
            self.assistant_public_id = self.assistant.public_id
        super().save(*args, **kwargs)

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @staticmethod
    def default_expiry():
        return timezone.now() + timedelta(seconds=settings.RUN_EXPIRES_AFTER_SECONDS)


class RunStep(models.Model):
    class Type(models.TextChoices):
        MESSAGE_CREATION = "message_creation", "Message creation"
        TOOL_CALLS = "tool_calls", "Tool calls"

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"

    public_id = models.CharField(max_length=40, unique=True, default=ids.new_step_id, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    type = models.CharField(max_length=20, choices=Type.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.JSONField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # How this step's model call went (for the audit trail): attempts, finish reason, duration.
    model_attempts = models.PositiveSmallIntegerField(default=0)
    model_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.public_id


class ToolCall(models.Model):
    """One function call of a tool_calls step: the audit trail and the source of tool metrics."""

    class Side(models.TextChoices):
        SERVER = "server", "Runs on the server"
        CLIENT = "client", "Answered by the caller (requires_action)"
        # Calls stored before approvals became their own work (a run no longer waits for a person:
        # such a call runs on the server and answers that the request waits, see ToolApproval).
        APPROVAL = "approval", "Waited in its run for a person's approval"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed (the model got an error result)"
        CANCELLED = "cancelled", "Cancelled"

    step = models.ForeignKey(RunStep, on_delete=models.CASCADE, related_name="tool_calls")
    index = models.PositiveSmallIntegerField()
    call_id = models.CharField(max_length=64, help_text="The id the model gave this call (call_…).")
    name = models.CharField(max_length=64, db_index=True)
    arguments = models.TextField(blank=True, help_text="The JSON text the model wrote.")
    side = models.CharField(max_length=10, choices=Side.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    output = models.TextField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["step_id", "index"]
        constraints = [models.UniqueConstraint(fields=["step", "index"], name="tool_call_index_unique_in_step")]

    def __str__(self) -> str:
        return f"{self.name} ({self.call_id})"


def approval_deadline():
    return timezone.now() + timedelta(seconds=settings.APPROVAL_WAIT_SECONDS)


class ToolApproval(models.Model):
    """A risky action a tool asked a person to approve (e.g. a large refund): work of its own.

    The call that asked answered at once that the request waits (its run went on and ended its
    turn, the customer was told); the approval outlives that run. A decision performs the action
    once (the tool again, as the approver allows) and tells the customer; the request may also be
    withdrawn by the customer, or expire at `expires_at` (runtime.runs.approvals).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Closed undecided (expired, or the conversation ended)"
        WITHDRAWN = "withdrawn", "Withdrawn by the customer"

    call = models.OneToOneField(ToolCall, on_delete=models.CASCADE, related_name="approval")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="approvals")
    kind = models.CharField(max_length=40)
    summary = models.CharField(max_length=500, help_text="What the agent approves, with the figures they need.")
    customer_summary = models.CharField(
        max_length=500, blank=True, help_text="The request as the customer reads it: the return of …"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True, help_text="What the action returned once approved.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=approval_deadline)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.summary} ({self.status})"


class ConversationRating(models.Model):
    """The customer's rating of a conversation that ended (CSAT): one per thread, 1 to SCALE, and an
    optional comment added once, soon after (runtime.runs.ratings)."""

    SCALE = 5
    SATISFIED_FROM = 4  # CSAT counts 4 and 5 of 5 as satisfied, the usual convention

    thread = models.OneToOneField(Thread, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    commented_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score_from_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.score}/{self.SCALE} for {self.thread}"

    @property
    def satisfied(self) -> bool:
        return self.score >= self.SATISFIED_FROM
