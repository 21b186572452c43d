"""ASGI entry point served by daphne: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from ops.asgi import Measured, RequestIds  # noqa: E402

# Request ids and metrics around both: every log line written for a request or a socket carries its id.
application = RequestIds(
    Measured(
        ProtocolTypeRouter(
            {
                "http": django_asgi_app,
                # Sessions and the signed-in user (scope["user"]) for the console; the widget's socket ignores them.
                "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            }
        )
    )
)
