"""`manage.py seed_demo`: the demo shop's customers, products and orders, and the demo staff logins.

Idempotent: every row is keyed on its natural key (customer email, product SKU, order number,
tracking number, username, group name) and a row that already exists is left exactly as it is, so
a second run changes nothing and never resets a password or a permission someone changed. Items,
returns and audit events belong to their order and are written only with a new order.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from orders import demo_data
from orders.assistant.persona import ensure_demo_assistant
from orders.models import (
    Customer,
    Order,
    OrderEvent,
    OrderItem,
    Product,
    Return,
    Shipment,
    TrackingEvent,
)
from runtime.models import Assistant

# (username, password, group or None for the superuser): passwords are set only on creation.
DEMO_LOGINS = [
    ("admin", "admin-demo-pass", None),
    ("agent", "agent-demo-pass", "Agents"),
    ("supervisor", "supervisor-demo-pass", "Supervisors"),
]
# The names customers and colleagues read (a reply signed "agent" reads like a login, not a person).
DEMO_NAMES = {"admin": ("Dana", "Admin"), "agent": ("Alex", "Morgan"), "supervisor": ("Sam", "Lee")}
# Which permissions on the orders app's models each group gets when it is created.
GROUP_PERMISSIONS = {"Agents": ("view", "change"), "Supervisors": ("add", "change", "delete", "view")}
DEMO_ORDERS = [
    ("A1001", "alice@example.com", "delivered 3 days ago; the mugs can be returned"),
    ("A1002", "bob@example.com", "shipped 2 days ago, in transit with UPS"),
]
SEED_ACTOR = "system:seed_demo"


class Command(BaseCommand):
    help = "Create the demo shop's data and staff logins (idempotent: existing rows are left as they are)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Seed even though the demo is off (DEBUG and DEMO_SHOP false)."
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_SHOP and not options["force"]:
            # The logins it creates have passwords printed in the README: never on a real deployment by accident.
            raise CommandError(
                "seed_demo creates staff logins with published passwords, and the demo is off here "
                "(DEBUG=false, DEMO_SHOP not set). Use --force to seed anyway."
            )
        data = demo_data.build(timezone.now().date())
        with transaction.atomic():
            created = seed_shop(data)
            created["staff users"] = seed_staff()
            _, created["assistants"] = ensure_demo_assistant()
        self.print_summary(created)

    def print_summary(self, created: dict[str, int]) -> None:
        totals = {
            "customers": Customer.objects.count(),
            "products": Product.objects.count(),
            "orders": Order.objects.count(),
            "order items": OrderItem.objects.count(),
            "shipments": Shipment.objects.count(),
            "tracking events": TrackingEvent.objects.count(),
            "returns": Return.objects.count(),
            "order events": OrderEvent.objects.count(),
            "staff users": get_user_model().objects.filter(is_staff=True).count(),
            "assistants": Assistant.objects.filter(owner__isnull=True).count(),
        }
        self.stdout.write(self.style.SUCCESS("Demo data ready (created by this run / now in the database):"))
        for name, total in totals.items():
            self.stdout.write(f"  {name:<16} {created.get(name, 0):>5} / {total}")
        self.stdout.write("\nDemo logins for /admin/ and /console/ (passwords are set only when a user is created):")
        for username, password, group in DEMO_LOGINS:
            self.stdout.write(f"  {username:<11} {password:<22} {group or 'superuser'}")
        self.stdout.write("\nDemo orders (ask the chat widget about them, giving the order number and email):")
        for number, email, what in DEMO_ORDERS:
            self.stdout.write(f"  {number}  {email:<18} {what}")


def seed_shop(data: demo_data.DemoData) -> dict[str, int]:
    """Write the records whose natural keys are not in the database yet; return how many of each."""
    customers = Customer.objects.in_bulk([c.email for c in data.customers], field_name="email")
    new_customers = [
        Customer(email=c.email, name=c.name, tier=c.tier, external_id=c.external_id, created_at=c.created_at)
        for c in data.customers
        if c.email not in customers
    ]
    customers.update({c.email: c for c in Customer.objects.bulk_create(new_customers)})

    products = Product.objects.in_bulk([p.sku for p in data.products], field_name="sku")
    new_products = [
        Product(
            sku=p.sku,
            name=p.name,
            price=p.price,
            returnable=p.returnable,
            return_window_days=p.return_window_days,
        )
        for p in data.products
        if p.sku not in products
    ]
    products.update({p.sku: p for p in Product.objects.bulk_create(new_products)})

    existing = set(Order.objects.filter(number__in=[o.number for o in data.orders]).values_list("number", flat=True))
    records = [o for o in data.orders if o.number not in existing]
    orders = Order.objects.bulk_create([_order(record, customers) for record in records])

    items = OrderItem.objects.bulk_create(
        [
            OrderItem(
                order=order,
                product=products[i.sku],
                sku=i.sku,
                name=i.name,
                quantity=i.quantity,
                unit_price=i.unit_price,
            )
            for order, record in zip(orders, records, strict=True)
            for i in record.items
        ]
    )
    items_by_order: dict[int, list[OrderItem]] = {}
    for item in items:
        items_by_order.setdefault(item.order_id, []).append(item)

    returns = Return.objects.bulk_create(
        [
            _return(order, items_by_order[order.pk][r.item_index], r)
            for order, record in zip(orders, records, strict=True)
            for r in record.returns
        ]
    )

    wanted = [(order, s) for order, record in zip(orders, records, strict=True) for s in record.shipments]
    taken = set(
        Shipment.objects.filter(tracking_number__in=[s.tracking_number for _, s in wanted]).values_list(
            "tracking_number", flat=True
        )
    )
    wanted = [(order, s) for order, s in wanted if s.tracking_number not in taken]
    shipments = Shipment.objects.bulk_create([_shipment(order, s) for order, s in wanted])
    tracking = TrackingEvent.objects.bulk_create(
        [
            TrackingEvent(
                shipment=shipment,
                occurred_at=e.occurred_at,
                status=e.status,
                location=e.location,
                description=e.description,
            )
            for shipment, (_, s) in zip(shipments, wanted, strict=True)
            for e in s.events
        ]
    )

    events = OrderEvent.objects.bulk_create(_audit_trail(orders, records, returns))
    return {
        "customers": len(new_customers),
        "products": len(new_products),
        "orders": len(orders),
        "order items": len(items),
        "shipments": len(shipments),
        "tracking events": len(tracking),
        "returns": len(returns),
        "order events": len(events),
    }


def _order(record: demo_data.OrderRecord, customers: dict[str, Customer]) -> Order:
    return Order(
        number=record.number,
        customer=customers[record.customer_email],
        status=record.status,
        subtotal=record.subtotal,
        shipping_total=record.shipping_total,
        tax_total=record.tax_total,
        total=record.total,
        placed_at=record.placed_at,
        paid_at=record.paid_at,
        shipped_at=record.shipped_at,
        delivered_at=record.delivered_at,
        cancelled_at=record.cancelled_at,
    )


def _return(order: Order, item: OrderItem, record: demo_data.ReturnRecord) -> Return:
    return Return(
        order=order,
        item=item,
        quantity=record.quantity,
        reason=record.reason,
        note=record.note,
        status=record.status,
        refund_amount=item.unit_price * record.quantity,
        currency=order.currency,
        channel=record.channel,
        decision_note=record.decision_note,
        created_at=record.created_at,
        decided_at=record.decided_at,
        received_at=record.received_at,
        refunded_at=record.refunded_at,
    )


def _shipment(order: Order, record: demo_data.ShipmentRecord) -> Shipment:
    return Shipment(
        order=order,
        carrier=record.carrier,
        tracking_number=record.tracking_number,
        status=record.status,
        shipped_at=record.shipped_at,
        estimated_delivery=record.estimated_delivery,
        delivered_at=record.delivered_at,
    )


def _audit_trail(orders: list[Order], records: list[demo_data.OrderRecord], returns: list[Return]) -> list[OrderEvent]:
    """The OrderEvents the services would have written for the seeded cancellations and returns."""
    events = []
    for order, record in zip(orders, records, strict=True):
        if record.cancelled_at:
            events.append(
                OrderEvent(
                    order=order,
                    kind="order_cancelled",
                    actor=SEED_ACTOR,
                    data={"reason": record.cancel_reason},
                    created_at=record.cancelled_at,
                )
            )
    for ret in returns:
        steps = [
            ("return_requested", ret.created_at, {"sku": ret.item.sku, "quantity": ret.quantity, "reason": ret.reason})
        ]
        if ret.decided_at:
            kind = "return_rejected" if ret.status == Return.Status.REJECTED else "return_approved"
            steps.append((kind, ret.decided_at, {"note": ret.decision_note}))
        if ret.received_at:
            steps.append(("return_received", ret.received_at, {}))
        if ret.refunded_at:
            steps.append(("return_refunded", ret.refunded_at, {"amount": str(ret.refund_amount)}))
        events += [
            OrderEvent(order=ret.order, kind=kind, actor=SEED_ACTOR, data={"return_id": ret.pk, **data}, created_at=at)
            for kind, at, data in steps
        ]
    return events


def seed_staff() -> int:
    """The demo groups and logins; return how many users were created."""
    groups = {}
    for name, actions in GROUP_PERMISSIONS.items():
        groups[name], created = Group.objects.get_or_create(name=name)
        if created:
            permissions = Permission.objects.filter(content_type__app_label="orders")
            groups[name].permissions.set([p for p in permissions if p.codename.split("_", 1)[0] in actions])
    User = get_user_model()
    created_count = 0
    for username, password, group in DEMO_LOGINS:
        if User.objects.filter(username=username).exists():
            continue
        email = f"{username}@example.com"
        first_name, last_name = DEMO_NAMES[username]
        names = {"first_name": first_name, "last_name": last_name}
        if group is None:
            User.objects.create_superuser(username=username, email=email, password=password, **names)
        else:
            user = User.objects.create_user(username=username, email=email, password=password, is_staff=True, **names)
            user.groups.add(groups[group])
        created_count += 1
    return created_count
