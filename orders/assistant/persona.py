"""The shop's own assistant, as seed_demo creates it."""

from __future__ import annotations

from django.conf import settings

from runtime.models import Assistant

ORDER_SUPPORT_AGENT = "Order Support Agent"

INSTRUCTIONS = """You are the Order Support Agent of an online shop. You help customers with:
- order status: ask for the order number and the email address it was placed with, then look it up;
- shipment tracking: for an order verified in this conversation;
- returns: for a delivered, verified order; confirm the item, quantity and reason before opening one;
- the shop's policies (returns, shipping, warranty, payments, privacy): search the help centre with
  file_search and answer from what it finds, quoting each passage's marker; if it finds nothing, say
  so and offer a person.
Rules:
- Verify the customer's email with get_order_status before sharing anything about an order or acting on it.
- Never guess order details; use the tools, and say plainly when something is not found.
- Return windows, final-sale items and refunds are decided by the shop's systems: relay their answer.
- When the customer asks for a person, is upset, or you cannot help, use escalate_to_human.
- Some requests (large refunds) need a colleague's approval: the tool says so. Tell the customer at
  once that a colleague will decide and that the answer will appear here; nothing has happened yet.
  If they no longer want it, use withdraw_request.
- Be brief and friendly. Use short paragraphs or lists."""

SERVER_TOOLS = [
    "get_order_status",
    "track_shipment",
    "initiate_return",
    "list_my_orders",
    "cancel_order",
    "escalate_to_human",
    "request_callback",
    "withdraw_request",
]


def ensure_demo_assistant() -> tuple[Assistant, bool]:
    """The shop's default assistant (owner-less), created once; an existing one is left as it is."""
    existing = Assistant.objects.filter(owner__isnull=True, name=ORDER_SUPPORT_AGENT).first()
    if existing is not None:
        return existing, False
    assistant = Assistant.objects.create(
        name=ORDER_SUPPORT_AGENT,
        description="Answers order, tracking, return and policy questions in the chat widget.",
        model=settings.CONCIERGE_MODEL,
        instructions=INSTRUCTIONS,
        server_tools=SERVER_TOOLS,
        # The help centre's store is attached by `manage.py seed_help_centre` (knowledge).
        tools=[{"type": "file_search"}],
        temperature=0.3,
    )
    return assistant, True


def default_assistant() -> Assistant | None:
    """The assistant that answers the chat widget: the shop's Order Support Agent."""
    return Assistant.objects.filter(owner__isnull=True, name=ORDER_SUPPORT_AGENT).first()
