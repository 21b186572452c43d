"""What a tool knows about who it acts for: the thread's proven identity, never the model's word."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db.models import F

from common.actors import Actor
from common.errors import PermissionDenied
from orders.models import Customer, Order
from orders.selectors import normalize_order_number
from runtime.models import Run, Thread, VerifiedOrder

_verified_lock = threading.Lock()


@dataclass
class ToolContext:
    thread: Thread
    run: Run | None = None
    call_id: str = ""
    approved: bool = False  # a person approved this very call (support.tools.approvals)
    # The numbers of the orders verified in this thread, once read; shared with `for_call` copies,
    # so an order a tool verifies shows in the run's next prompt without reading them again.
    _verified: list[str] | None = field(default=None, repr=False)

    @property
    def customer(self) -> Customer | None:
        """The customer the shop's signed identity bound this thread to, if any."""
        return self.thread.customer

    def for_call(self, call_id: str) -> ToolContext:
        """The context of one tool call of this run."""
        return replace(self, call_id=call_id)

    def verify_order(self, order: Order) -> None:
        # One INSERT … ON CONFLICT DO NOTHING (the pair is unique) instead of a look, then an insert.
        VerifiedOrder.objects.bulk_create([VerifiedOrder(thread=self.thread, order=order)], ignore_conflicts=True)
        with _verified_lock:  # a step's calls run in parallel: two may verify the same order
            if self._verified is not None and order.number not in self._verified:
                self._verified.append(order.number)

    def verified_order_numbers(self) -> list[str]:
        if self._verified is None:
            self._verified = list(
                VerifiedOrder.objects.filter(thread=self.thread)
                .order_by("verified_at")
                .values_list("order__number", flat=True)
            )
        return list(self._verified)

    def proven_order(self, number: str) -> Order:
        """An order this thread may act on: the signed-in customer's own (theirs only), or, for an
        anonymous visitor, one verified here by its email.

        Anything else gets the same answer whether the order exists or not: prove it first.
        """
        normalized = normalize_order_number(number)
        orders = Order.objects.select_related("customer").filter(number=normalized)
        if self.customer is not None:
            proven = orders.filter(customer=self.customer).first()
        else:
            proven = orders.filter(pk__in=self.thread.verified_orders.values("order")).first()
        if proven is not None:
            return proven
        raise PermissionDenied(
            f"Order {normalized} is not verified in this conversation yet: look it up with the email "
            "address it was placed with first.",
            code="not_verified",
        )

    def actor_for(self, order: Order) -> Actor:
        """The assistant acting for the customer who owns `order` (and only that customer)."""
        return Actor.assistant(self.thread.public_id, customer_id=order.customer_id)

    def note_failed_lookup(self) -> int:
        Thread.objects.filter(pk=self.thread.pk).update(failed_lookups=F("failed_lookups") + 1)
        self.thread.refresh_from_db(fields=["failed_lookups"])
        return self.thread.failed_lookups

    def lookups_exhausted(self) -> bool:
        return self.thread.failed_lookups >= settings.THREAD_MAX_FAILED_LOOKUPS
