"""Django admin for the shop's domain.

Staff read everything here, but a state change (cancelling an order, deciding a return) goes
through orders.services as an admin action, so it is authorized, validated and audited exactly as
from the API or the console. Statuses, money and lifecycle timestamps are therefore read-only.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from common.actors import Actor
from common.admin import ReadOnlyAdmin
from common.errors import DomainError
from orders import services
from orders.models import (
    Customer,
    IdempotencyKey,
    Order,
    OrderEvent,
    OrderItem,
    Product,
    Return,
    Shipment,
    TrackingEvent,
    VerifiedOrder,
)


class ReadOnlyInline(admin.TabularInline):
    """An inline that shows rows without letting anyone add, change or delete them here."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _run_per_row(
    model_admin: admin.ModelAdmin, request: HttpRequest, keys: list, change: Callable, done: str, noun: str
) -> None:
    """Call `change(actor, key)` for each key, each in its own transaction, reporting each refusal.

    One refused row (wrong state, say) must not undo or block the others.
    """
    actor = Actor.staff(request.user.get_username())
    succeeded = 0
    for key in keys:
        try:
            change(actor, key)
        except DomainError as error:
            model_admin.message_user(request, error.message, level=messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        plural = noun if succeeded == 1 else f"{noun}s"
        model_admin.message_user(request, f"{done} {succeeded} {plural}.", level=messages.SUCCESS)


# --- customers and products -------------------------------------------------------------------
@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "tier", "external_id", "order_count", "created_at"]
    list_filter = ["tier"]
    search_fields = ["name", "email", "external_id"]
    readonly_fields = ["created_at"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return super().get_queryset(request).annotate(order_count=Count("orders"))

    @admin.display(description="Orders", ordering="order_count")
    def order_count(self, customer: Customer) -> int:
        return customer.order_count


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "returnable", "return_window_days"]
    list_filter = ["returnable", "return_window_days", "currency"]
    search_fields = ["sku", "name"]


# --- orders -----------------------------------------------------------------------------------
class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = ["sku", "name", "quantity", "unit_price", "line_total"]
    readonly_fields = fields


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    show_change_link = True
    fields = ["carrier", "tracking_number", "status", "shipped_at", "estimated_delivery", "delivered_at"]


class ReturnInline(ReadOnlyInline):
    model = Return
    fields = ["item", "quantity", "reason", "status", "refund_amount", "channel", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Return]:
        return super().get_queryset(request).select_related("order", "item")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "actor", "data"]
    readonly_fields = fields
    show_change_link = False
    verbose_name_plural = "Audit trail"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("order")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "status", "item_count", "total", "currency", "placed_at", "delivered_at"]
    list_filter = ["status", "currency", "placed_at"]
    list_select_related = ["customer"]
    search_fields = ["number", "customer__email", "customer__name"]
    date_hierarchy = "placed_at"
    inlines = [OrderItemInline, ShipmentInline, ReturnInline, OrderEventInline]
    actions = ["cancel_orders"]
    fieldsets = [
        (None, {"fields": ["number", "customer", "status", "currency"]}),
        ("Totals", {"fields": ["subtotal", "shipping_total", "tax_total", "total"]}),
        ("Timeline", {"fields": ["placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at", "updated_at"]}),
    ]
    # Orders come from the shop; staff change them only through the actions (and their shipments).
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # deleting would erase its items, shipments and audit trail

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description="Items", ordering="item_count")
    def item_count(self, order: Order) -> int:
        return order.item_count

    @admin.action(description="Cancel selected orders", permissions=["change"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        numbers = list(queryset.order_by("number").values_list("number", flat=True))
        _run_per_row(
            self,
            request,
            numbers,
            lambda actor, number: services.order_cancel(actor=actor, order_number=number, reason="Cancelled in admin"),
            done="Cancelled",
            noun="order",
        )


@admin.register(OrderItem)
class OrderItemAdmin(admin.ModelAdmin):
    """Items are part of their order: shown here for search, never edited."""

    list_display = ["order", "sku", "name", "quantity", "unit_price", "line_total"]
    list_select_related = ["order"]
    search_fields = ["order__number", "sku", "name"]
    readonly_fields = ["order", "product", "sku", "name", "quantity", "unit_price", "line_total"]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# --- shipments --------------------------------------------------------------------------------
class TrackingEventInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0
    fields = ["occurred_at", "status", "location", "description"]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["tracking_number", "carrier", "order", "status", "shipped_at", "estimated_delivery", "delivered_at"]
    list_filter = ["carrier", "status"]
    list_select_related = ["order"]
    search_fields = ["tracking_number", "order__number", "order__customer__email"]
    date_hierarchy = "shipped_at"
    autocomplete_fields = ["order"]
    inlines = [TrackingEventInline]


@admin.register(TrackingEvent)
class TrackingEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "shipment", "status", "location", "description"]
    list_filter = ["status"]
    list_select_related = ["shipment"]
    search_fields = ["shipment__tracking_number", "shipment__order__number", "location", "description"]
    date_hierarchy = "occurred_at"
    autocomplete_fields = ["shipment"]


# --- returns ----------------------------------------------------------------------------------
@admin.register(Return)
class ReturnAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "order",
        "customer_email",
        "item",
        "quantity",
        "reason",
        "status",
        "refund_amount",
        "channel",
        "created_at",
    ]
    list_display_links = ["id", "order"]
    list_filter = ["status", "reason", "channel"]
    list_select_related = ["order__customer", "item"]
    search_fields = ["=id", "order__number", "order__customer__email", "item__sku", "item__name"]
    date_hierarchy = "created_at"
    actions = ["approve_returns", "reject_returns", "mark_returns_received", "refund_returns"]
    fieldsets = [
        (None, {"fields": ["order", "item", "quantity", "reason", "note", "channel"]}),
        ("Decision", {"fields": ["status", "decision_note", "refund_amount", "currency"]}),
        ("Timeline", {"fields": ["created_at", "decided_at", "received_at", "refunded_at"]}),
    ]
    # A return changes only through orders.services (the actions above), never by editing a field.
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # returns are requested through the API, the assistant or the console

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Customer", ordering="order__customer__email")
    def customer_email(self, ret: Return) -> str:
        return ret.order.customer.email

    def _decide(self, request: HttpRequest, queryset: QuerySet[Return], service: Callable, done: str) -> None:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        _run_per_row(self, request, ids, lambda actor, pk: service(actor=actor, return_id=pk), done, "return")

    @admin.action(description="Approve selected returns", permissions=["change"])
    def approve_returns(self, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        self._decide(request, queryset, services.return_approve, "Approved")

    @admin.action(description="Reject selected returns", permissions=["change"])
    def reject_returns(self, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        self._decide(request, queryset, services.return_reject, "Rejected")

    @admin.action(description="Mark selected returns as received", permissions=["change"])
    def mark_returns_received(self, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        self._decide(request, queryset, services.return_mark_received, "Marked as received")

    @admin.action(description="Refund selected returns in full", permissions=["change"])
    def refund_returns(self, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        self._decide(request, queryset, services.return_refund, "Refunded")


# --- audit trail and idempotency records --------------------------------------------------------
@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    """The audit trail: read-only by definition."""

    list_display = ["created_at", "order", "kind", "actor"]
    list_filter = ["kind"]
    list_select_related = ["order"]
    search_fields = ["order__number", "kind", "actor"]
    date_hierarchy = "created_at"
    fields = ["order", "kind", "actor", "data", "created_at"]
    readonly_fields = fields


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    """Stored results of retried requests; read-only, and purged hourly by orders.tasks."""

    list_display = ["created_at", "scope", "key", "response_status"]
    list_filter = ["response_status"]
    search_fields = ["scope", "key"]
    date_hierarchy = "created_at"
    fields = ["scope", "key", "request_fingerprint", "response_status", "response_body", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(VerifiedOrder)
class VerifiedOrderAdmin(ReadOnlyAdmin):
    """Which conversation proved it may see which order (the order-proof checks write them)."""

    list_display = ["order", "thread", "verified_at"]
    list_select_related = ["order", "thread"]
    search_fields = ["=order__number", "=thread__public_id"]
