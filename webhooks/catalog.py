"""The event types an endpoint can subscribe to, and what each means (docs/webhooks.md shows their data)."""

from __future__ import annotations

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_ESCALATED = "conversation.escalated"
CONVERSATION_RESOLVED = "conversation.resolved"
RETURN_REQUESTED = "return.requested"
RETURN_APPROVED = "return.approved"
CSAT_SUBMITTED = "csat.submitted"

EVENT_TYPES = {
    CONVERSATION_CREATED: "A customer started a conversation in the chat widget",
    CONVERSATION_ESCALATED: "A conversation was handed to a person",
    CONVERSATION_RESOLVED: "An agent resolved a conversation",
    RETURN_REQUESTED: "A return was opened",
    RETURN_APPROVED: "A return was approved",
    CSAT_SUBMITTED: "A customer rated a conversation",
}
CHOICES = [(name, f"{name}: {text}") for name, text in EVENT_TYPES.items()]
