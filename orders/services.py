"""Every state change of the shop's domain: returns and order cancellation.

One function per change, keyword-only and typed. Each authorizes the actor, validates the rules,
writes in one transaction under a row lock and records an OrderEvent. The REST API, the admin,
the console and the assistant's tools are thin adapters onto these functions.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from common.actors import Actor
from common.errors import InvalidInput, InvalidState, PermissionDenied
from common.signals import send_on_commit
from orders.errors import ApprovalRequired, ReturnNotAllowed
from orders.models import Order, OrderEvent, OrderItem, Return
from orders.selectors import access_order, access_return, find_order_item
from orders.signals import order_event_recorded


def _record(order: Order, kind: str, actor: Actor, **data) -> None:
    event = OrderEvent.objects.create(order=order, kind=kind, actor=actor.label, data=data)
    send_on_commit(order_event_recorded, sender=OrderEvent, event=event)


def check_return_allowed(*, order: Order, item: OrderItem, quantity: int, now=None) -> None:
    """Raise ReturnNotAllowed, with a message for the customer, unless this return may be opened."""
    now = now or timezone.now()
    if item.order_id != order.pk:
        raise ReturnNotAllowed(f"That item is not part of order {order.number}.")
    if not order.accepts_returns():
        if order.status == Order.Status.CANCELLED:
            raise ReturnNotAllowed(f"Order {order.number} was cancelled, so there is nothing to return.")
        raise ReturnNotAllowed(
            f"Order {order.number} is {order.get_status_display().lower()} and has not been delivered yet; "
            "a return can be opened once it arrives."
        )
    if not item.product.returnable:
        raise ReturnNotAllowed(f"{item.name} cannot be returned (final sale).")
    deadline = item.return_deadline()
    if deadline is not None and now > deadline:
        raise ReturnNotAllowed(
            f"The {item.product.return_window_days}-day return window for {item.name} "
            f"closed on {deadline:%B} {deadline.day}, {deadline:%Y}."
        )
    if quantity < 1:
        raise ReturnNotAllowed("The quantity to return must be at least 1.")
    left = item.returnable_quantity()
    if left == 0:
        raise ReturnNotAllowed(f"All units of {item.name} in order {order.number} already have a return.")
    if quantity > left:
        unit = "unit" if left == 1 else "units"
        raise ReturnNotAllowed(f"Only {left} {unit} of {item.name} in order {order.number} can still be returned.")


def check_refunds_within(*, order: Order, refund: Decimal, limit: Decimal) -> None:
    """Raise ApprovalRequired if `refund` would bring the order's opened refunds above `limit`.

    Opened refunds are every return on the order not rejected (requested, approved, received,
    refunded), so a large refund cannot be split across returns or conversations. Call while
    holding the order row lock: two returns decided at once would each miss the other.
    """
    opened = order.returns.exclude(status=Return.Status.REJECTED).aggregate(total=Sum("refund_amount"))["total"]
    total = (opened or Decimal("0")) + refund
    if total > limit:
        raise ApprovalRequired(
            f"Refunds on order {order.number} would total {total} {order.currency}, above {limit} "
            f"{order.currency}: a person from our team has to approve this return.",
            refund=refund,
            order_total=total,
            limit=limit,
        )


@transaction.atomic
def return_request(
    *,
    actor: Actor,
    order_number: str,
    item: str | int,
    reason: str,
    quantity: int = 1,
    note: str = "",
    channel: str,
    approval_limit: Decimal | None = None,
    approved_by: Actor | None = None,
    approval_note: str = "",
) -> Return:
    """Open a return for `quantity` units of one item of a delivered order.

    With an `approval_limit` (a customer conversation, without a person's approval), a return that
    would bring the order's opened refunds above it raises ApprovalRequired instead; rules are
    checked first, so nobody is asked to approve the impossible. None means no approval is needed
    (staff, the shop's backend, a call a person approved).

    `approved_by`: the staff member who approved this very request before it was opened (a return
    the assistant asked them to approve). It opens approved, with both events recorded: one
    approval, one return, nothing left to approve.
    """
    if approved_by is not None and not approved_by.may_decide_returns:
        raise PermissionDenied("Only the shop's staff can approve a return.")
    order = access_order(actor, order_number, for_update=True)
    order_item = find_order_item(order, item)
    if reason not in Return.Reason.values:
        allowed = ", ".join(Return.Reason.values)
        raise ReturnNotAllowed(f"'{reason}' is not a return reason; use one of: {allowed}.", code="invalid_reason")
    if channel not in Return.Channel.values:
        raise ValueError(f"unknown return channel {channel!r}")
    check_return_allowed(order=order, item=order_item, quantity=quantity)
    if approval_limit is not None:
        check_refunds_within(order=order, refund=order_item.unit_price * quantity, limit=approval_limit)
    approval = {}
    if approved_by is not None:
        approval = {"status": Return.Status.APPROVED, "decided_at": timezone.now(), "decision_note": approval_note}
    created = Return.objects.create(
        **approval,
        order=order,
        item=order_item,
        quantity=quantity,
        reason=reason,
        note=note,
        refund_amount=order_item.unit_price * quantity,
        currency=order.currency,
        channel=channel,
    )
    _record(
        order, "return_requested", actor, return_id=created.pk, sku=order_item.sku, quantity=quantity, reason=reason
    )
    if approved_by is not None:
        _record(order, "return_approved", approved_by, return_id=created.pk, note=approval_note)
    return created


def _decide(actor: Actor, return_id: int, *, allowed_from: tuple[str, ...], action: str) -> Return:
    if not actor.may_decide_returns:
        raise PermissionDenied("Only the shop's staff can change a return's status.")
    ret = access_return(actor, return_id, for_update=True)
    if ret.status not in allowed_from:
        raise InvalidState(f"Return #{ret.pk} is {ret.get_status_display().lower()}, so it cannot be {action}.")
    return ret


@transaction.atomic
def return_approve(*, actor: Actor, return_id: int, note: str = "") -> Return:
    ret = _decide(actor, return_id, allowed_from=(Return.Status.REQUESTED,), action="approved")
    ret.status, ret.decided_at, ret.decision_note = Return.Status.APPROVED, timezone.now(), note
    ret.save(update_fields=["status", "decided_at", "decision_note"])
    _record(ret.order, "return_approved", actor, return_id=ret.pk, note=note)
    return ret


@transaction.atomic
def return_reject(*, actor: Actor, return_id: int, note: str = "") -> Return:
    """Reject a requested return; its units become returnable again."""
    ret = _decide(actor, return_id, allowed_from=(Return.Status.REQUESTED,), action="rejected")
    ret.status, ret.decided_at, ret.decision_note = Return.Status.REJECTED, timezone.now(), note
    ret.save(update_fields=["status", "decided_at", "decision_note"])
    _record(ret.order, "return_rejected", actor, return_id=ret.pk, note=note)
    return ret


@transaction.atomic
def return_mark_received(*, actor: Actor, return_id: int) -> Return:
    ret = _decide(actor, return_id, allowed_from=(Return.Status.APPROVED,), action="marked received")
    ret.status, ret.received_at = Return.Status.RECEIVED, timezone.now()
    ret.save(update_fields=["status", "received_at"])
    _record(ret.order, "return_received", actor, return_id=ret.pk)
    return ret


@transaction.atomic
def return_refund(*, actor: Actor, return_id: int, amount: Decimal | None = None) -> Return:
    """Refund a received return: the full amount, or a smaller one (e.g. for a damaged item)."""
    ret = _decide(actor, return_id, allowed_from=(Return.Status.RECEIVED,), action="refunded")
    if amount is not None:
        if amount <= 0 or amount > ret.refund_amount:
            raise InvalidInput(
                f"A refund for return #{ret.pk} must be more than 0 and at most {ret.refund_amount} {ret.currency}.",
                code="invalid_refund_amount",
                param="amount",
            )
        ret.refund_amount = amount
    ret.status, ret.refunded_at = Return.Status.REFUNDED, timezone.now()
    ret.save(update_fields=["status", "refunded_at", "refund_amount"])
    _record(ret.order, "return_refunded", actor, return_id=ret.pk, amount=str(ret.refund_amount))
    return ret


@transaction.atomic
def order_cancel(*, actor: Actor, order_number: str, reason: str = "") -> Order:
    """Cancel an order that has not left the warehouse. A customer may cancel their own."""
    order = access_order(actor, order_number, for_update=True)
    if not order.can_cancel():
        raise InvalidState(
            f"Order {order.number} is already {order.get_status_display().lower()} and can no longer be cancelled."
        )
    order.status, order.cancelled_at = Order.Status.CANCELLED, timezone.now()
    order.save(update_fields=["status", "cancelled_at", "updated_at"])
    _record(order, "order_cancelled", actor, reason=reason)
    return order
