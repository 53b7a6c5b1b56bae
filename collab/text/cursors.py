"""Cursors of the text kind: transform a selection to the current version, coalesce broadcasts.

A client sends its selection at the version it has; the server transforms
anchor and head to the document's current version (positions past the end
are clamped to the text's length; the sender's own inserts at the cursor move
it after them, others' leave it before), stores ``{"version", "anchor",
"head"}`` in the sender's presence entry and publishes ``CursorMoved`` to the
others. Broadcasts are coalesced per session: at most one every 50 ms (20 a
second), the last one wins, none waits more than 50 ms plus one database read.
Stored cursors carry their version; readers (``hello``, the REST presence
endpoint) transform them to the version they serve ("transform on read").
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from django.db.models.functions import Length

from collab.models import Document, Operation
from collab.ot import transform_position
from collab.protocol import ErrorCode, MessageType, error_frame
from collab.realtime.hub import hub
from collab.realtime.presence import update_presence
from collab.realtime.presence_store import Entry
from collab.text.events import CursorMoved

log = logging.getLogger(__name__)
CURSOR_INTERVAL = 0.05


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
        if version > self.conn.stream.last:
            self.conn.send_frame(
                error_frame(
                    ErrorCode.VERSION_AHEAD,
                    f"Cursor version {version} is beyond the version you have ({self.conn.stream.last}).",
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
        shown = cursor or {"version": conn.stream.last, "anchor": None, "head": None}
        await hub().publish(
            conn.document_id,
            CursorMoved(
                conn.document_id,
                conn.session,
                conn.user_info,
                shown["version"],
                shown["anchor"],
                shown["head"],
            ),
        )
