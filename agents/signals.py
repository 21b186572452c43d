"""What the human side announces to the apps above it (webhooks), which it must not import.

Each is sent with `escalation` once the transaction that made the change commits:
- `conversation_escalated`: a conversation was handed to a person (a new escalation, whatever its
  trigger; not a raised priority on one already open).
- `conversation_resolved`: an agent resolved it.
"""

from __future__ import annotations

from django.dispatch import Signal

conversation_escalated = Signal()
conversation_resolved = Signal()
