"""ASGI entry point: HTTP through Django, WebSockets through the origin check, auth and routing.

Run with ``daphne project.asgi:application`` (or ``manage.py runserver``).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from collab.checks import warn_on_server_start  # noqa: E402
from collab.middleware import websocket_stack  # noqa: E402
from collab.routing import websocket_urlpatterns  # noqa: E402
from collab.webhooks import worker as webhook_worker  # noqa: E402

warn_on_server_start()  # collab.W001, once per server process
webhook_worker.start_with_server()  # unless COLLAB_WEBHOOKS_WORKER=off
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_stack(URLRouter(websocket_urlpatterns)),
    }
)
