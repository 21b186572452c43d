"""Announcing a change to whoever listens, once it is committed.

Apps low in the layers (orders, agents, the runtime) tell the apps above them (webhooks) what
happened through Django signals, so that they never import them. A listener must only hear of a
change nobody can roll back any more, and its failure must not become the change's.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)


def send_on_commit(signal: Signal, sender: type, **kwargs) -> None:
    """Send `signal` once the current transaction commits (at once outside of one; never if it
    rolls back). A receiver that raises is logged: the change it hears of is already made."""

    def send() -> None:
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                log.error("receiver %r of %s failed", receiver, sender.__name__, exc_info=result)

    transaction.on_commit(send)
