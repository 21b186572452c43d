"""The shop's order tools for the assistant: thin adapters onto orders.selectors and orders.services.

Identity comes from the ToolContext (the shop's signed identity, or an order proven in this thread
by its email: orders.assistant.proofs), never from the model's arguments. State changes carry
idempotency keys on the business intent, so a re-executed run never opens a second return.
"""

from __future__ import annotations

from django.conf import settings

from common.actors import Actor
from common.errors import DomainError
from orders import services
from orders.assistant import proofs
from orders.errors import ApprovalRequired, IdempotencyConflict
from orders.idempotency import run_idempotent
from orders.models import Order, OrderItem, Return
from orders.selectors import find_order_item, normalize_order_number, order_owned_by_email
from runtime.hooks import prompt_facts
from runtime.tools.approvals import NeedsApproval
from runtime.tools.context import ToolContext
from runtime.tools.registry import tool

ORDER_NUMBER = {"type": "string", "description": "The order number, e.g. A1001.", "minLength": 2, "maxLength": 20}
EMAIL = {"type": "string", "description": "The email address the order was placed with.", "maxLength": 254}


def order_payload(order: Order) -> dict:
    shipment = order.latest_shipment
    return {
        "found": True,
        "order_number": order.number,
        "status": order.status,
        "status_label": order.get_status_display(),
        "placed_at": order.placed_at.isoformat(),
        "delivered_at": order.delivered_at.isoformat() if order.delivered_at else None,
        "total": str(order.total),
        "currency": order.currency,
        "items": [
            {
                "id": item.pk,
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "returnable": item.product.returnable,
                "return_window_days": item.product.return_window_days,
            }
            for item in order.items.select_related("product")
        ],
        "shipment": shipment_payload(shipment, with_events=False) if shipment else None,
    }


def shipment_payload(shipment, *, with_events: bool = True) -> dict:
    payload = {
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "status": shipment.status,
        "status_label": shipment.get_status_display(),
        "estimated_delivery": shipment.estimated_delivery.isoformat() if shipment.estimated_delivery else None,
        "delivered_at": shipment.delivered_at.isoformat() if shipment.delivered_at else None,
    }
    if with_events:
        events = [
            {"occurred_at": e.occurred_at.isoformat(), "location": e.location, "description": e.description}
            for e in shipment.events.all()
        ]
        payload["latest_event"] = events[-1] if events else None
        payload["events"] = events
    return payload


def _status_schema(ctx: ToolContext) -> dict:
    # A signed-in customer's own orders need no email; anyone else proves an order with its email.
    required = ["order_number"] if ctx.customer else ["order_number", "email"]
    return {
        "type": "object",
        "properties": {"order_number": ORDER_NUMBER, "email": EMAIL},
        "required": required,
        "additionalProperties": False,
    }


@tool(
    "get_order_status",
    "Look up an order's status, items and shipment. The customer must give the order number and the "
    "email address it was placed with (not needed for a signed-in customer's own orders). A wrong pair "
    "reads as not found. A successful lookup verifies the order for the rest of the conversation.",
    {"type": "object", "properties": {"order_number": ORDER_NUMBER, "email": EMAIL}, "required": ["order_number"]},
    parameters_for=_status_schema,
    activity=lambda args: f"Looking up order {normalize_order_number(args['order_number'])}…",
)
def get_order_status(ctx: ToolContext, args: dict) -> dict:
    number = normalize_order_number(args["order_number"])
    if proofs.lookups_exhausted(ctx):
        return {
            "found": False,
            "error": {
                "code": "too_many_attempts",
                "message": "Too many order lookups failed in this conversation. A person from our team can help.",
            },
        }
    if ctx.customer is not None:
        # A signed-in customer reaches their own orders only: an email proves nothing more to them.
        order = Order.objects.filter(number=number, customer=ctx.customer).first()
        missing = f"No order {number} was found among your orders."
    else:
        order = order_owned_by_email(number, args["email"]) if args.get("email") else None
        missing = f"No order {number} was found for that email address."
    if order is None:
        proofs.note_failed_lookup(ctx)
        return {"found": False, "error": {"code": "not_found", "message": missing}}
    proofs.verify_order(ctx, order)
    return order_payload(order)


@tool(
    "track_shipment",
    "Track the shipment of an order verified in this conversation: carrier, tracking number, status, "
    "estimated delivery and tracking events.",
    {"type": "object", "properties": {"order_number": ORDER_NUMBER}, "required": ["order_number"]},
    activity=lambda args: f"Tracking the parcel for order {normalize_order_number(args['order_number'])}…",
)
def track_shipment(ctx: ToolContext, args: dict) -> dict:
    order = proofs.proven_order(ctx, args["order_number"])
    shipment = order.latest_shipment
    if shipment is None:
        raise DomainError(
            f"Order {order.number} has not shipped yet (it is {order.get_status_display().lower()}).",
            code="not_shipped",
        )
    return {"order_number": order.number, **shipment_payload(shipment)}


class _ReturnRefused(Exception):
    """Carries a rule's refusal out of run_idempotent, which then rolls the intent's key back."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


@tool(
    "initiate_return",
    "Open a return for one item of a delivered order verified in this conversation. Confirm the item, "
    "quantity and reason with the customer first. Rules (return window, final-sale items, quantities) "
    "are checked by the shop.",
    {
        "type": "object",
        "properties": {
            "order_number": ORDER_NUMBER,
            "item": {
                "type": "string",
                "description": "The item's id, SKU or name as listed in the order.",
                "maxLength": 200,
            },
            "reason": {"type": "string", "enum": list(Return.Reason.values)},
            "quantity": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
            "note": {
                "type": "string",
                "maxLength": 500,
                "description": "The customer's reason in their own words (what 'other' means, say a wrong size).",
            },
        },
        "required": ["order_number", "item", "reason"],
    },
    activity=lambda args: f"Opening a return on order {normalize_order_number(args['order_number'])}…",
)
def initiate_return(ctx: ToolContext, args: dict) -> dict:
    order = proofs.proven_order(ctx, args["order_number"])
    item = find_order_item(order, args["item"])
    quantity = int(args.get("quantity") or 1)
    # Large refunds in a customer conversation wait for an agent (threads created through /v1 belong
    # to the shop's own backend, which answers for itself). The limit is on the order's refunds, not
    # this call's, so returns split across calls or conversations cannot pass it; the service
    # decides it under the order's lock, after the rules: nobody approves the impossible.
    subject_to_approval = not ctx.approved and ctx.thread.owner_id is None
    approval_limit = settings.RETURN_APPROVAL_THRESHOLD if subject_to_approval else None
    # Run again on an agent's approval: the return opens approved by them (one approval, one return).
    approved_by = Actor.staff(ctx.approved_by.get_username()) if ctx.approved else None

    def open_return():
        try:
            created = services.return_request(
                actor=proofs.actor_for(ctx, order),
                order_number=order.number,
                item=item.pk,
                reason=args["reason"],
                quantity=quantity,
                note=args.get("note") or "",
                channel=Return.Channel.ASSISTANT,
                approval_limit=approval_limit,
                approved_by=approved_by,
            )
        except DomainError as error:
            # run_idempotent would store a refusal as the key's result, and the corrected retry
            # ("then two mugs, not three") would read as a return already opened. A refusal wrote
            # nothing, so nothing is remembered: the next attempt is checked against the rules again.
            raise _ReturnRefused(error) from None
        opened = {
            "return_id": created.pk,
            "status": created.status,
            "order_number": order.number,
            "item_name": item.name,
            "quantity": created.quantity,
            "refund_amount": str(created.refund_amount),
            "currency": created.currency,
        }
        if approved_by is not None:  # what the customer is told of the decision (runtime.runs.approvals)
            them, arrive = ("the items", "they arrive") if created.quantity > 1 else ("the item", "it arrives")
            opened["message"] = (
                f"Return #{created.pk} for {created.quantity} × {item.name} from order {order.number} is approved: "
                f"send {them} back, and you'll be refunded {created.refund_amount} {created.currency} once {arrive}."
            )
        return 201, opened

    # Keyed on the intent (this thread, this order's item), not on the model's call id: a model
    # asked again after a crash writes new call ids, but wants the same return.
    try:
        result = run_idempotent(
            scope=f"thread:{ctx.thread.public_id}:initiate_return",
            key=f"{order.number}:{item.pk}",
            request={"reason": args["reason"], "quantity": quantity},
            operation=open_return,
        )
    except _ReturnRefused as refused:
        if isinstance(refused.error, ApprovalRequired):
            raise _return_approval(
                refused.error, order=order, item=item, quantity=quantity, reason=args["reason"]
            ) from None
        raise refused.error from None
    except IdempotencyConflict:
        raise DomainError(
            f"A return for {item.name} on order {order.number} was already opened in this conversation.",
            code="return_already_opened",
        ) from None
    return result.body


def _return_approval(
    error: ApprovalRequired, *, order: Order, item: OrderItem, quantity: int, reason: str
) -> NeedsApproval:
    """What the agent approves: this return, and what the order's refunds would total with it."""
    return NeedsApproval(
        kind="return",
        summary=(
            f"Return {quantity} × {item.name} from order {order.number}: refund {error.refund} "
            f"{order.currency} (refunds on this order would total {error.order_total} {order.currency})"
        ),
        customer_summary=(
            f"the return of {quantity} × {item.name} from order {order.number} for a refund of {error.refund} "
            f"{order.currency}"
        ),
        amount=error.refund,
        currency=order.currency,
        details={
            "order_number": order.number,
            "item": item.name,
            "reason": reason,
            "quantity": quantity,
            "order_refunds_total": str(error.order_total),
        },
    )


@tool(
    "list_my_orders",
    "List the signed-in customer's most recent orders.",
    {"type": "object", "properties": {}},
    available=lambda ctx: ctx.customer is not None,
    activity=lambda args: "Looking up your orders…",
)
def list_my_orders(ctx: ToolContext, args: dict) -> dict:
    orders = Order.objects.filter(customer=ctx.customer).order_by("-placed_at")[:10]
    return {
        "orders": [
            {
                "order_number": o.number,
                "status": o.status,
                "placed_at": o.placed_at.isoformat(),
                "total": str(o.total),
                "currency": o.currency,
            }
            for o in orders
        ]
    }


@tool(
    "cancel_order",
    "Cancel an order verified in this conversation that has not left the warehouse yet (placed or paid). "
    "Confirm with the customer first.",
    {"type": "object", "properties": {"order_number": ORDER_NUMBER}, "required": ["order_number"]},
    activity=lambda args: f"Cancelling order {normalize_order_number(args['order_number'])}…",
)
def cancel_order(ctx: ToolContext, args: dict) -> dict:
    order = proofs.proven_order(ctx, args["order_number"])
    cancelled = services.order_cancel(actor=proofs.actor_for(ctx, order), order_number=order.number, reason="assistant")
    return {"order_number": cancelled.number, "status": cancelled.status, "status_label": "Cancelled"}


# What the model reads before it answers: who is signed in, which orders this thread proved.
prompt_facts(proofs.shop_facts)
