from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Shop orders"

    def ready(self) -> None:
        from orders import checks  # noqa: F401  (registers the deployment checks)
