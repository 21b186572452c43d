from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "runtime"
    # The app's label from before it was named for what it is: its tables (support_*), migration
    # history and content types stay as they were in every existing database.
    label = "support"
    verbose_name = "Assistant runtime"

    def ready(self) -> None:
        # Register the server-side tools (each module registers its tools on import).
        import orders.tools  # noqa: F401
        import runtime.tools.handoff_tools  # noqa: F401
