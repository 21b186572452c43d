"""What the shop's domain announces to the apps above it (webhooks), which it must not import.

`order_event_recorded` is sent, with `event` (the OrderEvent), once the transaction that recorded
it commits: one for every change made through orders.services (`event.kind` says which:
return_requested, return_approved, return_rejected, return_received, return_refunded,
order_cancelled), in the order they were made, and none for a change rolled back.
"""

from __future__ import annotations

from django.dispatch import Signal

order_event_recorded = Signal()
