"""Per-connection ordered delivery: acks and ops in version order, gaps filled, slow clients bounded.

Each document connection has one ``Outbox``. It remembers the last version it
sent (``last``) and guarantees PROTOCOL.md section 5's ordering: ``ack`` and
``op`` frames leave in strictly increasing version order with no gaps.

- Fast path: the connection is up to date and the server's write buffer is
  small, so the batch's frames are written at once (no task, no copy).
- A batch that starts after ``last + 1`` (the channel layer dropped one, or
  another process committed in between) makes the pump read the missing ops
  from the database first.
- Slow clients: when more than ``SLOW_CLIENT_BUFFER_BYTES`` wait in the
  server's buffer for this socket, the outbox stops writing and keeps only the
  highest version it owes (memory stays bounded: the ops are in the database).
  When the buffer drains it catches up with ``ops`` frames read from the
  database; if it stays behind for ``SLOW_CLIENT_TIMEOUT`` seconds the
  connection is closed with 4408. Others are never waited on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from channels.db import database_sync_to_async

from collab import editing, metrics
from collab.conf import collab_settings
from collab.exceptions import CollabError
from collab.protocol import CloseCode, ErrorCode, MessageType, dumps
from collab.realtime.frames import ack_frame, error_frame, op_frame, ops_frame
from collab.text.events import OpItem, OpsCommitted
from collab.transport import Sink

log = logging.getLogger(__name__)

CATCH_UP_CHUNK = 500  # ops per ``ops`` frame when catching up
MAX_QUEUED = 256  # batches queued for a connection whose buffer cannot be read


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


def _items_since(document_id: str, since: int, upto: int | None) -> list[OpItem]:
    return [OpItem.of(op) for op in editing.ops_since(document_id, since, upto=upto)]


fetch_items = database_sync_to_async(_items_since)
fetch_sync = database_sync_to_async(editing.sync_ops)


class SyncRequest:
    __slots__ = ("since",)

    def __init__(self, since: int) -> None:
        self.since = since


class Outbox:
    __slots__ = (
        "close", "closed", "document_id", "high", "last", "owed", "paused",
        "queue", "send", "session", "sink", "task", "timeout",
    )  # fmt: skip

    def __init__(
        self,
        *,
        document_id: str,
        session: str,
        last: int,
        sink: Sink,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str, str], Awaitable[None]],
    ) -> None:
        self.document_id = document_id
        self.session = session
        self.last = last
        self.sink = sink
        self.send = send
        self.close = close
        self.queue: deque[OpsCommitted | SyncRequest] | None = None  # made when first needed
        self.owed = last  # highest version committed that this connection must still get
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        self.paused = True  # until ``start()``: hello goes out first
        cfg = collab_settings
        self.high = int(cfg["SLOW_CLIENT_BUFFER_BYTES"])
        self.timeout = float(cfg["SLOW_CLIENT_TIMEOUT"])

    # -- entry points ------------------------------------------------------
    def start(self, last: int) -> None:
        """Begin sending after ``hello`` (which carried the text at version ``last``)."""
        self.last = last
        self.owed = max(self.owed, last)
        self.paused = False
        if self.queue or self.owed > self.last:
            self._wake()

    def deliver(self, batch: OpsCommitted) -> None:
        if self.closed or batch.last <= self.last:
            return
        self.owed = max(self.owed, batch.last)
        if (
            self.task is None
            and not self.paused
            and batch.first <= self.last + 1
            and self.sink.sync
            and not self.congested()
        ):
            try:
                for text in self._frames(batch):
                    self.sink.write_now(text)
            except Exception:  # the socket is gone; disconnect cleans up
                self.closed = True
                return
            self.last = batch.last
            metrics.delivered(batch.items[-1].committed_at)
            return
        if len(self.queue or ()) < MAX_QUEUED and not (self.sink.sync and self.congested()):
            self._queue().append(batch)
        # else: not kept on purpose; ``owed`` remembers it and the pump reads it back
        self._wake()

    def owe(self, version: int) -> None:
        """The document is at ``version`` (read from the database): send whatever is missing up to it
        (after a channel-layer failure, when events may never come)."""
        if self.closed or version <= self.owed:
            return
        self.owed = version
        self._wake()

    def request_sync(self, since: int) -> None:
        self._queue().append(SyncRequest(since))
        self._wake()

    def stop(self) -> None:
        self.closed = True
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    # -- internals ---------------------------------------------------------
    def _queue(self) -> deque[OpsCommitted | SyncRequest]:
        if self.queue is None:
            self.queue = deque()
        return self.queue

    def congested(self) -> bool:
        buffered = self.sink.buffered()
        return buffered is not None and buffered > self.high

    def _wake(self) -> None:
        if self.task is None and not self.closed and not self.paused:
            self.task = asyncio.get_running_loop().create_task(self._pump())

    def _frames(self, batch: OpsCommitted) -> list[str]:
        own = self.session if any(i.session == self.session for i in batch.items) else None
        key = (self.last, own)
        frames = batch.memo.get(key)
        if frames is None:
            frames = batch.memo[key] = frames_for(batch.items, self.session, self.last)
        return frames

    async def _write(self, text: str) -> None:
        try:
            if self.sink.sync:
                self.sink.write_now(text)
            else:
                await self.send(text)
        except Exception as exc:  # the socket is gone; its disconnect cleans up
            raise _Gone from exc

    async def _wait_until_drained(self) -> bool:
        """Wait while the client is too slow; False if it stayed slow past the timeout."""
        started = time.monotonic()
        while self.congested():
            if time.monotonic() - started > self.timeout:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _catch_up(self, upto: int) -> None:
        """Send everything in (last, upto] from the database: acks for own ops, ``ops`` for others'."""
        metrics.GAP_FILLS.inc()
        while self.last < upto and not self.closed:
            items = await fetch_items(self.document_id, self.last, min(upto, self.last + CATCH_UP_CHUNK))
            if not items:
                return
            for text in frames_for(items, self.session, self.last):
                await self._write(text)
            self.last = items[-1].version
            metrics.delivered(items[-1].committed_at)
            if not await self._wait_until_drained():
                raise _TooSlow

    async def _answer_sync(self, since: int) -> None:
        try:
            current, ops = await fetch_sync(self.document_id, since)
        except CollabError as exc:
            await self._write(error_frame(exc.code, exc.message, MessageType.SYNC.value))
            return
        payloads = [dumps(op.payload()) for op in ops]
        await self._write(ops_frame(payloads))
        self.last = max(self.last, current)
        self.owed = max(self.owed, current)

    async def _pump(self) -> None:
        try:
            while not self.closed:
                if not await self._wait_until_drained():
                    raise _TooSlow
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
                    await self._write(text)
                self.last = max(self.last, item.last)
                metrics.delivered(item.items[-1].committed_at)
        except _TooSlow:
            log.info("closing %s: too slow to keep up", self.session)
            self.closed = True
            await self.close(CloseCode.TOO_SLOW, ErrorCode.TOO_SLOW, "You fell too far behind; reconnect.")
            self.sink.abort()
        except _Gone:
            log.debug("delivery to %s stopped: the socket is closed", self.session)
            self.closed = True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery to %s failed", self.session)
            self.closed = True
            await self.close(CloseCode.SERVER_ERROR, ErrorCode.SERVER_ERROR, "Delivery failed; reconnect.")
        finally:
            self.task = None
            if not self.closed and (self.queue or self.owed > self.last):
                self._wake()


class _TooSlow(Exception):
    pass


class _Gone(Exception):
    pass
