"""Redis going away and coming back: notice it, and leave no connection silently behind.

With ``REDIS_URL`` set, the channel layer's group memberships and the presence
leases live only in Redis. A Redis that restarts comes back empty: without
help, the other processes' events stop reaching this process's connections
and presence forgets them, with no error anywhere. So every process runs a
monitor (started with the runtime) that writes a marker key of its own, with
a short expiry, every ``HEALTH_INTERVAL`` seconds:

- no answer: the process is degraded. The layer cannot carry the other
  processes' events, so at every interval each room gets a ``Resync`` with its
  document's version read from the database, and connections keep catching up
  from there (``/readyz`` answers 503 meanwhile);
- an answer again, or an answer without the marker (Redis restarted, was
  flushed or failed over, and lost everything it held): ``recover()``. The hub
  subscribes every room again, presence re-creates this process's entries
  (announced as ``joined``) and stores the leaves that failed, and every room
  gets a ``Resync``.

``Resync`` stays in the process: a text connection owes everything up to the
version (its outbox reads the gap from the database, in order); a yjs room
loads the updates stored since its own version and relays them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from collab.access import parse_document_id
from collab.conf import collab_settings, redis_url
from collab.models import Document
from collab.realtime.events import PROCESS_ID, Resync
from collab.realtime.hub import hub
from collab.realtime.presence import sweep_once

log = logging.getLogger(__name__)
REJOIN_EVERY = 3600.0  # seconds; well inside channels_redis' default group_expiry of 86400


def _versions(document_ids: list[str]) -> dict[str, int]:
    rows = Document.objects.filter(pk__in=document_ids).values_list("pk", "version")
    return {str(pk): version for pk, version in rows}


versions = database_sync_to_async(_versions)


async def resync_rooms() -> None:
    """Bring every connection of this process up to its document's version in the database."""
    h = hub()
    rooms = [room for room in h.rooms() if parse_document_id(room) is not None]
    if not rooms:
        return
    for room, version in (await versions(rooms)).items():
        h.deliver_local(room, Resync(room, version))


async def recover() -> None:
    """Redis is back (maybe empty): subscribe every room again, re-register presence, fill gaps."""
    await hub().rejoin()  # first: events published from now on reach us; the rest is in the database
    await sweep_once()
    await resync_rooms()


class Monitor:
    """Pings Redis through a marker key of this process; degrades and recovers the process."""

    def __init__(self, url: str, prefix: str, interval: float, timeout: float) -> None:
        import redis.asyncio

        self.interval = interval
        self.timeout = timeout
        self.key = f"{prefix}:alive:{PROCESS_ID}"
        self.expiry = max(30, int(interval * 10))  # a stalled loop longer than this recovers: harmless
        self.client: Any = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.healthy = True
        self.marked = False  # the marker was written once: its absence now means Redis lost its state
        self.rejoined_at = time.monotonic()

    async def check(self) -> None:
        try:
            previous = await asyncio.wait_for(
                self.client.set(self.key, "1", ex=self.expiry, get=True), self.timeout
            )
        except Exception as exc:
            if self.healthy:
                log.warning(
                    "Redis does not answer (%s): connections catch up from the database until it is back",
                    exc or type(exc).__name__,
                )
            self.healthy = False
            await resync_rooms()
            return
        lost = self.marked and previous is None
        self.marked = True
        if self.healthy and not lost:
            await self.refresh_groups()
            return
        log.warning(
            "Redis answers again%s: re-joining rooms, re-registering presence, catching up",
            " but lost its state" if lost else "",
        )
        self.healthy = False
        await recover()  # raises while Redis is still flaky: the next check tries again
        self.healthy = True
        log.info("recovered from the Redis outage")

    async def refresh_groups(self) -> None:
        """Subscribe every room again now and then: channels_redis forgets a group member
        ``group_expiry`` (a day by default) after it joined, even while its room stays open."""
        if time.monotonic() - self.rejoined_at < REJOIN_EVERY:
            return
        self.rejoined_at = time.monotonic()
        await hub().rejoin()

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.check()
                except Exception:
                    log.exception("the Redis health check failed")
                await asyncio.sleep(self.interval)
        finally:
            await self.client.aclose()


def monitor() -> Monitor | None:
    """A monitor for this process's Redis, or None without ``REDIS_URL``."""
    if not redis_url():
        return None
    cfg = collab_settings
    return Monitor(
        redis_url(),
        settings.CACHES["default"].get("KEY_PREFIX", "collab"),
        float(cfg["HEALTH_INTERVAL"]),
        float(cfg["READY_TIMEOUT"]),
    )
