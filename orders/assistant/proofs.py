"""Which orders a conversation may see and act on: the signed-in customer's own, or, for an
anonymous visitor, the orders proven in the thread with the email they were placed with.

The proof lives in the VerifiedOrder table; a run reads its thread's proven orders once and keeps
them in the tool context's shared state, so an order a tool proves shows in the run's next prompt
without reading them again.
"""

from __future__ import annotations

import threading

from django.conf import settings

from common.actors import Actor
from common.errors import PermissionDenied
from orders.models import Order, VerifiedOrder
from orders.selectors import normalize_order_number
from runtime.runs.threads import note_failed_lookup as _count_failed_lookup
from runtime.tools.context import ToolContext

_VERIFIED = "orders.verified"  # the ToolContext.shared key of the proven order numbers
_lock = threading.Lock()  # a step's calls run in parallel: two may verify the same order


def verify_order(ctx: ToolContext, order: Order) -> None:
    # One INSERT … ON CONFLICT DO NOTHING (the pair is unique) instead of a look, then an insert.
    VerifiedOrder.objects.bulk_create([VerifiedOrder(thread=ctx.thread, order=order)], ignore_conflicts=True)
    with _lock:
        verified = ctx.shared.get(_VERIFIED)
        if verified is not None and order.number not in verified:
            verified.append(order.number)


def verified_order_numbers(ctx: ToolContext) -> list[str]:
    if _VERIFIED not in ctx.shared:
        ctx.shared[_VERIFIED] = list(
            VerifiedOrder.objects.filter(thread=ctx.thread)
            .order_by("verified_at")
            .values_list("order__number", flat=True)
        )
    return list(ctx.shared[_VERIFIED])


def proven_order(ctx: ToolContext, number: str) -> Order:
    """An order this thread may act on: the signed-in customer's own (theirs only), or, for an
    anonymous visitor, one verified here by its email.

    Anything else gets the same answer whether the order exists or not: prove it first.
    """
    normalized = normalize_order_number(number)
    orders = Order.objects.select_related("customer").filter(number=normalized)
    if ctx.customer is not None:
        proven = orders.filter(customer=ctx.customer).first()
    else:
        proven = orders.filter(pk__in=VerifiedOrder.objects.filter(thread=ctx.thread).values("order")).first()
    if proven is not None:
        return proven
    raise PermissionDenied(
        f"Order {normalized} is not verified in this conversation yet: look it up with the email "
        "address it was placed with first.",
        code="not_verified",
    )


def actor_for(ctx: ToolContext, order: Order) -> Actor:
    """The assistant acting for the customer who owns `order` (and only that customer)."""
    return Actor.assistant(ctx.thread.public_id, customer_id=order.customer_id)


def note_failed_lookup(ctx: ToolContext) -> int:
    """Count a lookup with a wrong order/email pair against the thread (against guessing emails)."""
    return _count_failed_lookup(ctx.thread)


def lookups_exhausted(ctx: ToolContext) -> bool:
    return ctx.thread.failed_lookups >= settings.THREAD_MAX_FAILED_LOOKUPS


def shop_facts(run, ctx: ToolContext) -> list[str]:
    """What the model should know before it answers: who is signed in, which orders are proven."""
    facts = []
    if ctx.customer is not None:
        customer = ctx.customer
        facts.append(f"Signed-in customer: {customer.name} <{customer.email}> (identity verified by the shop).")
    verified = verified_order_numbers(ctx)
    if verified:
        facts.append("Orders verified in this conversation: " + ", ".join(verified) + ".")
    return facts
