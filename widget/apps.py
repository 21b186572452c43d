from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "widget"
    verbose_name = "Chat widget"

    def ready(self) -> None:
        from runtime import hooks
        from widget import (
            checks,  # noqa: F401  (registers the deployment checks)
            language,  # registers the prompt fact naming the customer's language
        )

        hooks.customer_message.connect(
            language.remember_customer_language, dispatch_uid="widget.remember_customer_language"
        )
