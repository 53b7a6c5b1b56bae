"""System checks for a project that adds collab: one id per misconfiguration a host can make.

=============  ==================================================================================
collab.E001    ``channels`` is not in INSTALLED_APPS
collab.E002    ``rest_framework`` is not in INSTALLED_APPS
collab.E003    ``rest_framework.authtoken`` is not in INSTALLED_APPS
collab.E004    no ``CHANNEL_LAYERS["default"]``
collab.E005    ``COLLAB`` is not a dict
collab.E006    a ``COLLAB`` value of the wrong type or out of range
collab.E007    ``COLLAB["PERMISSION_POLICY"]`` does not import, or is not callable
collab.W001    (deploy) DEBUG is off on the in-memory channel layer: one process only
collab.W002    ``daphne`` is not in INSTALLED_APPS: ``runserver`` serves no WebSockets
collab.W003    ``daphne`` after ``django.contrib.staticfiles``: ``runserver`` is staticfiles' one
collab.W004    an unknown ``COLLAB`` key (a typo, or a setting that was removed)
collab.W005    a Redis channel layer (several processes) with a cache private to each process
=============  ==================================================================================

W001 matters to a server process, not to ``migrate`` or ``createsuperuser``: it
is a deployment check (``manage.py check --deploy``), and each server process
logs it once as it loads ``project.asgi`` (daphne, uvicorn, runserver).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from collab.conf import DEFAULTS

logger = logging.getLogger("collab")

REQUIRED_APPS = {
    "channels": "collab.E001",
    "rest_framework": "collab.E002",
    "rest_framework.authtoken": "collab.E003",
}
# may be 0; every other number must be above 0
ZERO_ALLOWED = {
    "AUTH_CACHE_SECONDS",
    "YJS_UNLOAD_GRACE",
    "SLOW_CLIENT_TIMEOUT",
    "WEBHOOK_CONTENT_CHARS",
    "WEBHOOK_DEBOUNCE",
}
PROCESS_LOCAL_CACHES = ("LocMemCache", "DummyCache")


@register(deploy=True)
def in_memory_layer_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    backend = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND", "")
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


@register()
def installed_apps_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    apps = list(settings.INSTALLED_APPS)
    found: list[CheckMessage] = [
        Error(
            f"{app!r} is not in INSTALLED_APPS; collab needs it.",
            hint='INSTALLED_APPS += ["daphne", "channels", "rest_framework", "rest_framework.authtoken", "collab"]',
            id=check_id,
        )
        for app, check_id in REQUIRED_APPS.items()
        if app not in apps
    ]
    if "daphne" not in apps:
        found.append(
            Warning(
                "'daphne' is not in INSTALLED_APPS: manage.py runserver serves no WebSockets.",
                hint="Add it first in INSTALLED_APPS, or silence collab.W002 if you serve with uvicorn only.",
                id="collab.W002",
            )
        )
    elif "django.contrib.staticfiles" in apps and apps.index("daphne") > apps.index(
        "django.contrib.staticfiles"
    ):
        found.append(
            Warning(
                "'daphne' comes after 'django.contrib.staticfiles' in INSTALLED_APPS: "
                "runserver is staticfiles' one and serves no WebSockets.",
                hint="Put 'daphne' before 'django.contrib.staticfiles'.",
                id="collab.W003",
            )
        )
    return found


@register()
def channel_layer_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if not isinstance(layers, Mapping) or not isinstance(layers.get("default"), Mapping):
        return [
            Error(
                'CHANNEL_LAYERS has no "default" layer: live rooms cannot reach their connections.',
                hint='One process: CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}; '
                'several: "channels_redis.core.RedisChannelLayer" (docs/integration.md).',
                id="collab.E004",
            )
        ]
    backend = str(layers["default"].get("BACKEND", ""))
    cache_backend = str(getattr(settings, "CACHES", {}).get("default", {}).get("BACKEND", ""))
    if "channels_redis" in backend and cache_backend.endswith(PROCESS_LOCAL_CACHES):
        return [
            Warning(
                "The channel layer is Redis (several processes) but the default cache is private to "
                "each process: WebSocket tickets bought on one process fail on another, and a role "
                "change reaches other processes' handshake caches only after AUTH_CACHE_SECONDS.",
                hint='Use a shared cache, e.g. "django.core.cache.backends.redis.RedisCache".',
                id="collab.W005",
            )
        ]
    return []


def _value_errors(name: str, value: Any) -> list[str]:
    default = DEFAULTS[name]
    if name == "PERMISSION_POLICY":
        return [] if isinstance(value, str) or callable(value) else ["a dotted path or a callable"]
    if name == "METRICS_ALLOW":
        return [] if isinstance(value, str | list | tuple) else ["a comma-separated string or a list"]
    if name == "METRICS_TOKEN":
        return [] if isinstance(value, str) else ["a string"]
    if name == "REDIS_URL":
        return [] if value is None or isinstance(value, str) else ["None or a redis:// URL"]
    if isinstance(default, bool):
        return [] if isinstance(value, bool) else ["True or False"]
    if isinstance(default, str):
        if name == "WEBHOOKS_WORKER" and value not in ("server", "off"):
            return ['"server" or "off"']
        return [] if isinstance(value, str) else ["a string"]
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return ["a number"]
        if value < 0 or (value == 0 and name not in ZERO_ALLOWED):
            return ["a number of at least 0" if name in ZERO_ALLOWED else "a number above 0"]
    return []


@register()
def collab_settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    value = getattr(settings, "COLLAB", {})
    if not isinstance(value, Mapping):
        return [Error(f"COLLAB must be a dict, not {type(value).__name__}.", id="collab.E005")]
    found: list[CheckMessage] = []
    for name in value:
        if name not in DEFAULTS:
            close = difflib.get_close_matches(str(name), DEFAULTS, n=1)
            found.append(
                Warning(
                    f"COLLAB[{name!r}] is not a collab setting; it is ignored.",
                    hint=f"Did you mean {close[0]!r}?"
                    if close
                    else "See docs/integration.md for the settings.",
                    id="collab.W004",
                )
            )
            continue
        for wanted in _value_errors(name, value[name]):
            found.append(Error(f"COLLAB[{name!r}] must be {wanted}, not {value[name]!r}.", id="collab.E006"))
    merged = {**DEFAULTS, **{k: v for k, v in value.items() if k in DEFAULTS}}
    if not found and merged["PRESENCE_HEARTBEAT"] >= merged["PRESENCE_TTL"]:
        found.append(
            Error(
                "COLLAB['PRESENCE_HEARTBEAT'] must be shorter than COLLAB['PRESENCE_TTL']: "
                "leases would run out between renewals.",
                id="collab.E006",
            )
        )
    policy = merged["PERMISSION_POLICY"]
    if isinstance(policy, str):
        try:
            policy = import_string(policy)
        except ImportError as exc:
            return [*found, Error(f"COLLAB['PERMISSION_POLICY'] does not import: {exc}", id="collab.E007")]
    if not callable(policy):
        found.append(Error("COLLAB['PERMISSION_POLICY'] is not callable.", id="collab.E007"))
    return found
