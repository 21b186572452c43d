from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Shop orders"

    def ready(self) -> None:
        # Registering, on import: the Celery tasks, and the assistant's order
        # tools and prompt facts with the runtime.
        from orders import tasks  # noqa: F401
        from orders.assistant import tools  # noqa: F401
