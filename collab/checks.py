"""System checks: ``collab.W001`` warns when production runs on the in-memory layer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register()
def in_memory_layer_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if not settings.DEBUG and backend.endswith("InMemoryChannelLayer"):
        return [
            Warning(
                "The in-memory channel layer is in use with DEBUG off.",
                hint="It serves one process only. Set REDIS_URL to run several "
                "server processes behind a load balancer.",
                id="collab.W001",
            )
        ]
    return []
