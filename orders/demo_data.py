"""The demo shop's data as plain records, generated deterministically: the same records all day.

No database here: `manage.py seed_demo` writes these records. A fixed seed drives the choices and
every timestamp counts back from midnight UTC of the given day, so nothing lies in the future
except estimated delivery dates.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from orders.models import Customer, Order, Return, Shipment

SEED = 1001
FIRST_ORDER, LAST_ORDER = 1001, 1200
TAX_RATE = Decimal("0.08")
FREE_SHIPPING_FROM = Decimal("75.00")
STANDARD_SHIPPING = Decimal("5.99")
WAREHOUSE = "Columbus, OH"

# (SKU, name, price, returnable, return window in days)
CATALOGUE = [
    ("KIT-101", "Ceramic Pour-Over Dripper", "24.00", True, 30),
    ("KIT-102", "Stoneware Mug, 12 oz", "14.50", True, 30),
    ("KIT-103", "Chef's Knife, 8 in", "89.00", True, 30),
    ("KIT-104", "End-Grain Cutting Board", "65.00", True, 30),
    ("KIT-105", "Cast Iron Skillet, 10 in", "42.00", True, 30),
    ("KIT-106", "Glass Storage Jars (set of 4)", "32.00", True, 30),
    ("KIT-107", "Electric Gooseneck Kettle", "79.00", True, 30),
    ("KIT-108", "Linen Tea Towels (set of 3)", "22.00", True, 30),
    ("KIT-109", "Bamboo Utensil Set", "18.50", True, 30),
    ("KIT-110", "French Press, 34 oz", "39.00", True, 30),
    ("APP-201", "Merino Crew Sweater", "98.00", True, 60),
    ("APP-202", "Organic Cotton T-Shirt", "28.00", True, 60),
    ("APP-203", "Waxed Canvas Jacket", "185.00", True, 60),
    ("APP-204", "Wool Beanie", "26.00", True, 60),
    ("APP-205", "Leather Belt", "48.00", True, 60),
    ("APP-206", "Packable Rain Shell", "129.00", True, 60),
    ("APP-207", "Everyday Chinos", "68.00", True, 60),
    ("APP-208", "Wool Hiking Socks (3 pairs)", "36.00", True, 60),
    ("APP-209", "Flannel Shirt", "58.00", True, 60),
    ("APP-210", "Canvas Sneakers", "72.00", True, 60),
    ("ELE-301", "Wireless Earbuds", "129.00", True, 14),
    ("ELE-302", "Bluetooth Speaker", "89.00", True, 14),
    ("ELE-303", "USB-C Charging Hub", "54.00", True, 14),
    ("ELE-304", "Mechanical Keyboard", "149.00", True, 14),
    ("ELE-305", "Noise-Cancelling Headphones", "249.00", True, 14),
    ("ELE-306", "Smart LED Bulb (2-pack)", "34.00", True, 14),
    ("ELE-307", "Portable Power Bank", "45.00", True, 14),
    ("ELE-308", "E-Reader Sleeve", "24.00", True, 14),
    ("HOM-401", "Linen Duvet Cover, Queen", "160.00", True, 30),
    ("HOM-402", "Wool Throw Blanket", "120.00", True, 30),
    ("HOM-403", "Soy Wax Candle", "22.00", True, 30),
    ("HOM-404", "Ceramic Table Lamp", "95.00", True, 30),
    ("HOM-405", "Cotton Bath Towel Set", "64.00", True, 30),
    ("HOM-406", "Woven Storage Basket", "38.00", True, 30),
    ("HOM-407", "Indoor Planter, Large", "48.00", True, 30),
    ("HOM-408", "Walnut Wall Clock", "55.00", True, 30),
    ("OUT-501", "Insulated Water Bottle", "32.00", True, 30),
    ("OUT-502", "Daypack, 20 L", "85.00", True, 30),
    ("OUT-503", "Camping Hammock", "69.00", True, 30),
    ("OUT-504", "Trekking Poles (pair)", "99.00", True, 30),
    ("OUT-505", "Rechargeable Headlamp", "39.00", True, 30),
    ("OUT-506", "Picnic Blanket", "49.00", True, 30),
    ("OUT-507", "Enamel Camp Mug", "16.00", True, 30),
    ("OUT-508", "Compact Camp Stove", "59.00", True, 30),
    ("FIN-601", "Gift Card, $50", "50.00", False, 30),
    ("FIN-602", "Monogrammed Leather Wallet", "75.00", False, 30),
    ("FIN-603", "Clearance: Striped Scarf", "15.00", False, 30),
    ("FIN-604", "Clearance: Ceramic Vase", "19.00", False, 30),
    ("FIN-605", "Engraved Cutting Board", "79.00", False, 30),
    ("FIN-606", "Sample Sale: Linen Shirt", "35.00", False, 60),
]

# (name, email, tier, external id, city): Alice and Bob own the documented demo orders.
PEOPLE = [
    ("Alice Martin", "alice@example.com", "standard", "cust-100001", "Portland, OR"),
    ("Bob Chen", "bob@example.com", "premium", "cust-100002", "Seattle, WA"),
    ("Carmen Díaz", "carmen.diaz@example.com", "standard", "cust-100003", "Austin, TX"),
    ("David Okafor", "david.okafor@example.com", "standard", None, "Atlanta, GA"),
    ("Emma Larsen", "emma.larsen@example.com", "standard", None, "Minneapolis, MN"),
    ("Farah Haddad", "farah.haddad@example.com", "premium", None, "Dearborn, MI"),
    ("George Whitfield", "george.whitfield@example.com", "standard", None, "Boston, MA"),
    ("Hana Sato", "hana.sato@example.com", "standard", None, "San Jose, CA"),
    ("Ivan Petrov", "ivan.petrov@example.com", "standard", None, "Brooklyn, NY"),
    ("Julia Rossi", "julia.rossi@example.com", "standard", None, "Philadelphia, PA"),
    ("Kwame Mensah", "kwame.mensah@example.com", "standard", None, "Charlotte, NC"),
    ("Laura Nguyen", "laura.nguyen@example.com", "standard", None, "Houston, TX"),
    ("Mateo Fernández", "mateo.fernandez@example.com", "standard", None, "Miami, FL"),
    ("Nadia Ali", "nadia.ali@example.com", "standard", None, "Chicago, IL"),
    ("Oliver Brooks", "oliver.brooks@example.com", "standard", None, "Denver, CO"),
    ("Priya Raman", "priya.raman@example.com", "premium", None, "Raleigh, NC"),
    ("Quentin Dubois", "quentin.dubois@example.com", "standard", None, "New Orleans, LA"),
    ("Rosa Delgado", "rosa.delgado@example.com", "standard", None, "Phoenix, AZ"),
    ("Samuel Cohen", "samuel.cohen@example.com", "standard", None, "Baltimore, MD"),
    ("Tara O'Neill", "tara.oneill@example.com", "standard", None, "Madison, WI"),
    ("Umar Siddiqui", "umar.siddiqui@example.com", "standard", None, "Columbus, OH"),
    ("Valentina Costa", "valentina.costa@example.com", "standard", None, "San Diego, CA"),
    ("William Park", "william.park@example.com", "premium", None, "Los Angeles, CA"),
    ("Zoe Fischer", "zoe.fischer@example.com", "standard", None, "Salt Lake City, UT"),
]

CARRIER_HUBS = {
    "UPS": ["Louisville, KY", "Hodgkins, IL", "Dallas, TX", "Ontario, CA"],
    "FedEx": ["Memphis, TN", "Indianapolis, IN", "Fort Worth, TX", "Oakland, CA"],
    "USPS": ["Chicago, IL", "Atlanta, GA", "Denver, CO", "Sacramento, CA"],
    "DHL": ["Cincinnati, OH", "Elizabeth, NJ", "Dallas, TX", "Los Angeles, CA"],
}
RETURN_NOTES = {
    Return.Reason.DEFECTIVE: ["Stopped working after a few days.", "Arrived damaged, the box was crushed."],
    Return.Reason.WRONG_ITEM: ["I received a different colour than I ordered.", "Wrong size in the box."],
    Return.Reason.NOT_NEEDED: ["Bought it twice by mistake.", "Changed my mind, sorry!"],
    Return.Reason.OTHER: ["Looks quite different from the photos.", ""],
}
ORDER_STATUS_WEIGHTS = {"delivered": 50, "shipped": 12, "fulfilled": 8, "paid": 10, "placed": 8, "cancelled": 12}
CANCEL_REASONS = ["Ordered the wrong size.", "Found it cheaper elsewhere.", "No longer needed.", ""]
# How many returns of each status, and the delivery ages (days) at which each is plausible.
RETURN_PLAN = {
    Return.Status.REQUESTED: (5, 1, 14),
    Return.Status.APPROVED: (4, 4, 30),
    Return.Status.REJECTED: (3, 4, 90),
    Return.Status.RECEIVED: (3, 8, 60),
    Return.Status.REFUNDED: (6, 9, 240),
}


@dataclass(frozen=True)
class CustomerRecord:
    email: str
    name: str
    tier: str
    external_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class ProductRecord:
    sku: str
    name: str
    price: Decimal
    returnable: bool
    return_window_days: int


@dataclass(frozen=True)
class ItemRecord:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class TrackingRecord:
    occurred_at: datetime
    status: str
    location: str
    description: str


@dataclass(frozen=True)
class ShipmentRecord:
    carrier: str
    tracking_number: str
    status: str
    shipped_at: datetime
    estimated_delivery: date
    delivered_at: datetime | None
    events: tuple[TrackingRecord, ...]


@dataclass(frozen=True)
class ReturnRecord:
    item_index: int  # into the order's items
    quantity: int
    reason: str
    note: str
    status: str
    channel: str
    created_at: datetime
    decided_at: datetime | None = None
    received_at: datetime | None = None
    refunded_at: datetime | None = None
    decision_note: str = ""


@dataclass(frozen=True)
class OrderRecord:
    number: str
    customer_email: str
    status: str
    items: tuple[ItemRecord, ...]
    subtotal: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    total: Decimal
    placed_at: datetime
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    shipments: tuple[ShipmentRecord, ...] = ()
    returns: tuple[ReturnRecord, ...] = ()


@dataclass(frozen=True)
class DemoData:
    customers: tuple[CustomerRecord, ...]
    products: tuple[ProductRecord, ...]
    orders: tuple[OrderRecord, ...]


def build(today: date) -> DemoData:
    """The whole demo data set for `today` (a UTC date): equal inputs give equal records."""
    return _Generator(today).build()


class _Generator:
    def __init__(self, today: date) -> None:
        self.rng = random.Random(SEED)
        self.anchor = datetime.combine(today, time(0), tzinfo=UTC)
        self.tracking_numbers: set[str] = set()
        self.products = {
            sku: ProductRecord(sku, name, Decimal(price), returnable, window)
            for sku, name, price, returnable, window in CATALOGUE
        }
        self.cities = {email: city for _, email, _, _, city in PEOPLE}
        self.customers = {
            email: CustomerRecord(
                email, name, tier, external_id, self.anchor - timedelta(days=self.rng.randint(250, 900))
            )
            for name, email, tier, external_id, _ in PEOPLE
        }

    def build(self) -> DemoData:
        orders = [
            # The documented demo orders, and an old one of Alice's whose return windows are closed.
            self.order(1001, "alice@example.com", Order.Status.DELIVERED, [("KIT-102", 2), ("FIN-603", 1)], age=3),
            self.order(
                1002, "bob@example.com", Order.Status.SHIPPED, [("ELE-305", 1)], age=2, shipment=("UPS", "in_transit")
            ),
            self.order(1003, "alice@example.com", Order.Status.DELIVERED, [("OUT-501", 1), ("HOM-403", 2)], age=75),
        ]
        emails = sorted(self.customers)
        statuses, weights = list(ORDER_STATUS_WEIGHTS), list(ORDER_STATUS_WEIGHTS.values())
        for n in range(FIRST_ORDER + len(orders), LAST_ORDER + 1):
            orders.append(self.order(n, self.rng.choice(emails), self.rng.choices(statuses, weights)[0], lines=None))
        return DemoData(
            customers=tuple(self.customers.values()),
            products=tuple(self.products.values()),
            orders=tuple(self.with_returns(orders)),
        )

    # --- orders ---------------------------------------------------------------------------------
    def order(self, n: int, email: str, status: str, lines, *, age: int | None = None, shipment=None) -> OrderRecord:
        """Order A<n>: `lines` are (SKU, quantity) pairs, or None to pick some; `age` is the days since
        delivery (or shipping) and `shipment` a (carrier, status) pair, both picked when not given."""
        rng = self.rng
        if lines is None:
            picked = rng.sample(sorted(self.products), rng.choices([1, 2, 3, 4], [45, 30, 15, 10])[0])
            lines = [(sku, rng.choices([1, 2, 3], [80, 15, 5])[0]) for sku in picked]
        items = tuple(ItemRecord(sku, self.products[sku].name, qty, self.products[sku].price) for sku, qty in lines)
        subtotal = sum((item.unit_price * item.quantity for item in items), Decimal("0"))
        free = subtotal >= FREE_SHIPPING_FROM or self.customers[email].tier == Customer.Tier.PREMIUM
        shipping = Decimal("0.00") if free else STANDARD_SHIPPING
        tax = (subtotal * TAX_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        times: dict = {}
        if status == Order.Status.PLACED:
            times["placed_at"] = self.anchor - timedelta(hours=rng.randint(2, 40))
        elif status in (Order.Status.PAID, Order.Status.FULFILLED):
            times["placed_at"] = self.anchor - timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 20))
            times["paid_at"] = times["placed_at"] + timedelta(minutes=rng.randint(1, 90))
        elif status == Order.Status.CANCELLED:
            times["placed_at"] = self.anchor - timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 12))
            if rng.random() < 0.5:
                times["paid_at"] = times["placed_at"] + timedelta(minutes=rng.randint(1, 30))
            times["cancelled_at"] = times["placed_at"] + timedelta(hours=rng.randint(1, 11))
            times["cancel_reason"] = rng.choice(CANCEL_REASONS)
        else:
            if status == Order.Status.DELIVERED:
                age = age or self.delivery_age()
                times["delivered_at"] = self.anchor - timedelta(days=age) + timedelta(hours=rng.randint(9, 19))
                shipped = times["delivered_at"] - timedelta(days=rng.randint(2, 5), hours=rng.randint(0, 6))
            else:
                days_ago = age or rng.randint(1, 4)
                shipped = self.anchor - timedelta(days=days_ago) + timedelta(hours=rng.randint(8, 17))
            times["shipped_at"] = shipped
            times["paid_at"] = shipped - timedelta(hours=rng.randint(12, 36))
            times["placed_at"] = times["paid_at"] - timedelta(minutes=rng.randint(1, 90))
            carrier, ship_status = shipment or (rng.choice(sorted(CARRIER_HUBS)), self.transit_status(status))
            times["shipments"] = (self.shipment(carrier, ship_status, shipped, times.get("delivered_at"), email),)
        return OrderRecord(
            number=f"A{n}",
            customer_email=email,
            status=status,
            items=items,
            subtotal=subtotal,
            shipping_total=shipping,
            tax_total=tax,
            total=subtotal + shipping + tax,
            **times,
        )

    def delivery_age(self) -> int:
        """Days since delivery: many recent (returns open), some 60+ days back (windows closed)."""
        roll = self.rng.random()
        if roll < 0.45:
            return self.rng.randint(1, 25)
        return self.rng.randint(26, 59) if roll < 0.65 else self.rng.randint(60, 240)

    def transit_status(self, order_status: str) -> str:
        if order_status == Order.Status.DELIVERED:
            return Shipment.Status.DELIVERED
        statuses = [Shipment.Status.IN_TRANSIT, Shipment.Status.OUT_FOR_DELIVERY]
        statuses += [Shipment.Status.LABEL_CREATED, Shipment.Status.EXCEPTION]
        return self.rng.choices(statuses, [60, 15, 15, 10])[0]

    # --- shipments ------------------------------------------------------------------------------
    def shipment(self, carrier: str, status: str, shipped_at, delivered_at, email: str) -> ShipmentRecord:
        """One shipment and its 2-6 tracking events, all between its label and midnight today."""
        rng, today, city = self.rng, self.anchor.date(), self.cities[email]
        label_at = shipped_at - timedelta(hours=rng.randint(2, 6))
        events = [TrackingRecord(label_at, "label_created", WAREHOUSE, "Shipping label created")]
        if status == Shipment.Status.LABEL_CREATED:
            events.append(
                TrackingRecord(shipped_at, "label_created", WAREHOUSE, "Shipment information sent to carrier")
            )
            return self.shipment_record(carrier, status, shipped_at, today + timedelta(days=4), None, events)
        events.append(TrackingRecord(shipped_at, "in_transit", WAREHOUSE, "Picked up by carrier"))
        if status == Shipment.Status.IN_TRANSIT:
            last, stops = self.anchor - timedelta(hours=rng.randint(1, 6)), rng.randint(0, 3)
            eta = today + timedelta(days=rng.randint(1, 4))
        elif status == Shipment.Status.DELIVERED:
            last, stops = delivered_at - timedelta(hours=rng.randint(3, 6)), rng.randint(0, 2)
            eta = (shipped_at + timedelta(days=rng.randint(2, 5))).date()
        else:  # out for delivery since yesterday morning, or a failed attempt after it
            last, stops, eta = self.anchor - timedelta(hours=rng.randint(14, 17)), rng.randint(0, 2), today
        step = (last - shipped_at) / (stops + 1)
        for i, hub in enumerate(rng.sample(CARRIER_HUBS[carrier], stops)):
            at = (shipped_at + step * (i + 1)).replace(second=0, microsecond=0)
            events.append(TrackingRecord(at, "in_transit", hub, "Arrived at carrier facility"))
        if status != Shipment.Status.IN_TRANSIT:
            events.append(TrackingRecord(last, "out_for_delivery", city, "Out for delivery"))
        if status == Shipment.Status.DELIVERED:
            events.append(TrackingRecord(delivered_at, "delivered", city, "Delivered, left at front door"))
        elif status == Shipment.Status.EXCEPTION:
            note = "Delivery attempted: no secure location, will try again next business day"
            events.append(TrackingRecord(last + timedelta(hours=rng.randint(3, 8)), "exception", city, note))
            eta = today + timedelta(days=1)
        return self.shipment_record(carrier, status, shipped_at, eta, delivered_at, events)

    def shipment_record(self, carrier, status, shipped_at, eta, delivered_at, events) -> ShipmentRecord:
        number = self.tracking_number(carrier)
        return ShipmentRecord(carrier, number, status, shipped_at, eta, delivered_at, tuple(events))

    def tracking_number(self, carrier: str) -> str:
        """A number shaped like the carrier's own (# a letter or digit, % a digit), unique in the data set."""
        shape = {"UPS": "1Z######03%%%%%%%%", "FedEx": "%" * 12, "USPS": "9400" + "%" * 18, "DHL": "%" * 10}[carrier]
        alphabets = {"#": string.ascii_uppercase + string.digits, "%": string.digits}
        while True:
            number = "".join(self.rng.choice(alphabets[c]) if c in alphabets else c for c in shape)
            if number not in self.tracking_numbers:
                self.tracking_numbers.add(number)
                return number

    # --- returns --------------------------------------------------------------------------------
    def with_returns(self, orders: list[OrderRecord]) -> list[OrderRecord]:
        """Give some delivered orders one return each, in every status, as the rules allow."""
        taken = {"A1001"}  # the demo order stays free for a first return during the demo
        by_number = {order.number: order for order in orders}
        for status, (count, min_age, max_age) in RETURN_PLAN.items():
            eligible = [
                order.number
                for order in orders
                if order.status == Order.Status.DELIVERED
                and order.number not in taken
                and min_age <= (self.anchor - order.delivered_at).days + 1 <= max_age
                and any(self.products[item.sku].returnable for item in order.items)
            ]
            for number in self.rng.sample(eligible, min(count, len(eligible))):
                taken.add(number)
                by_number[number] = replace(by_number[number], returns=(self.return_for(by_number[number], status),))
        return [by_number[order.number] for order in orders]

    def return_for(self, order: OrderRecord, status: str) -> ReturnRecord:
        rng = self.rng
        index = rng.choice([i for i, item in enumerate(order.items) if self.products[item.sku].returnable])
        reason = rng.choice(Return.Reason.values)
        fields: dict = {
            "item_index": index,
            "quantity": rng.randint(1, order.items[index].quantity),
            "reason": reason,
            "note": rng.choice(RETURN_NOTES[reason]),
            "status": status,
            "channel": rng.choice([Return.Channel.API, Return.Channel.ADMIN]),
        }
        if status == Return.Status.REQUESTED:
            created = order.delivered_at + (self.anchor - order.delivered_at) * rng.uniform(0.3, 0.9)
            fields["created_at"] = created.replace(second=0, microsecond=0)
            return ReturnRecord(**fields)
        created = order.delivered_at + timedelta(hours=rng.randint(20, 40))
        decided = created + timedelta(hours=rng.randint(18, 30))
        fields.update(created_at=created, decided_at=decided)
        if status == Return.Status.REJECTED:
            fields["decision_note"] = "The photos show wear from use, which the return policy does not cover."
        else:
            fields["decision_note"] = "Approved: a prepaid return label was emailed."
        if status in (Return.Status.RECEIVED, Return.Status.REFUNDED):
            fields["received_at"] = decided + timedelta(days=rng.randint(2, 3), hours=rng.randint(0, 8))
        if status == Return.Status.REFUNDED:
            fields["refunded_at"] = fields["received_at"] + timedelta(hours=rng.randint(4, 30))
        return ReturnRecord(**fields)
