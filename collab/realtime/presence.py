"""Presence in a live room: join, leave and update an entry and announce the diff; the sweeper.

A diff is a ``PresenceChanged`` event published to the room (the document's
connections and presence-room watchers, on every process). Entries live in
the registry (``collab.realtime.presence_store``) under a lease: every process
renews its own members' leases every ``PRESENCE_HEARTBEAT`` seconds and sweeps
the rooms it has members in, announcing leases that ran out (a process that died).

When the store fails or comes back empty (Redis restarted), nothing is lost for
good: a renewal re-creates this process's entries that the store no longer has
and announces them as ``joined`` again, and a leave that failed is retried and
announced by the next sweep.

Each connection receives diffs through a ``PresenceFeed``: the frame shared by
everyone while it keeps up; while its outbox is behind, the diffs are merged
into the latest state per session and sent as one frame when the socket has
room, so a presence flood cannot grow a stalled connection's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from collab import events
from collab.access import parse_document_id
from collab.conf import collab_settings
from collab.protocol import MessageType, frame
from collab.realtime.events import PresenceChanged
from collab.realtime.frames import presence_frame
from collab.realtime.hub import hub
from collab.realtime.outbox import Outbox
from collab.realtime.presence_store import Entry, LocalPresence, registry

log = logging.getLogger(__name__)
T = TypeVar("T")
_unannounced: dict[str, set[str]] = {}  # document -> sessions whose leave failed: the sweep retries


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a registry call: inline for process memory, in a thread when it does network I/O."""
    if isinstance(registry(), LocalPresence):
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


async def publish_diff(document_id: str, event: PresenceChanged) -> None:
    """Publish a presence diff to the room, and tell the host (``collab.events``) who joined or left."""
    await hub().publish(document_id, event)
    events.presence_announced(document_id, joined=event.joined, left=event.left)


async def join_presence(document_id: str, entry: Entry) -> Entry:
    """Join and announce; the entry as stored (its user's colour chosen unique in the room)."""
    reg = registry()
    gone = await call(reg.sweep, document_id)
    entry = await call(reg.join, document_id, entry)
    if gone:
        await publish_diff(document_id, PresenceChanged(document_id, left=gone))
    await publish_diff(document_id, PresenceChanged(document_id, joined=[entry], exclude=entry["session"]))
    return entry


async def leave_presence(document_id: str, session: str) -> None:
    try:
        removed = await call(registry().leave, document_id, session)
    except Exception:  # the store is away: the next sweep that reaches it removes and announces it
        log.warning("leaving presence of %s failed; the sweep will retry", document_id, exc_info=True)
        _unannounced.setdefault(document_id, set()).add(session)
        return
    if removed:
        await publish_diff(document_id, PresenceChanged(document_id, left=[session]))


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
        await publish_diff(document_id, PresenceChanged(document_id, left=sessions))
    for document_id in h.rooms():
        if parse_document_id(document_id) is None:
            continue  # not a document's room (a user's: collab.realtime.credentials)
        back = await call(reg.renew, document_id, [m.session for m in h.members(document_id)])
        if back:
            await publish_diff(document_id, PresenceChanged(document_id, joined=back))
        gone = await call(reg.sweep, document_id)
        if gone:
            await publish_diff(document_id, PresenceChanged(document_id, left=gone))


async def sweep_forever() -> None:
    while True:
        await asyncio.sleep(float(collab_settings["PRESENCE_HEARTBEAT"]))
        try:
            await sweep_once()
        except Exception:
            log.exception("presence sweep failed")


class PresenceFeed:
    """The presence diffs of one document for one connection."""

    __slots__ = ("document_id", "outbox", "pending", "tagged")

    def __init__(self, outbox: Outbox, document_id: str, *, tagged: bool = False) -> None:
        self.outbox = outbox
        self.document_id = document_id
        self.tagged = tagged  # the presence room's frames name their document
        # while behind: session -> ("joined" | "updated", entry) or ("left", None)
        self.pending: dict[str, tuple[str, Entry | None]] | None = None

    def offer(self, event: PresenceChanged) -> None:
        if self.pending is None and not self.outbox.congested():
            self.outbox.send(presence_frame(event, tagged=self.tagged))
            return
        if self.pending is None:
            self.pending = {}
        _merge(self.pending, event)
        self.outbox.send_latest(("presence", self.document_id), self._flush)

    def _flush(self) -> str | None:
        pending, self.pending = self.pending, None
        if not pending:
            return None
        payload: dict[str, Any] = {"joined": [], "left": [], "updated": []}
        for session, (kind, entry) in pending.items():
            payload[kind].append(session if kind == "left" else entry)
        if self.tagged:
            payload = {"document": self.document_id, **payload}
        return frame(MessageType.PRESENCE, payload)


def _merge(pending: dict[str, tuple[str, Entry | None]], event: PresenceChanged) -> None:
    """Fold a diff into the latest state per session (what the client must end up knowing)."""
    for entry in event.joined:
        pending[entry["session"]] = ("joined", entry)
    for entry in event.updated:
        was = pending.get(entry["session"])
        pending[entry["session"]] = ("joined" if was and was[0] == "joined" else "updated", entry)
    for session in event.left:
        was = pending.get(session)
        if was and was[0] == "joined":
            del pending[session]  # came and went while the client was behind: never shown
        else:
            pending[session] = ("left", None)
