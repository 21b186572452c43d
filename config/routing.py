"""Websocket routes (config.asgi wraps them in the session and auth middleware)."""

from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from agents.consumers import ConsoleConsumer
from widget.consumers import ChatConsumer

websocket_urlpatterns = [
    # The widget is embedded on the shop's own sites: the consumer checks the page's origin itself.
    path("ws/chat/", ChatConsumer.as_asgi()),
    # The console's socket rides on a staff session cookie, so only pages served from this site's
    # hosts may open it (no cross-site websocket hijacking).
    path("ws/console/", AllowedHostsOriginValidator(ConsoleConsumer.as_asgi())),
]
