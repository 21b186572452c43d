"""The demo shop's home page: pick a demo customer and see their orders."""

from __future__ import annotations

from django.shortcuts import render

from orders.models import Customer
from orders.selectors import order_detail_queryset


def demo_home(request):
    customers = Customer.objects.order_by("name")
    selected = None
    orders = []
    if email := request.GET.get("customer"):
        selected = customers.filter(email=email.strip().lower()).first()
        if selected is not None:
            orders = order_detail_queryset(selected.orders.all())
    return render(request, "shop/home.html", {"customers": customers, "selected": selected, "orders": orders})
