"""JSON shapes of the shop's orders and returns. No business rules here: see orders.services."""

from __future__ import annotations

from rest_framework import serializers

from orders.models import Order, OrderItem, Return, Shipment, TrackingEvent


class TrackingEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = ["occurred_at", "status", "location", "description"]


class ShipmentSerializer(serializers.ModelSerializer):
    events = TrackingEventSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = ["carrier", "tracking_number", "status", "shipped_at", "estimated_delivery", "delivered_at", "events"]


class OrderItemSerializer(serializers.ModelSerializer):
    returnable = serializers.BooleanField(source="product.returnable", read_only=True)
    return_window_days = serializers.IntegerField(source="product.return_window_days", read_only=True)

    class Meta:
        model = OrderItem
        fields = ["id", "sku", "name", "quantity", "unit_price", "returnable", "return_window_days"]


class ReturnSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number", read_only=True)
    item = serializers.IntegerField(source="item_id", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)

    class Meta:
        model = Return
        fields = [
            "id",
            "order",
            "item",
            "item_name",
            "quantity",
            "reason",
            "note",
            "status",
            "refund_amount",
            "currency",
            "channel",
            "decision_note",
            "created_at",
            "decided_at",
            "received_at",
            "refunded_at",
        ]


class OrderSummarySerializer(serializers.ModelSerializer):
    customer_email = serializers.EmailField(source="customer.email", read_only=True)

    class Meta:
        model = Order
        fields = ["number", "status", "currency", "total", "customer_email", "placed_at", "updated_at"]


class OrderDetailSerializer(OrderSummarySerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    shipments = ShipmentSerializer(many=True, read_only=True)
    returns = ReturnSerializer(many=True, read_only=True)

    class Meta(OrderSummarySerializer.Meta):
        fields = [
            *OrderSummarySerializer.Meta.fields,
            "subtotal",
            "shipping_total",
            "tax_total",
            "paid_at",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
            "items",
            "shipments",
            "returns",
        ]


class ReturnCreateSerializer(serializers.Serializer):
    order = serializers.CharField(max_length=20, help_text="The order number, e.g. A1001.")
    item = serializers.CharField(max_length=200, help_text="The order item's id or SKU.")
    quantity = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    reason = serializers.ChoiceField(choices=Return.Reason.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReturnDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RefundSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True)


class OrderCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CustomerTokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False)
    external_id = serializers.CharField(max_length=100, required=False)

    def validate(self, attrs):
        if bool(attrs.get("email")) == bool(attrs.get("external_id")):
            raise serializers.ValidationError("Give exactly one of email or external_id.")
        return attrs


class CustomerTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    customer_email = serializers.EmailField()
