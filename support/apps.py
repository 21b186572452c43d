from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Assistant runtime"

    def ready(self) -> None:
        # Register the server-side tools (each module registers its tools on import).
        import orders.tools  # noqa: F401
        import support.tools.handoff_tools  # noqa: F401
