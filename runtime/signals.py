"""Signals other apps may listen to, so the runtime does not depend on them."""

from django.dispatch import Signal

# Sent (with `run`) when a run comes to rest: completed, failed, incomplete, expired, cancelled, or
# waiting in requires_action. The agents app checks its escalation rules here.
run_rested = Signal()
