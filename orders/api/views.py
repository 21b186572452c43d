"""The shop's REST API: thin adapters from HTTP onto orders.selectors and orders.services."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.models import ApiKey
from common.envelope import error_response
from common.errors import NotFound
from orders import services
from orders.api import serializers as s
from orders.api.auth import actor_for_request
from orders.idempotency import run_idempotent
from orders.models import Order, Return
from orders.selectors import (
    access_order,
    access_return,
    customer_by_identity,
    order_detail_queryset,
    orders_visible_to,
    returns_visible_to,
)
from orders.tokens import issue_customer_token

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="A unique key per intended change. Retrying with the same key and body returns the first "
    "result without a second change; the same key with another body is refused (422). Keys live 24 hours.",
)


def filter_by_status(request, qs, statuses: list[str]):
    """Apply ?status=, refusing a value that is not a status (a typo must not read as "none")."""
    value = request.query_params.get("status")
    if not value:
        return qs
    if value not in statuses:
        raise ValidationError({"status": [f"'{value}' is not a status; use one of: {', '.join(statuses)}."]})
    return qs.filter(status=value)


class IsShop(permissions.BasePermission):
    """The shop's backend (API key) or a staff member; never a customer."""

    message = "Only the shop's staff or backend can do this."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey) or bool(getattr(request.user, "is_staff", False))


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's orders: all of them for the shop, only their own for a customer."""

    lookup_field = "number"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return Order.objects.none()
        return filter_by_status(self.request, orders_visible_to(actor_for_request(self.request)), Order.Status.values)

    def get_serializer_class(self):
        return s.OrderSummarySerializer if self.action == "list" else s.OrderDetailSerializer

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=Order.Status.values)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, number=None):
        order = access_order(actor_for_request(request), number)
        order = order_detail_queryset(Order.objects.filter(pk=order.pk)).get()
        return Response(s.OrderDetailSerializer(order).data)

    @extend_schema(request=s.OrderCancelSerializer, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, number=None):
        body = s.OrderCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = services.order_cancel(actor=actor_for_request(request), order_number=number, **body.validated_data)
        return Response(s.OrderDetailSerializer(order_detail_queryset(Order.objects.filter(pk=order.pk)).get()).data)


class ReturnViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ReturnSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return Return.objects.none()
        return filter_by_status(self.request, returns_visible_to(actor_for_request(self.request)), Return.Status.values)

    def get_object(self):
        return access_return(actor_for_request(self.request), self.kwargs["pk"])

    @extend_schema(
        request=s.ReturnCreateSerializer,
        responses={201: s.ReturnSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request):
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return error_response(
                400,
                "idempotency_key_required",
                "POST /api/returns/ needs an Idempotency-Key header, so a retried request never opens a second return.",
                param="Idempotency-Key",
            )
        body = s.ReturnCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = actor_for_request(request)
        data = body.validated_data

        def open_return():
            created = services.return_request(
                actor=actor,
                order_number=data["order"],
                item=data["item"],
                reason=data["reason"],
                quantity=data["quantity"],
                note=data["note"],
                channel=Return.Channel.API,
            )
            return status.HTTP_201_CREATED, s.ReturnSerializer(created).data

        result = run_idempotent(
            scope=f"{actor.label}:returns.create", key=key, request=dict(data), operation=open_return
        )
        # The stored text itself, first time and every replay: byte for byte the same response.
        response = HttpResponse(result.content, status=result.status, content_type="application/json")
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def _decide(self, request, pk, service, serializer_class=s.ReturnDecisionSerializer):
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        updated = service(actor=actor_for_request(request), return_id=pk, **body.validated_data)
        return Response(s.ReturnSerializer(updated).data)

    @extend_schema(request=s.ReturnDecisionSerializer, responses=s.ReturnSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsShop])
    def approve(self, request, pk=None):
        return self._decide(request, pk, services.return_approve)

    @extend_schema(request=s.ReturnDecisionSerializer, responses=s.ReturnSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsShop])
    def reject(self, request, pk=None):
        return self._decide(request, pk, services.return_reject)

    @extend_schema(request=None, responses=s.ReturnSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsShop])
    def receive(self, request, pk=None):
        updated = services.return_mark_received(actor=actor_for_request(request), return_id=pk)
        return Response(s.ReturnSerializer(updated).data)

    @extend_schema(request=s.RefundSerializer, responses=s.ReturnSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsShop])
    def refund(self, request, pk=None):
        return self._decide(request, pk, services.return_refund, s.RefundSerializer)


class CustomerTokenViewSet(viewsets.GenericViewSet):
    """The shop's backend mints a token for one of its customers (who then sees only their orders)."""

    permission_classes = [IsShop]
    serializer_class = s.CustomerTokenRequestSerializer

    @extend_schema(request=s.CustomerTokenRequestSerializer, responses={201: s.CustomerTokenSerializer})
    def create(self, request):
        body = s.CustomerTokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = customer_by_identity(**body.validated_data)
        if customer is None:
            raise NotFound("No such customer.")
        data = {"token": issue_customer_token(customer.pk), "customer_email": customer.email}
        return Response(data, status=status.HTTP_201_CREATED)
