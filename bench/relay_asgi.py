"""ASGI application of the relay baseline: ``daphne bench.relay_asgi:application``.

It uses the project's settings (``project.settings``), so with no
``REDIS_URL`` the channel layer is the same in-memory layer, with the same
capacity, as the collab server's. Only ``/ws/relay/`` is routed; there is no
authentication, origin check or database access on the relay path.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.relay import RelayConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/relay/", RelayConsumer.as_asgi())]),
    }
)
