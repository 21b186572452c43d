"""System checks of the shop's deployment (`manage.py check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def demo_shop_is_off(app_configs, **kwargs) -> list[Warning]:
    if not settings.DEMO_SHOP:
        return []
    return [
        Warning(
            "DEMO_SHOP is on: the demo shop page at / lists every customer and signs any customer's "
            "identity for the chat widget, so anyone can chat as any customer.",
            hint="Unset DEMO_SHOP (and DEBUG) in production.",
            id="concierge.W001",
        )
    ]
