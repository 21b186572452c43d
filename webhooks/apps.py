from django.apps import AppConfig

from agents import signals as agent_signals
from orders.signals import order_event_recorded
from runtime import hooks


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # Registering the Celery tasks (found by name), and listening to what the apps below announce.
        from webhooks import receivers, tasks  # noqa: F401

        hooks.thread_created.connect(receivers.conversation_created, dispatch_uid="webhooks.conversation_created")
        agent_signals.conversation_escalated.connect(
            receivers.conversation_escalated, dispatch_uid="webhooks.conversation_escalated"
        )
        agent_signals.conversation_resolved.connect(
            receivers.conversation_resolved, dispatch_uid="webhooks.conversation_resolved"
        )
        order_event_recorded.connect(receivers.order_event, dispatch_uid="webhooks.order_event")
        hooks.csat_submitted.connect(receivers.csat_submitted, dispatch_uid="webhooks.csat_submitted")
