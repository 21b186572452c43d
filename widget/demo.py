"""The demo shop's home page: pick a demo customer and see their orders.

A demo only (settings.DEMO_SHOP): it lists every customer and signs any customer's identity for the
chat widget, which no production page may do for a caller who has not proven who they are.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from orders.models import Customer
from orders.selectors import order_detail_queryset
from widget.sessions import identity_signature


def demo_home(request: HttpRequest) -> HttpResponse:
    if not settings.DEMO_SHOP:
        return redirect("console:queue")  # a deployment's front door is its console
    customers = Customer.objects.order_by("name")
    requested = request.GET.get("customer", "").strip()
    selected = customers.filter(email=requested.lower()).first() if requested else None
    orders = []
    if selected is not None:
        orders = order_detail_queryset(selected.orders.all()).prefetch_related("returns__item")
    # What a shop's backend does for a signed-in customer: sign their email for the chat widget.
    widget_signature = identity_signature(selected.email) if selected is not None else ""
    context = {
        "customers": customers,
        "requested": requested,
        "selected": selected,
        "orders": orders,
        "widget_signature": widget_signature,
    }
    return render(request, "shop/home.html", context)
