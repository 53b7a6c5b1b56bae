"""``collab.W001``: a server with DEBUG off on the in-memory channel layer (one process only).

That matters to a server process, not to ``migrate`` or ``createsuperuser``: the
check is a deployment check (``manage.py check --deploy``), and each server
process logs it once as it loads ``project.asgi`` (daphne, uvicorn, runserver).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

logger = logging.getLogger("collab")


@register(deploy=True)
def in_memory_layer_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if not settings.DEBUG and backend.endswith("InMemoryChannelLayer"):
        return [
            Warning(
                "DEBUG is off and the in-memory channel layer links this one process only.",
                hint="Set REDIS_URL before running more than one server process.",
                id="collab.W001",
            )
        ]
    return []


def warn_on_server_start() -> None:
    """Log each ``collab.W001`` in one line; called as a server process loads the ASGI application."""
    for warning in in_memory_layer_check():
        logger.warning("%s: %s %s", warning.id, warning.msg, warning.hint)
