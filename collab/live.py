"""Presence and cursors in a live room: join/leave/update diffs, the sweeper, cursor coalescing.

Presence diffs are ``presence`` frames ``{"joined", "left", "updated"}`` sent as
room events to the document's connections and presence-room watchers.

Cursors: a client sends its selection at the version it has; the server
transforms anchor and head to the document's current version (positions past
the end are clamped to the text's length; the sender's own inserts at the
cursor move it after them, others' leave it before), stores ``{"version", "anchor",
"head"}`` in the sender's presence entry and broadcasts ``cursor`` to the
others. Broadcasts are coalesced per session: at most one every 50 ms (20 a
second), the last one wins, none waits more than 50 ms plus one database read.
Stored cursors carry their version; readers (``hello``, the REST presence
endpoint) transform them to the version they serve ("transform on read").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models.functions import Length

from collab.models import Document, Operation
from collab.ot import transform_position
from collab.presence import Entry, LocalPresence, registry
from collab.protocol import ErrorCode, MessageType, error_frame, frame

log = logging.getLogger(__name__)
T = TypeVar("T")
CURSOR_INTERVAL = 0.05


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a registry call: inline for process memory, in a thread when it does network I/O."""
    if isinstance(registry(), LocalPresence):
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


def presence_event(
    *, joined: list[Entry] | None = None, left: list[str] | None = None,
    updated: list[Entry] | None = None, exclude: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    payload = {"joined": joined or [], "left": left or [], "updated": updated or []}
    return {"kind": "presence", "frame": frame(MessageType.PRESENCE, payload), "exclude": exclude}


def _rooms() -> Any:
    from collab.rooms import manager

    return manager()


async def join_presence(document_id: str, entry: Entry) -> None:
    reg = registry()
    gone = await call(reg.sweep, document_id)
    await call(reg.join, document_id, entry)
    if gone:
        await _rooms().publish_event(document_id, presence_event(left=gone))
    await _rooms().publish_event(document_id, presence_event(joined=[entry], exclude=entry["session"]))


async def leave_presence(document_id: str, session: str) -> None:
    if await call(registry().leave, document_id, session):
        await _rooms().publish_event(document_id, presence_event(left=[session]))


async def update_presence(document_id: str, session: str, changes: Entry, *, announce: bool = True) -> None:
    entry = await call(registry().update, document_id, session, changes)
    if entry is not None and announce:
        await _rooms().publish_event(document_id, presence_event(updated=[entry]))


async def sweep_once(mgr: Any) -> None:
    reg = registry()
    for document_id in set(mgr.rooms) | set(mgr.watchers):
        sessions = [m.session for m in mgr.rooms.get(document_id, ())]
        await call(reg.renew, document_id, sessions)
        gone = await call(reg.sweep, document_id)
        if gone:
            await mgr.publish_event(document_id, presence_event(left=gone))


async def sweep_forever(mgr: Any) -> None:
    """Each process renews its connections' leases and announces expired ones, forever."""
    while True:
        await asyncio.sleep(float(settings.COLLAB["PRESENCE_HEARTBEAT"]))
        try:
            await sweep_once(mgr)
        except Exception:
            log.exception("presence sweep failed")


# -- cursors -------------------------------------------------------------------
def _move(pos: int, ops: list[tuple[Any, str]], length: int, session: str) -> int:
    """Move a position through (op, committing session) pairs: one's own inserts push it along."""
    for op, by in ops:
        pos = transform_position(pos, op, own=by == session)
    return max(0, min(pos, length))


def cursor_at(document_id: str, version: int, anchor: int, head: int, session: str = "") -> dict[str, int]:
    """Transform a selection from ``version`` to the current version; clamp to the text."""
    row = (
        Document.objects.filter(pk=document_id)
        .annotate(length=Length("content"))
        .values("version", "length")
        .first()
    )
    if row is None:
        return {"version": version, "anchor": anchor, "head": head}
    current = row["version"]
    ops: list[tuple[Any, str]] = []
    if version < current:
        ops = list(
            Operation.objects.filter(document_id=document_id, version__gt=version)
            .order_by("version")
            .values_list("op", "session")
        )
    return {
        "version": current,
        "anchor": _move(anchor, ops, row["length"], session),
        "head": _move(head, ops, row["length"], session),
    }


def has_stale_cursors(entries: list[Entry], version: int) -> bool:
    return any(e.get("cursor") and e["cursor"]["version"] < version for e in entries)


def entries_at(document_id: str, entries: list[Entry], version: int, length: int) -> list[Entry]:
    """Entries with their stored cursors transformed to ``version`` (transform on read)."""
    stale = [e["cursor"]["version"] for e in entries if e.get("cursor") and e["cursor"]["version"] < version]
    ops: dict[int, tuple[Any, str]] = {}
    if stale:
        ops = {
            v: (op, by)
            for v, op, by in Operation.objects.filter(
                document_id=document_id, version__gt=min(stale), version__lte=version
            ).values_list("version", "op", "session")
        }
    out = []
    for entry in entries:
        c = entry.get("cursor")
        if c and c["version"] < version:
            later = [ops[v] for v in range(c["version"] + 1, version + 1) if v in ops]
            entry = {
                **entry,
                "cursor": {
                    "version": version,
                    "anchor": _move(c["anchor"], later, length, entry["session"]),
                    "head": _move(c["head"], later, length, entry["session"]),
                },
            }
        out.append(entry)
    return out


_cursor_at = database_sync_to_async(cursor_at)


class CursorCoalescer:
    """Per-session cursor broadcasts: at most one per 50 ms, the last position wins."""

    __slots__ = ("conn", "pending", "sent_at", "task")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.pending: tuple[int, int | None, int | None] | None = None
        self.task: asyncio.Task[None] | None = None
        self.sent_at = 0.0

    def submit(self, version: int, anchor: int | None, head: int | None) -> None:
        if version > self.conn.outbox.last:
            self.conn.send_frame(
                error_frame(
                    ErrorCode.VERSION_AHEAD,
                    f"Cursor version {version} is beyond the version you have ({self.conn.outbox.last}).",
                    MessageType.CURSOR.value,
                )
            )
            return
        self.pending = (version, anchor, head)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        try:
            while self.pending is not None:
                wait = self.sent_at + CURSOR_INTERVAL - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                pending, self.pending = self.pending, None
                if pending is None:
                    break
                self.sent_at = time.monotonic()
                await self._broadcast(*pending)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cursor broadcast failed")
        finally:
            self.task = None

    async def _broadcast(self, version: int, anchor: int | None, head: int | None) -> None:
        conn = self.conn
        cursor = None
        if anchor is not None and head is not None:
            cursor = await _cursor_at(conn.document_id, version, anchor, head, conn.session)
        await update_presence(conn.document_id, conn.session, {"cursor": cursor}, announce=False)
        shown = cursor or {"version": conn.outbox.last, "anchor": None, "head": None}
        text = frame(
            MessageType.CURSOR,
            {"session": conn.session, "user": conn.user_info, **shown},
        )
        await _rooms().publish_event(
            conn.document_id, {"kind": "cursor", "frame": text, "exclude": conn.session}
        )
