from django.apps import AppConfig

from runtime import hooks


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Human agents"

    def ready(self) -> None:
        # The human side plugs into the runtime: its hand-off tools (registered on import), its
        # Celery tasks, and the rules that call a person (runtime.hooks).
        from agents import tasks, tools, triggers  # noqa: F401

        hooks.run_rested.connect(triggers.on_run_rested, dispatch_uid="agents.on_run_rested")
        hooks.customer_message.connect(triggers.on_customer_message, dispatch_uid="agents.on_customer_message")
        hooks.thread_resumed.connect(triggers.on_thread_resumed, dispatch_uid="agents.on_thread_resumed")
