"""The text kind's ordered delivery per connection: acks and ops in version order, gaps filled,
``sync`` answered, slow clients bounded.

Each document connection has one ``OpStream``. It remembers the last version
it sent (``last``) and keeps PROTOCOL.md section 5's ordering: ``ack`` and
``op`` frames leave in strictly increasing version order with no gaps. It
writes through the connection's ``Outbox`` (the socket's one write path).

- Fast path: the connection is up to date and not behind, so the frames of an
  ``OpsCommitted`` event are handed to the outbox at once (no task, no copy).
- An event that starts after ``last + 1`` (the channel layer dropped one, or
  another process committed in between) makes the pump read the missing ops
  from the database first.
- Behind (the outbox holds more than its bound): nothing more is queued, only
  the highest version owed is kept (the ops are in the database). When the
  socket drains the pump catches up with ``ops`` frames read from the
  database; if it stays behind for ``SLOW_CLIENT_TIMEOUT`` the outbox closes
  it with 4408. Others are never waited on.
- ``sync``: every op after the given version, as ``ops`` frames of at most
  ``SYNC_FRAME_BYTES``; ``history_unavailable`` beyond ``SYNC_MAX_OPS`` ops or
  ``SYNC_MAX_BYTES`` bytes (announced in ``hello.limits``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence

from channels.db import database_sync_to_async
from django.db.models import Count, Sum, TextField
from django.db.models.functions import Cast, Length

from collab import editing, metrics
from collab.codes import CloseCode, ErrorCode
from collab.conf import collab_settings
from collab.exceptions import CollabError, HistoryUnavailable
from collab.models import Operation
from collab.protocol import MessageType
from collab.realtime.frames import ack_frame, error_frame, op_frame, ops_frame
from collab.realtime.outbox import Outbox
from collab.text.events import OpItem, OpsCommitted

log = logging.getLogger(__name__)

CATCH_UP_CHUNK = 500  # ops read from the database at a time when catching up
MAX_QUEUED = 256  # events queued for a connection while its pump runs
OP_OVERHEAD = 200  # bytes of an op payload besides the op itself (ids, user), for the sync estimate


def sync_limits() -> dict[str, int]:
    """What ``hello.limits`` announces about ``sync`` answers."""
    cfg = collab_settings
    return {"max_sync_ops": int(cfg["SYNC_MAX_OPS"]), "max_sync_bytes": int(cfg["SYNC_MAX_BYTES"])}


def frames_for(items: Sequence[OpItem], session: str, after: int) -> list[str]:
    """The frames that carry ``items`` past version ``after`` to the connection ``session``:
    an ``ack`` for each of its own ops, and others' consecutive ops as one ``op``, or as
    one ``ops`` frame when there are several (fewer, larger frames under load)."""
    out: list[str] = []
    run: list[str] = []
    for item in items:
        if item.version <= after:
            continue
        if item.session == session:
            if run:
                out.append(ops_frame(run) if len(run) > 1 else op_frame(run[0]))
                run = []
            out.append(ack_frame(item.client_id, item.seq, item.version))
        else:
            run.append(item.payload)
    if run:
        out.append(ops_frame(run) if len(run) > 1 else op_frame(run[0]))
    return out


def split_ops(payloads: Sequence[str], max_bytes: int) -> list[str]:
    """``ops`` frames of at most about ``max_bytes`` each (one op larger than that goes alone);
    always at least one frame, so an empty answer is ``{"ops": []}``."""
    frames: list[str] = []
    run: list[str] = []
    size = 0
    for payload in payloads:
        if run and size + len(payload) > max_bytes:
            frames.append(ops_frame(run))
            run, size = [], 0
        run.append(payload)
        size += len(payload) + 1
    if run or not frames:
        frames.append(ops_frame(run))
    return frames


def _items_since(document_id: str, since: int, upto: int | None) -> list[OpItem]:
    return [OpItem.of(op) for op in editing.ops_since(document_id, since, upto=upto)]


def _sync_items(document_id: str, since: int) -> tuple[int, list[OpItem]]:
    """(current version, every op after ``since``) for a ``sync``, or HistoryUnavailable when
    that is too much (checked from the sizes in the database before anything is read)."""
    cfg = collab_settings
    size = Operation.objects.filter(document_id=document_id, version__gt=since).aggregate(
        n=Count("id"), chars=Sum(Length(Cast("op", TextField())))
    )
    estimate = int(size["chars"] or 0) + OP_OVERHEAD * int(size["n"] or 0)
    if estimate > int(cfg["SYNC_MAX_BYTES"]):
        raise HistoryUnavailable(
            f"The history after version {since} is too large to send ({estimate} bytes); "
            "reconnect to get a fresh copy."
        )
    current, ops = editing.sync_ops(document_id, since)
    return current, [OpItem.of(op) for op in ops]


fetch_items = database_sync_to_async(_items_since)
fetch_sync = database_sync_to_async(_sync_items)


class SyncRequest:
    __slots__ = ("since",)

    def __init__(self, since: int) -> None:
        self.since = since


class OpStream:
    """Acks and ops for one connection, in version order."""

    __slots__ = ("document_id", "last", "outbox", "owed", "paused", "queue", "session", "task")

    def __init__(self, *, document_id: str, session: str, outbox: Outbox) -> None:
        self.document_id = document_id
        self.session = session
        self.outbox = outbox
        self.last = 0
        self.owed = 0  # highest version committed that this connection must still get
        self.queue: deque[OpsCommitted | SyncRequest] | None = None  # made when first needed
        self.task: asyncio.Task[None] | None = None
        self.paused = True  # until ``start()``: hello goes out first

    # -- entry points ------------------------------------------------------
    def start(self, last: int) -> None:
        """Begin sending after ``hello`` (which carried the text at version ``last``)."""
        self.last = last
        self.owed = max(self.owed, last)
        self.paused = False
        if self.queue or self.owed > self.last:
            self._wake()

    def deliver(self, batch: OpsCommitted) -> None:
        if not self.outbox.open or batch.last <= self.last:
            return
        self.owed = max(self.owed, batch.last)
        behind = self.outbox.congested()
        if self.task is None and not self.paused and batch.first <= self.last + 1 and not behind:
            for text in self._frames(batch):
                self.outbox.send(text)
            self.last = batch.last
            metrics.delivered(batch.items[-1].committed_at)
            return
        if len(self.queue or ()) < MAX_QUEUED and not behind:
            self._queue().append(batch)
        # else: not kept on purpose; ``owed`` remembers it and the pump reads it back
        self._wake()

    def owe(self, version: int) -> None:
        """The document is at ``version`` (read from the database): send whatever is missing up to it
        (after a channel-layer failure, when events may never come)."""
        if not self.outbox.open or version <= self.owed:
            return
        self.owed = version
        self._wake()

    def request_sync(self, since: int) -> None:
        self._queue().append(SyncRequest(since))
        self._wake()

    def stop(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    # -- internals ---------------------------------------------------------
    def _queue(self) -> deque[OpsCommitted | SyncRequest]:
        if self.queue is None:
            self.queue = deque()
        return self.queue

    def _wake(self) -> None:
        if self.task is None and self.outbox.open and not self.paused:
            self.task = asyncio.get_running_loop().create_task(self._pump())

    def _frames(self, batch: OpsCommitted) -> list[str]:
        own = self.session if any(i.session == self.session for i in batch.items) else None
        key = (self.last, own)
        frames = batch.memo.get(key)
        if frames is None:
            frames = batch.memo[key] = frames_for(batch.items, self.session, self.last)
        return frames

    async def _drained(self) -> None:
        if not await self.outbox.wait_drained():
            raise _Stop

    async def _catch_up(self, upto: int) -> None:
        """Send everything in (last, upto] from the database: acks for own ops, ``ops`` for others'."""
        metrics.GAP_FILLS.inc()
        while self.last < upto and self.outbox.open:
            await self._drained()
            items = await fetch_items(self.document_id, self.last, min(upto, self.last + CATCH_UP_CHUNK))
            if not items:
                return
            for text in frames_for(items, self.session, self.last):
                self.outbox.send(text)
            self.last = items[-1].version
            metrics.delivered(items[-1].committed_at)

    async def _answer_sync(self, since: int) -> None:
        try:
            current, items = await fetch_sync(self.document_id, since)
        except CollabError as exc:
            self.outbox.send(error_frame(exc.code, exc.message, MessageType.SYNC.value))
            return
        limit = int(collab_settings["SYNC_FRAME_BYTES"])
        for text in split_ops([i.payload for i in items], limit):
            await self._drained()
            self.outbox.send(text)
        self.last = max(self.last, current)
        self.owed = max(self.owed, current)

    async def _pump(self) -> None:
        try:
            while self.outbox.open:
                await self._drained()
                if not self.queue:
                    if self.owed > self.last:
                        await self._catch_up(self.owed)
                        continue
                    break
                item = self._queue().popleft()
                if isinstance(item, SyncRequest):
                    await self._answer_sync(item.since)
                    continue
                if item.last <= self.last:
                    continue
                if item.first > self.last + 1:
                    log.info("gap before v%d for %s: filling from the database", item.first, self.session)
                    await self._catch_up(item.first - 1)
                for text in self._frames(item):
                    self.outbox.send(text)
                self.last = max(self.last, item.last)
                metrics.delivered(item.items[-1].committed_at)
        except _Stop:
            self.outbox.too_slow()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery to %s failed", self.session)
            await self.outbox.close(
                int(CloseCode.SERVER_ERROR),
                error_frame(ErrorCode.SERVER_ERROR, "Delivery failed; reconnect."),
            )
        finally:
            self.task = None
            if self.outbox.open and (self.queue or self.owed > self.last):
                self._wake()


class _Stop(Exception):
    """The connection stayed behind too long."""
