"""collab's settings: every default lives here; a host sets only what it changes.

A host project writes a partial dict, and everything it leaves out keeps the
default below::

    COLLAB = {"MAX_DOCUMENT_CHARS": 200_000, "PERMISSION_POLICY": "articles.access.role"}

Code reads a setting through ``collab_settings``, at call time, so
``override_settings`` and pytest-django's ``settings`` fixture take effect at
once::

    from collab.conf import collab_settings
    collab_settings.MAX_MESSAGE_BYTES      # or collab_settings["MAX_MESSAGE_BYTES"]

Environment variables are not read here: they are a feature of this
repository's own ``project/settings.py``. ``collab.checks`` validates the dict
(unknown keys, wrong types); docs/integration.md's settings table is checked
against ``DEFAULTS`` and ``DESCRIPTIONS`` by a test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings

__all__ = ["DEFAULTS", "DESCRIPTIONS", "collab_settings", "redis_url", "reference_table", "user_settings"]

DEFAULTS: dict[str, Any] = {
    "MAX_MESSAGE_BYTES": 262_144,
    "MAX_DOCUMENT_CHARS": 1_000_000,
    "MAX_DOCUMENT_BYTES": 8 * 1024 * 1024,
    "YJS_COMPACT_EVERY": 200,
    "YJS_COMPACT_BYTES": 1024 * 1024,
    "YJS_UNLOAD_GRACE": 10.0,
    "YJS_RESYNC_INTERVAL": 5.0,
    "RATE_PER_SECOND": 500,
    "RATE_BURST": 2000,
    "RATE_ABUSE_LIMIT": 200,
    "RATE_ABUSE_WINDOW": 10,
    "INVALID_LIMIT": 50,
    "INVALID_WINDOW": 60,
    "SNAPSHOT_EVERY": 100,
    "SYNC_MAX_OPS": 10_000,
    "SYNC_MAX_BYTES": 4 * 1024 * 1024,
    "SYNC_FRAME_BYTES": 256 * 1024,
    "HISTORY_IDLE": 300,
    "HISTORY_AUTOMATIC_MAX": 100,
    "HISTORY_RETENTION": 30 * 24 * 3600,
    "SLOW_CLIENT_BUFFER_BYTES": 1024 * 1024,
    "SLOW_CLIENT_TIMEOUT": 10.0,
    "SLOW_CLIENT_CLOSE_TIMEOUT": 2.0,
    "GROUP_COMMIT_MAX": 64,
    "AUTH_CACHE_SECONDS": 300,
    "PRESENCE_TTL": 30,
    "PRESENCE_HEARTBEAT": 10,
    "HEALTH_INTERVAL": 1.0,
    "READY_TIMEOUT": 2.0,
    "METRICS_ALLOW": "",
    "METRICS_TOKEN": "",
    "WEBHOOKS_WORKER": "server",
    "WEBHOOK_DEBOUNCE": 5.0,
    "WEBHOOK_TIMEOUT": 10.0,
    "WEBHOOK_BACKOFF_BASE": 2.0,
    "WEBHOOK_BACKOFF_MAX": 3600.0,
    "WEBHOOK_RETRY_FOR": 24 * 3600.0,
    "WEBHOOK_POLL": 1.0,
    "WEBHOOK_CONCURRENCY": 4,
    "WEBHOOK_CONTENT_CHARS": 100_000,
    "WEBHOOK_BASE_URL": "",
    "WEBHOOK_ALLOW_PRIVATE": False,
    "WEBHOOK_KEEP_DAYS": 7.0,
    "PERMISSION_POLICY": "collab.access.default_policy",
    "REDIS_URL": None,
}

DESCRIPTIONS: dict[str, str] = {
    "MAX_MESSAGE_BYTES": "largest WebSocket message accepted (bytes); announced in `hello.limits`",
    "MAX_DOCUMENT_CHARS": "largest text document, in code points",
    "MAX_DOCUMENT_BYTES": "largest yjs document: bytes of its stored state",
    "YJS_COMPACT_EVERY": "a yjs document's update log is merged into a snapshot every this many updates",
    "YJS_COMPACT_BYTES": "... or every this many bytes of updates",
    "YJS_UNLOAD_GRACE": "seconds a live yjs document stays loaded after its last connection left",
    "YJS_RESYNC_INTERVAL": "seconds between a live yjs document's checks for updates it missed",
    "RATE_PER_SECOND": "per-connection token bucket: sustained messages per second",
    "RATE_BURST": "per-connection token bucket: burst",
    "RATE_ABUSE_LIMIT": "this many rate-limited messages within `RATE_ABUSE_WINDOW` closes with 4429",
    "RATE_ABUSE_WINDOW": "seconds",
    "INVALID_LIMIT": "this many invalid messages within `INVALID_WINDOW` closes with 4400",
    "INVALID_WINDOW": "seconds",
    "SNAPSHOT_EVERY": "a stored snapshot of a text document every this many versions",
    "SYNC_MAX_OPS": "a `sync` further behind than this many ops answers `history_unavailable`; "
    "announced in `hello.limits` (`max_sync_ops`)",
    "SYNC_MAX_BYTES": "... or than this many bytes of ops; announced in `hello.limits` (`max_sync_bytes`)",
    "SYNC_FRAME_BYTES": "a `sync` answer goes out as `ops` frames of at most about this many bytes",
    "SLOW_CLIENT_BUFFER_BYTES": "bytes waiting for a connection (its outbox, and the server's buffer where "
    "readable) after which it is behind",
    "SLOW_CLIENT_TIMEOUT": "seconds behind, or a frame waiting this long, before the connection is closed "
    "with 4408",
    "SLOW_CLIENT_CLOSE_TIMEOUT": "seconds a closing connection's close frame may take to go out (and a "
    "connection closed 4408 to answer it) before the socket is aborted",
    "HISTORY_IDLE": "seconds of quiet after which the next edit keeps the version before it as an "
    "automatic version (0: never; docs/history.md)",
    "HISTORY_AUTOMATIC_MAX": "automatic versions kept per document (the newest)",
    "HISTORY_RETENTION": "seconds of individual ops `manage.py collab_compact` keeps; older ones are "
    "folded into a snapshot (0: keep all)",
    "GROUP_COMMIT_MAX": "edits committed together in one transaction at most",
    "AUTH_CACHE_SECONDS": "seconds a token's user and a member's role stay cached for handshakes",
    "PRESENCE_TTL": "presence lease (seconds): a dead process's connections are gone after it",
    "PRESENCE_HEARTBEAT": "seconds between lease renewals and sweeps",
    "HEALTH_INTERVAL": "seconds between each process's Redis health checks (with a Redis channel layer)",
    "READY_TIMEOUT": "seconds `/readyz` waits for each service",
    "METRICS_ALLOW": "`/metrics` is served to these addresses or networks (comma-separated), to "
    "requests with `Authorization: Bearer <METRICS_TOKEN>`, and to signed-in staff; to nobody else",
    "METRICS_TOKEN": "the bearer token that opens `/metrics` (empty: none does)",
    "WEBHOOKS_WORKER": '`"server"`: a webhook delivery worker thread in every server process; `"off"`: '
    "deliveries only by `manage.py collab_webhooks`",
    "WEBHOOK_DEBOUNCE": "`document.changed` at most once per document per this many seconds",
    "WEBHOOK_TIMEOUT": "one delivery attempt's HTTP timeout (seconds)",
    "WEBHOOK_BACKOFF_BASE": "retry backoff: first delay (seconds), doubling (with jitter) ...",
    "WEBHOOK_BACKOFF_MAX": "... up to this (seconds)",
    "WEBHOOK_RETRY_FOR": "seconds after a delivery was made that it is retried, then marked failed",
    "WEBHOOK_POLL": "seconds between the worker's looks at the outbox",
    "WEBHOOK_CONCURRENCY": "deliveries in flight at once per worker",
    "WEBHOOK_CONTENT_CHARS": "the text goes in created/changed payloads up to this many characters (0: never)",
    "WEBHOOK_BASE_URL": "links in payloads are absolute with this base (e.g. `https://collab.example.com`), "
    "else paths",
    "WEBHOOK_ALLOW_PRIVATE": "allow webhook URLs on private, loopback or link-local addresses",
    "WEBHOOK_KEEP_DAYS": "delivered and failed deliveries are kept this many days",
    "PERMISSION_POLICY": "dotted path of a callable `(user, document) -> role` deciding every role",
    "REDIS_URL": "Redis for presence and health checks; `None`: the channel layer's Redis when it is "
    'channels_redis, else process memory (one process); `""`: process memory',
}


def user_settings() -> Mapping[str, Any]:
    """The host's ``COLLAB`` dict as it is now (empty when unset)."""
    value = getattr(settings, "COLLAB", None)
    return value if isinstance(value, Mapping) else {}


class CollabSettings(Mapping[str, Any]):
    """``settings.COLLAB`` over ``DEFAULTS``, read at every access (no cache to go stale)."""

    def __getitem__(self, name: str) -> Any:
        value = user_settings()
        if name in value:
            return value[name]
        return DEFAULTS[name]

    def __getattr__(self, name: str) -> Any:
        if name in DEFAULTS:
            return self[name]
        raise AttributeError(f"no collab setting {name!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(DEFAULTS)

    def __len__(self) -> int:
        return len(DEFAULTS)


collab_settings = CollabSettings()


def _address(host: Any) -> str:
    if isinstance(host, str):
        return host
    if isinstance(host, Mapping) and isinstance(host.get("address"), str):
        return str(host["address"])
    if isinstance(host, list | tuple) and len(host) == 2:
        return f"redis://{host[0]}:{host[1]}"
    return ""


def redis_url() -> str:
    """The Redis collab shares state through ("" for none): ``REDIS_URL``, or by default the first
    host of a channels_redis channel layer."""
    configured = collab_settings["REDIS_URL"]
    if configured is not None:
        return str(configured)
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {})
    if "channels_redis" not in str(layer.get("BACKEND", "")):
        return ""
    hosts = layer.get("CONFIG", {}).get("hosts") or ["redis://localhost:6379"]
    return _address(hosts[0])


def reference_table() -> str:
    """The settings reference of docs/integration.md (``python scripts/export_settings.py`` writes it)."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for name, default in DEFAULTS.items():
        shown = f"`{default!r}`".replace("|", "\\|")
        rows.append(f"| `{name}` | {shown} | {DESCRIPTIONS[name]} |")
    return "\n".join(rows) + "\n"
