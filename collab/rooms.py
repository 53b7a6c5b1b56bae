"""Rooms: group names, publishing committed ops and room events, and the process's connection manager.

One channel-layer message per process per commit, not one per connection:
each server process has a ``RoomManager`` that owns one channel on the layer
and joins a document's group while it has local connections in that document.
A publish delivers to this process's connections directly and sends one
message to the group for the other processes, whose listener hands it to
their own connections (skipping messages that came from themselves). Each
connection then writes an already-serialized frame: JSON is encoded once per
op, never per subscriber.

``group_send`` may drop a message when a queue is full; that is safe here,
because each connection's ``Outbox`` notices the gap in versions and reads the
missing ops from the database before sending anything later.

Room events (presence diffs, cursors, role and deletion notices) travel the
same way as ``{"kind": ..., ...}`` dicts.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import signal
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from collab import editing
from collab.editing import CommittedOp
from collab.protocol import dumps

log = logging.getLogger(__name__)

PROCESS_ID = uuid.uuid4().hex


def group_name(document_id: str) -> str:
    """The channel-layer group of a document (ASCII, well under 100 characters)."""
    return f"collab.doc.{document_id}"


@dataclass(frozen=True, slots=True)
class OpItem:
    version: int
    session: str
    client_id: str
    seq: int | None
    payload: str  # the op payload, serialized once

    @classmethod
    def of(cls, op: CommittedOp) -> OpItem:
        return cls(op.version, op.session, op.client_id, op.seq, dumps(op.payload()))


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive committed ops of one document, ascending."""

    document_id: str
    items: tuple[OpItem, ...]
    # frames already built for a (last version sent, sender session) pair: most
    # subscribers of a batch get exactly the same frames, built once
    memo: dict[tuple[int, str | None], list[str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def first(self) -> int:
        return self.items[0].version

    @property
    def last(self) -> int:
        return self.items[-1].version

    @classmethod
    def of(cls, document_id: str, ops: Sequence[CommittedOp]) -> Batch:
        return cls(document_id, tuple(OpItem.of(op) for op in sorted(ops, key=lambda o: o.version)))

    def to_message(self) -> dict[str, Any]:
        return {
            "doc": self.document_id,
            "items": [[i.version, i.session, i.client_id, i.seq, i.payload] for i in self.items],
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Batch:
        return cls(message["doc"], tuple(OpItem(*item) for item in message["items"]))


def _ops_message(batch: Batch) -> dict[str, Any]:
    """The one channel-layer message other processes get for a committed batch."""
    return {"type": "room.ops", "origin": PROCESS_ID, "batch": batch.to_message()}


def _event_message(document_id: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "room.event", "origin": PROCESS_ID, "doc": document_id, "event": event}


class Member(Protocol):
    """A local connection as the manager sees it (the consumers implement this)."""

    session: str

    def deliver(self, batch: Batch) -> None: ...

    def room_event(self, event: dict[str, Any]) -> None: ...


class RoomManager:
    """This process's registry of local connections per document."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[Member]] = {}
        self.watchers: dict[str, set[Member]] = {}  # presence-room subscribers
        self.loop: asyncio.AbstractEventLoop | None = None
        self.layer: Any = None
        self.channel: str | None = None
        self._listener: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._pending_sends: set[asyncio.Future[Any]] = set()

    # -- membership -------------------------------------------------------
    @property
    def remote(self) -> bool:
        return self.layer is not None and not isinstance(self.layer, InMemoryChannelLayer)

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a new event loop (tests): start afresh
            self.loop, self.channel, self._listener, self._sweeper = loop, None, None, None
            self.layer = get_channel_layer()
        if self.remote and self.channel is None:
            self.channel = await self.layer.new_channel(prefix="collab.process")
            self._listener = loop.create_task(self._listen())
        if self._sweeper is None:
            from collab.live import sweep_forever

            self._install_shutdown_hook(loop)

            self._sweeper = loop.create_task(sweep_forever(self))

    async def _track(self, table: dict[str, set[Member]], document_id: str, member: Member) -> None:
        await self._start()
        first = not self.rooms.get(document_id) and not self.watchers.get(document_id)
        table.setdefault(document_id, set()).add(member)
        if first and self.remote:
            await self.layer.group_add(group_name(document_id), self.channel)

    async def _untrack(self, table: dict[str, set[Member]], document_id: str, member: Member) -> None:
        members = table.get(document_id)
        if members is not None:
            members.discard(member)
            if not members:
                del table[document_id]
        if not self.rooms.get(document_id) and not self.watchers.get(document_id) and self.remote:
            await self.layer.group_discard(group_name(document_id), self.channel)

    def _install_shutdown_hook(self, loop: asyncio.AbstractEventLoop) -> None:
        """On SIGTERM/SIGINT, close every socket with 1001 first, then let the server stop.

        Servers drop connections on shutdown without a close frame (clients see
        1006); a 1001 tells clients the server is going away and to reconnect.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)

            def handler(num: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self._go_away, num, frame, previous)

            signal.signal(signum, handler)

    def _go_away(self, signum: int, frame: Any, previous: Any) -> None:
        for table in (self.rooms, self.watchers):
            for members in list(table.values()):
                for member in list(members):
                    going_away = getattr(member, "going_away", None)
                    if going_away is not None:
                        going_away()

        def chain() -> None:
            signal.signal(signum, previous)
            if callable(previous):
                previous(signum, frame)
            else:
                signal.raise_signal(signum)

        loop = asyncio.get_running_loop()
        loop.call_later(0.3, chain)  # time for the close frames to leave

    async def join(self, document_id: str, member: Member) -> None:
        await self._track(self.rooms, document_id, member)

    async def leave(self, document_id: str, member: Member) -> None:
        await self._untrack(self.rooms, document_id, member)

    async def watch(self, document_id: str, member: Member) -> None:
        await self._track(self.watchers, document_id, member)

    async def unwatch(self, document_id: str, member: Member) -> None:
        await self._untrack(self.watchers, document_id, member)

    def members(self, document_id: str) -> list[Member]:
        return list(self.rooms.get(document_id, ()))

    # -- local delivery ---------------------------------------------------
    def deliver_local(self, batch: Batch) -> None:
        for member in list(self.rooms.get(batch.document_id, ())):
            try:
                member.deliver(batch)
            except Exception:  # one broken connection never stops the others
                log.exception("delivery to %s failed", member.session)

    def event_local(self, document_id: str, event: dict[str, Any]) -> None:
        targets = list(self.rooms.get(document_id, ()))
        if event.get("kind") == "presence":
            targets += list(self.watchers.get(document_id, ()))
        for member in targets:
            try:
                member.room_event(event)
            except Exception:
                log.exception("room event to %s failed", member.session)

    async def _listen(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("channel layer receive failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message.get("origin") == PROCESS_ID:
                continue
            if message.get("type") == "room.ops":
                self.deliver_local(Batch.from_message(message["batch"]))
            elif message.get("type") == "room.event":
                self.event_local(message["doc"], message["event"])

    # -- publishing -------------------------------------------------------
    async def publish(self, document_id: str, ops: Sequence[CommittedOp]) -> None:
        if not ops:
            return
        batch = Batch.of(document_id, ops)
        self.deliver_local(batch)
        if self.remote:
            await self._group_send(document_id, _ops_message(batch))

    async def publish_event(self, document_id: str, event: dict[str, Any]) -> None:
        event["doc"] = document_id
        self.event_local(document_id, event)
        if self.remote:
            await self._group_send(document_id, _event_message(document_id, event))

    async def _group_send(self, document_id: str, message: dict[str, Any]) -> None:
        try:
            await self.layer.group_send(group_name(document_id), message)
        except Exception:  # the database still has the ops; gaps are filled from it
            log.exception("group_send to %s failed", document_id)

    # -- from synchronous code (REST views, admin, signals) ---------------
    def publish_from_sync(self, document_id: str, ops: Sequence[CommittedOp]) -> None:
        batch = Batch.of(document_id, ops)
        self._call_in_loop(self.deliver_local, batch)
        self._remote_from_sync(document_id, _ops_message(batch))

    def event_from_sync(self, document_id: str, event: dict[str, Any]) -> None:
        event["doc"] = document_id
        self._call_in_loop(self.event_local, document_id, event)
        self._remote_from_sync(document_id, _event_message(document_id, event))

    def _call_in_loop(self, fn: Any, *args: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            # a fresh context: the caller's (a sync_to_async thread) must not leak
            # into tasks the callback starts, or asgiref sees a nested executor
            loop.call_soon_threadsafe(fn, *args, context=contextvars.Context())

    def _remote_from_sync(self, document_id: str, message: dict[str, Any]) -> None:
        layer = get_channel_layer()
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            async_to_sync(layer.group_send)(group_name(document_id), message)
            return
        # already inside an event loop (an async caller using the sync API): fire and forget
        task = asyncio.ensure_future(layer.group_send(group_name(document_id), message))
        self._pending_sends.add(task)
        task.add_done_callback(self._pending_sends.discard)


_manager = RoomManager()


def manager() -> RoomManager:
    return _manager


def reset() -> None:
    """Forget every room (tests: each test has its own event loop)."""
    global _manager
    _manager = RoomManager()


def _sync_publisher(document_id: str, ops: Sequence[CommittedOp]) -> None:
    manager().publish_from_sync(document_id, ops)


def install() -> None:
    """Make ``editing.commit`` publish what REST and admin writes commit."""
    editing.publisher = _sync_publisher
