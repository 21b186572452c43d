"""Reads of the shop's data, scoped to what an actor may see.

`access_*` fetch one object and enforce that the actor may see it; something that exists but is
not the actor's reads exactly like something that does not exist.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from common.actors import Actor
from common.errors import NotFound
from orders.models import Customer, Order, OrderItem, Return, Shipment


def orders_visible_to(actor: Actor) -> QuerySet[Order]:
    qs = Order.objects.select_related("customer")
    if actor.sees_all_orders:
        return qs
    if actor.customer_id is None:
        return qs.none()
    return qs.filter(customer_id=actor.customer_id)


def returns_visible_to(actor: Actor) -> QuerySet[Return]:
    qs = Return.objects.select_related("order", "item")
    if actor.sees_all_orders:
        return qs
    if actor.customer_id is None:
        return qs.none()
    return qs.filter(order__customer_id=actor.customer_id)


def order_detail_queryset(qs: QuerySet[Order]) -> QuerySet[Order]:
    return qs.prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.select_related("product")),
        Prefetch("shipments", queryset=Shipment.objects.prefetch_related("events")),
        "returns",
    )


def normalize_order_number(number: str) -> str:
    """'#a1001 ' and 'A1001' name the same order."""
    return number.strip().lstrip("#").upper()


def access_order(actor: Actor, number: str, *, for_update: bool = False) -> Order:
    qs = orders_visible_to(actor)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(number=normalize_order_number(number))
    except Order.DoesNotExist:
        raise NotFound(f"No order {normalize_order_number(number)} was found.") from None


def access_return(actor: Actor, return_id: int, *, for_update: bool = False) -> Return:
    qs = returns_visible_to(actor)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=return_id)
    except (Return.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No return {return_id} was found.") from None


def order_owned_by_email(number: str, email: str) -> Order | None:
    """The order, if `email` is the address of the customer who placed it; otherwise None.

    A wrong pair and a missing order look the same to the caller.
    """
    return (
        Order.objects.select_related("customer")
        .filter(number=normalize_order_number(number), customer__email=email.strip().lower())
        .first()
    )


def customer_by_identity(*, email: str | None = None, external_id: str | None = None) -> Customer | None:
    if email:
        return Customer.objects.filter(email=email.strip().lower()).first()
    if external_id:
        return Customer.objects.filter(external_id=external_id).first()
    return None


def find_order_item(order: Order, ref: str | int) -> OrderItem:
    """An item of `order` named by its id, its SKU, or (unambiguously) words of its name."""
    items = list(order.items.select_related("product"))
    text = str(ref).strip()
    for item in items:
        if text == str(item.pk) or text.upper() == item.sku.upper():
            return item
    matches = [item for item in items if text and text.lower() in item.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(item.name for item in matches)
        raise NotFound(f"More than one item of order {order.number} matches '{text}': {names}.")
    raise NotFound(f"Order {order.number} has no item '{text}'.")
