"""Presence in a live room: join, leave and update an entry and announce the diff; the sweeper.

A diff is a ``PresenceChanged`` event published to the room (the document's
connections and presence-room watchers, on every process). Entries live in
the registry (``collab.presence``) under a lease: every process renews its
own members' leases every ``PRESENCE_HEARTBEAT`` seconds and sweeps the rooms
it has members in, announcing leases that ran out (a process that died).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings

from collab.presence import Entry, LocalPresence, registry
from collab.realtime.events import PresenceChanged
from collab.realtime.hub import hub

log = logging.getLogger(__name__)
T = TypeVar("T")


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a registry call: inline for process memory, in a thread when it does network I/O."""
    if isinstance(registry(), LocalPresence):
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


async def join_presence(document_id: str, entry: Entry) -> None:
    reg = registry()
    gone = await call(reg.sweep, document_id)
    await call(reg.join, document_id, entry)
    if gone:
        await hub().publish(document_id, PresenceChanged(document_id, left=gone))
    await hub().publish(document_id, PresenceChanged(document_id, joined=[entry], exclude=entry["session"]))


async def leave_presence(document_id: str, session: str) -> None:
    if await call(registry().leave, document_id, session):
        await hub().publish(document_id, PresenceChanged(document_id, left=[session]))


async def update_presence(document_id: str, session: str, changes: Entry, *, announce: bool = True) -> None:
    entry = await call(registry().update, document_id, session, changes)
    if entry is not None and announce:
        await hub().publish(document_id, PresenceChanged(document_id, updated=[entry]))


async def sweep_once() -> None:
    """Renew this process's leases and announce the ones that ran out, in every room it is in."""
    reg, h = registry(), hub()
    for document_id in h.rooms():
        await call(reg.renew, document_id, [m.session for m in h.members(document_id)])
        gone = await call(reg.sweep, document_id)
        if gone:
            await h.publish(document_id, PresenceChanged(document_id, left=gone))


async def sweep_forever() -> None:
    while True:
        await asyncio.sleep(float(settings.COLLAB["PRESENCE_HEARTBEAT"]))
        try:
            await sweep_once()
        except Exception:
            log.exception("presence sweep failed")
