from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "runtime"
    # The app's label from before it was named for what it is: its tables (support_*), migration
    # history and content types stay as they were in every existing database.
    label = "support"
    verbose_name = "Assistant runtime"

    def ready(self) -> None:
        from runtime import tasks  # noqa: F401  (registers the Celery tasks, which dispatch finds by name)
