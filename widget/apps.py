from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "widget"
    verbose_name = "Chat widget"

    def ready(self) -> None:
        from widget import checks  # noqa: F401  (registers the deployment checks)
