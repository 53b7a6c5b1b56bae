"""Presence in a live room: join, leave and update an entry and announce the diff; the sweeper.

A diff is a ``PresenceChanged`` event published to the room (the document's
connections and presence-room watchers, on every process). Entries live in
the registry (``collab.presence``) under a lease: every process renews its
own members' leases every ``PRESENCE_HEARTBEAT`` seconds and sweeps the rooms
it has members in, announcing leases that ran out (a process that died).

When the store fails or comes back empty (Redis restarted), nothing is lost for
good: a renewal re-creates this process's entries that the store no longer has
and announces them as ``joined`` again, and a leave that failed is retried and
announced by the next sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from collab.access import parse_document_id
from collab.conf import collab_settings
from collab.presence import Entry, LocalPresence, registry
from collab.realtime.events import PresenceChanged
from collab.realtime.hub import hub

log = logging.getLogger(__name__)
T = TypeVar("T")
_unannounced: dict[str, set[str]] = {}  # document -> sessions whose leave failed: the sweep retries


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
    try:
        removed = await call(registry().leave, document_id, session)
    except Exception:  # the store is away: the next sweep that reaches it removes and announces it
        log.warning("leaving presence of %s failed; the sweep will retry", document_id, exc_info=True)
        _unannounced.setdefault(document_id, set()).add(session)
        return
    if removed:
        await hub().publish(document_id, PresenceChanged(document_id, left=[session]))


async def update_presence(document_id: str, session: str, changes: Entry, *, announce: bool = True) -> None:
    entry = await call(registry().update, document_id, session, changes)
    if entry is not None and announce:
        await hub().publish(document_id, PresenceChanged(document_id, updated=[entry]))


async def sweep_once() -> None:
    """Renew this process's leases (re-creating entries the store lost) and announce what changed:
    entries back, leaves that could not be stored before, leases that ran out."""
    reg, h = registry(), hub()
    for document_id in list(_unannounced):
        sessions = sorted(_unannounced[document_id])
        for session in sessions:  # raises while the store is still away: kept for the next sweep
            await call(reg.leave, document_id, session)
        del _unannounced[document_id]
        await h.publish(document_id, PresenceChanged(document_id, left=sessions))
    for document_id in h.rooms():
        if parse_document_id(document_id) is None:
            continue  # not a document's room (a user's: collab.realtime.credentials)
        back = await call(reg.renew, document_id, [m.session for m in h.members(document_id)])
        if back:
            await h.publish(document_id, PresenceChanged(document_id, joined=back))
        gone = await call(reg.sweep, document_id)
        if gone:
            await h.publish(document_id, PresenceChanged(document_id, left=gone))


async def sweep_forever() -> None:
    while True:
        await asyncio.sleep(float(collab_settings["PRESENCE_HEARTBEAT"]))
        try:
            await sweep_once()
        except Exception:
            log.exception("presence sweep failed")
