"""The process's hub: who is in which room here, and the relay of room events between processes.

One channel-layer message per process per event, not one per connection. The
hub owns one channel on the layer and joins a room's group while it has local
members in that room. ``publish`` hands the event to this process's members
at once and sends one group message for the other processes, whose listener
hands it to their own members (an event that came from this process is not
delivered twice). The hub knows nothing of document kinds: an event is any
registered ``Event``, a member anything with ``session`` and ``on_event``::

    await hub().join(doc_id, member)
    await hub().publish(doc_id, DocumentDeleted(doc_id))
    hub().publish_from_sync(doc_id, AccessChanged(doc_id))   # from views, admin, threads

``group_send`` may drop a message when a queue is full: members that need
every event (the text kind's ops) detect the gap and read the database.
``rejoin()`` subscribes every room again: what a layer that lost its state needs.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from collab import metrics
from collab.realtime.events import PROCESS_ID, Event, from_message, to_message

log = logging.getLogger(__name__)
MESSAGE_TYPE = "hub.event"
# channel-layer calls under way at once per process: a reconnect storm's room joins and presence
# diffs must wait their turn, not exhaust the layer's connection pool (channels_redis: 100, and
# over that every call fails, a handshake's ``group_add`` with it)
LAYER_CALLS = 32


def group_name(room: str) -> str:
    """The channel-layer group of a room (ASCII, well under 100 characters)."""
    return f"collab.doc.{room}"


class Member(Protocol):
    """A local connection as the hub sees it."""

    session: str

    def on_event(self, event: Event) -> None:
        """Called on the event loop; must not block or raise."""


class Hub:
    """This process's rooms and their members, and the one channel it listens on."""

    def __init__(self, process_id: str = PROCESS_ID) -> None:
        self.process_id = process_id  # what this hub's layer messages are stamped with
        self._rooms: dict[str, set[Member]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.layer: Any = None
        self.channel: str | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self._failing = False  # the layer failed and has not worked since: log once per outage
        self._gate: asyncio.Semaphore | None = None  # LAYER_CALLS, on self.loop

    # -- membership ---------------------------------------------------------
    @property
    def remote(self) -> bool:
        """True when other processes share the layer (not the in-memory one)."""
        return self.layer is not None and not isinstance(self.layer, InMemoryChannelLayer)

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a new event loop (tests): start afresh
            self.loop, self.channel, self._listener = loop, None, None
            self._gate = asyncio.Semaphore(LAYER_CALLS)
            self.layer = get_channel_layer()
        if self.remote and self.channel is None:
            self.channel = await self.layer.new_channel(prefix="collab.process")
            self._listener = loop.create_task(self._listen())

    async def join(self, room: str, member: Member) -> None:
        await self._start()
        members = self._rooms.setdefault(room, set())
        first = not members
        members.add(member)
        if first and self.remote:
            await self._subscribe(room)

    async def leave(self, room: str, member: Member) -> None:
        members = self._rooms.get(room)
        if members is None or member not in members:
            return
        members.discard(member)
        if not members:
            del self._rooms[room]
            if self.remote and self.channel is not None:
                try:
                    await self._layer_call(self.layer.group_discard, group_name(room), self.channel)
                except Exception:
                    log.exception("leaving the group of %s failed", room)

    def members(self, room: str) -> list[Member]:
        return list(self._rooms.get(room, ()))

    def rooms(self) -> list[str]:
        """Rooms with members in this process."""
        return list(self._rooms)

    async def _subscribe(self, room: str) -> None:
        await self._layer_call(self.layer.group_add, group_name(room), self.channel)

    async def rejoin(self) -> None:
        """Subscribe every room again (after the layer lost its groups)."""
        for room in self.rooms():
            await self._subscribe(room)

    # -- relay ----------------------------------------------------------------
    def deliver_local(self, room: str, event: Event) -> None:
        """Hand ``event`` to this process's members of ``room``; one failure never stops the others."""
        for member in list(self._rooms.get(room, ())):
            try:
                member.on_event(event)
            except Exception:
                log.exception("event %s to %s failed", type(event).__name__, member.session)

    async def publish(self, room: str, event: Event) -> None:
        self.deliver_local(room, event)
        if self.remote:
            try:
                await self._layer_call(self.layer.group_send, group_name(room), self._message(room, event))
                metrics.LAYER_SENT.inc()
            except Exception:  # members that need every event fill gaps from the database
                self._layer_failed("publishing to %s failed", room)
            else:
                self._layer_works()

    def publish_from_sync(self, room: str, event: Event) -> None:
        """``publish`` from synchronous code: views, the admin, signal receivers, threads."""
        self._in_loop(self.deliver_local, room, event)
        layer = get_channel_layer()
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            return
        try:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                async_to_sync(layer.group_send)(group_name(room), self._message(room, event))
                metrics.LAYER_SENT.inc()
                return
            # inside an event loop already (an async caller of the sync API): fire and forget
            task = asyncio.ensure_future(layer.group_send(group_name(room), self._message(room, event)))
            metrics.LAYER_SENT.inc()
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        except Exception:
            self._layer_failed("publishing to %s failed", room)

    async def _layer_call(self, method: Any, *args: Any) -> Any:
        """``await method(*args)`` with at most ``LAYER_CALLS`` of them under way."""
        if self._gate is None:
            self._gate = asyncio.Semaphore(LAYER_CALLS)
        async with self._gate:
            return await method(*args)

    def _in_loop(self, fn: Any, *args: Any) -> None:
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

    def _layer_failed(self, what: str, *args: Any) -> None:
        """Log a layer failure with its traceback once per outage (an outage fails every call)."""
        if self._failing:
            log.debug(what, *args, exc_info=True)
            return
        self._failing = True
        log.exception(what + " (further layer failures are logged at debug until it works again)", *args)

    def _layer_works(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("the channel layer works again")

    def _message(self, room: str, event: Event) -> dict[str, Any]:
        return {"type": MESSAGE_TYPE, "origin": self.process_id, "room": room, "event": to_message(event)}

    async def _listen(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._layer_failed("channel layer receive failed; retrying")
                await asyncio.sleep(0.5)
                continue
            self._layer_works()
            if message.get("type") != MESSAGE_TYPE or message.get("origin") == self.process_id:
                continue  # our own events were delivered locally when published
            metrics.LAYER_RECEIVED.inc()
            try:
                event = from_message(message["event"])
            except Exception:
                log.exception("an event from another process could not be read")
                continue
            self.deliver_local(message["room"], event)


_hub = Hub()


def hub() -> Hub:
    """The process's hub."""
    return _hub


def reset() -> None:
    """Forget every room (tests: each test has its own event loop)."""
    global _hub
    _hub = Hub()
