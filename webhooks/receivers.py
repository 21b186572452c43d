"""What the apps below announce, turned into events for the shop's systems.

Each receiver runs after the change's transaction committed (see common.signals) and builds the
event's data only if an endpoint wants it. The data is what a shop's system needs to act and to
look the rest up: ids, the order number, states and times. No names, e-mail addresses, message
text, notes or reasons anyone typed: a customer is their id here and the shop's own external id.
"""

from __future__ import annotations

from datetime import datetime

from agents.models import Escalation
from orders.models import Customer, OrderEvent, Return
from runtime.models import Thread
from webhooks import catalog
from webhooks.events import emit

WIDGET = "widget"
# Order events (OrderEvent.kind) that are webhook events.
RETURN_EVENTS = {"return_requested": catalog.RETURN_REQUESTED, "return_approved": catalog.RETURN_APPROVED}


def is_widget_conversation(thread: Thread) -> bool:
    """A customer's conversation from the chat widget. /v1 threads have an owner (the API key's
    user) and metadata their caller chose, "channel" included: the owner tells them apart."""
    return thread.owner_id is None and (thread.metadata or {}).get("channel") == WIDGET


def customer_data(customer: Customer | None) -> dict | None:
    return None if customer is None else {"id": customer.pk, "external_id": customer.external_id}


def conversation_data(thread: Thread) -> dict:
    return {
        "id": thread.public_id,
        "channel": WIDGET if is_widget_conversation(thread) else "api",
        "customer": customer_data(thread.customer),
        "created_at": thread.created_at,
    }


def escalation_data(escalation: Escalation) -> dict:
    return {
        "id": escalation.pk,
        "trigger": escalation.trigger,
        "priority": escalation.priority,
        "status": escalation.status,
        "created_at": escalation.created_at,
        "sla_due_at": escalation.sla_due_at,
        "assigned_at": escalation.assigned_at,
        "resolved_at": escalation.resolved_at,
    }


def return_data(ret: Return) -> dict:
    """The return as it stands when the event is sent (its `status` may be ahead of the event's type)."""
    return {
        "return": {
            "id": ret.pk,
            "status": ret.status,
            "reason": ret.reason,
            "sku": ret.item.sku,
            "quantity": ret.quantity,
            "refund_amount": ret.refund_amount,
            "currency": ret.currency,
            "channel": ret.channel,
            "requested_at": ret.created_at,
            "decided_at": ret.decided_at,
        },
        "order": {"number": ret.order.number, "customer": customer_data(ret.order.customer)},
    }


def conversation_created(sender, thread: Thread, **kwargs) -> None:
    if is_widget_conversation(thread):
        emit(catalog.CONVERSATION_CREATED, lambda: {"conversation": conversation_data(thread)})


def conversation_escalated(sender, escalation: Escalation, **kwargs) -> None:
    emit(
        catalog.CONVERSATION_ESCALATED,
        lambda: {"conversation": conversation_data(escalation.thread), "escalation": escalation_data(escalation)},
    )


def conversation_resolved(sender, escalation: Escalation, **kwargs) -> None:
    emit(
        catalog.CONVERSATION_RESOLVED,
        lambda: {"conversation": conversation_data(escalation.thread), "escalation": escalation_data(escalation)},
    )


def order_event(sender, event: OrderEvent, **kwargs) -> None:
    event_type = RETURN_EVENTS.get(event.kind)
    if event_type is not None:
        emit(
            event_type,
            lambda: return_data(
                Return.objects.select_related("order__customer", "item").get(pk=event.data["return_id"])
            ),
        )


def csat_submitted(sender, thread: Thread, rating: int, scale: int, submitted_at: datetime, **kwargs) -> None:
    emit(
        catalog.CSAT_SUBMITTED,
        lambda: {
            "conversation": conversation_data(thread),
            "rating": rating,
            "scale": scale,
            "submitted_at": submitted_at,
        },
    )
