"""Signed webhooks for the shop's own systems: endpoints, events, and a delivery log with retries.

Lower layers announce their changes through signals (orders.signals, agents.signals,
runtime.hooks) after commit; webhooks.receivers turns them into events, webhooks.deliveries sends
them (signed as webhooks.signing says, through webhooks.transport) and retries with backoff. See
docs/webhooks.md.
"""
