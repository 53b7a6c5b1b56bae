"""One live yjs document per room per process: the pycrdt ``Doc``, its awareness, its connections.

``open_room(id)`` loads the document (latest snapshot + later updates) when the
first connection arrives; every later connection shares it; it is unloaded
``YJS_UNLOAD_GRACE`` seconds after the last one leaves. A load that fails
raises for every connection waiting on it and leaves nothing behind, so the
next connection tries again.

The write path of an update (a client's sync step 2 or update, a REST write)::

    submit(update) ─ size check ─ apply to the Doc (what changed, per pycrdt's
        update event; nothing new → answered at once)
      ─ queued: updates queued while a transaction runs go into the next one
      ─ storage.append (one transaction, a version each; catches up with what
        other processes stored meanwhile)
      ─ relayed to this process's connections (the sender's own included, as
        the stock servers do) and published to the other processes
      ─ the submitter's future resolves (Hocuspocus then says SyncStatus 1)

Everything here runs on the event loop; the database is reached through
``database_sync_to_async``. A failure to store leaves the Doc ahead of the
database, so the room is dropped and its connections closed (1011): they
reconnect, sync against a fresh load, and send again what was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import logging
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

import pycrdt
from channels.db import database_sync_to_async

from collab.conf import collab_settings
from collab.realtime.events import Event
from collab.yjs import codec, storage
from collab.yjs.awareness import AwarenessTable
from collab.yjs.events import YjsAwareness, YjsUpdated
from collab.yjs.storage import Incoming, Parts

log = logging.getLogger(__name__)

_load = database_sync_to_async(storage.load)
_since = database_sync_to_async(storage.since)
_append = database_sync_to_async(storage.append)
_compact = database_sync_to_async(storage.compact)
_bytes_since = database_sync_to_async(storage.bytes_since_snapshot)
_version = database_sync_to_async(storage.current_version)


class Outcome(enum.Enum):
    STORED = "stored"
    NOTHING_NEW = "nothing_new"


class UpdateRefused(Exception):
    """An update that is not applied: ``code`` says why (invalid_update, document_too_large)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Peer(Protocol):
    """A connection to a live document (a y-websocket socket or one document of a Hocuspocus socket)."""

    session: str

    def send_body(self, body: bytes) -> None:
        """Send one message (a y-websocket frame; Hocuspocus prefixes the document name)."""

    def send_awareness(self, update: bytes, entries: list[codec.AwarenessEntry]) -> None:
        """Send an awareness update (``entries``: it, parsed); coalesced while the socket is behind."""

    def room_failed(self) -> None:
        """The live document broke (could not store): close, so the client reconnects."""


class Room:
    def __init__(self, document_id: str) -> None:
        self.document_id = document_id
        self.doc = storage.doc_of()
        self.awareness = AwarenessTable()
        self.version = 0
        self.size = 0  # bytes of the stored parts: an upper bound of the state's size
        self.since_snapshot = 0
        self.bytes_since_snapshot = 0
        self.peers: set[Peer] = set()
        self.broken = False
        self._queue: list[tuple[Incoming, asyncio.Future[Outcome] | None]] = []
        self._drain_task: asyncio.Task[None] | None = None
        self._catch_up_task: asyncio.Task[None] | None = None
        self._compacting = False
        self._unload: asyncio.TimerHandle | None = None
        self._watch: asyncio.Task[None] | None = None
        self._captured: list[bytes] | None = None
        self._subscription = self.doc.observe(self._on_doc_update)

    # -- loading --------------------------------------------------------------
    async def load(self) -> None:
        parts = await _load(self.document_id)
        self._apply_parts(parts, relay=False)
        self.size = parts.size
        self.bytes_since_snapshot = await _bytes_since(self.document_id)
        self._watch = background(self._watch_database())

    async def _watch_database(self) -> None:
        """Every ``YJS_RESYNC_INTERVAL`` seconds, catch up with what other processes stored that
        this one did not hear of (the channel layer may drop a message; the database never does)."""
        interval = float(collab_settings["YJS_RESYNC_INTERVAL"])
        while not self.broken:
            await asyncio.sleep(interval)
            try:
                current = await _version(self.document_id)
            except Exception:
                log.exception("reading the version of %s failed", self.document_id)
                continue
            if current is not None:
                self.behind(current)

    def behind(self, version: int) -> None:
        """The database holds ``version``: load what this room lacks (a dropped or lost relay)."""
        if version > self.version and self._catch_up_task is None and not self.broken:
            self._catch_up_task = background(self._catch_up())

    def _on_doc_update(self, event: Any) -> None:
        if self._captured is not None:
            self._captured.append(bytes(event.update))

    def _apply(self, update: bytes) -> list[bytes]:
        """Apply an update; the updates pycrdt says it made (empty when it held nothing new)."""
        self._captured = []
        try:
            self.doc.apply_update(update)
            return self._captured
        finally:
            self._captured = None

    def _apply_parts(self, parts: Parts, *, relay: bool = True) -> None:
        changes: list[bytes] = []
        try:
            for part in parts.parts:
                changes += self._apply(part)
        finally:  # what was applied goes out, even if a later part cannot be
            if relay:
                self.relay_updates(changes)
        self.version = max(self.version, parts.version)

    # -- reading ----------------------------------------------------------------
    def state_vector(self) -> bytes:
        return bytes(self.doc.get_state())

    def diff(self, state_vector: bytes) -> bytes:
        """What a peer with ``state_vector`` lacks (the sync step 2 answer)."""
        try:
            return bytes(self.doc.get_update(state_vector))
        except ValueError as exc:
            raise UpdateRefused("invalid_message", "The state vector cannot be decoded.") from exc

    def covers(self, update: bytes) -> bool:
        """True if ``update`` holds nothing this document lacks (checked on a scratch copy)."""
        if update == storage.EMPTY_UPDATE:
            return True
        scratch = storage.doc_of([self.doc.get_update()])
        changed: list[bytes] = []
        sub = scratch.observe(lambda event: changed.append(event.update))
        try:
            scratch.apply_update(update)
        except ValueError:
            return False
        finally:
            scratch.unobserve(sub)
        return not changed

    # -- writing ----------------------------------------------------------------
    def _check_size(self, update: bytes) -> None:
        maximum = int(collab_settings["MAX_DOCUMENT_BYTES"])
        if self.size + len(update) <= maximum:
            return
        try:
            exact = len(pycrdt.merge_updates(self.doc.get_update(), update))
        except ValueError as exc:
            raise UpdateRefused("invalid_update", "The update cannot be decoded.") from exc
        if exact > maximum:
            raise UpdateRefused(
                "document_too_large",
                f"The document would take {exact} bytes; at most {maximum} are allowed.",
            )
        self.size = exact - len(update)  # the exact size, so the next checks start from it

    def offer(self, update: bytes, *, user: Any = None, session: str = "") -> asyncio.Future[Outcome]:
        """Apply an update now (in the order offers are made) and queue it for storing.

        Raises ``UpdateRefused`` at once (nothing applied, nothing stored) for an
        update that cannot be decoded or would make the document too large. The
        future resolves once it is stored and relayed, at once when it held
        nothing new, or with ``UpdateRefused`` when storing failed.
        """
        if self.broken:
            raise UpdateRefused("server_error", "The document is being reloaded; reconnect.")
        self._check_size(update)
        try:
            changes = self._apply(update)
        except ValueError as exc:
            raise UpdateRefused("invalid_update", "The update cannot be decoded.") from exc
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        if not changes:
            future.set_result(Outcome.NOTHING_NEW)
            return future
        for i, change in enumerate(changes):  # the future resolves when the last one is stored
            self.size += len(change)
            self._queue.append((Incoming(change, user, session), future if i == len(changes) - 1 else None))
        if self._drain_task is None:
            self._drain_task = background(self._drain())
        return future

    async def submit(self, update: bytes, *, user: Any = None, session: str = "") -> Outcome:
        """``offer`` and wait until it is stored."""
        return await self.offer(update, user=user, session=session)

    async def _drain(self) -> None:
        limit = int(collab_settings["GROUP_COMMIT_MAX"])
        try:
            while self._queue and not self.broken:
                batch, self._queue = self._queue[:limit], self._queue[limit:]
                try:
                    done = await _append(self.document_id, [i for i, _ in batch], known=self.version)
                except Exception as exc:
                    log.exception("storing yjs updates of %s failed", self.document_id)
                    self._fail([f for _, f in batch + self._queue if f is not None], exc)
                    return
                if done.missed is not None:
                    self._apply_parts(done.missed)
                self.version = max(self.version, done.last)
                self.since_snapshot = done.since_snapshot
                updates = [i.data for i, _ in batch]
                self.bytes_since_snapshot += sum(len(u) for u in updates)
                self.relay_updates(updates)
                publish(self, YjsUpdated(self.document_id, done.first, done.last, updates))
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_result(Outcome.STORED)
                self._maybe_compact()
        finally:
            self._drain_task = None

    def _fail(self, futures: list[asyncio.Future[Outcome]], exc: Exception) -> None:
        """The Doc holds what the database does not: drop the room, close its connections."""
        self.broken = True
        self._queue = []
        for future in futures:
            if not future.done():
                future.set_exception(
                    UpdateRefused("server_error", "The update could not be stored; resend it.")
                )
        _forget(self)
        for peer in list(self.peers):
            with contextlib.suppress(Exception):
                peer.room_failed()

    def _maybe_compact(self) -> None:
        if self._compacting or not storage.should_compact(self.since_snapshot, self.bytes_since_snapshot):
            return
        self._compacting = True

        async def run() -> None:
            try:
                if await _compact(self.document_id) is not None:
                    self.since_snapshot = 0
                    self.bytes_since_snapshot = 0
                    self.size = len(self.doc.get_update())
            except Exception:
                log.exception("compacting %s failed", self.document_id)
            finally:
                self._compacting = False

        background(run())

    # -- awareness ---------------------------------------------------------------
    def awareness_from(self, session: str, update: bytes) -> None:
        """A peer's awareness update: merged, relayed to everyone here (the sender too) and elsewhere."""
        entries = codec.read_awareness(update)
        self.awareness.apply(entries, session)
        self.relay_awareness(update, entries)
        publish(self, YjsAwareness(self.document_id, session, update))

    def awareness_everything(self) -> bytes | None:
        return self.awareness.everything()

    def drop_session(self, session: str, *, announce: bool = True) -> None:
        """Remove the awareness clients ``session`` introduced, for everyone here (and elsewhere)."""
        removal = self.awareness.removal(session)
        if removal is None:
            return
        self.relay_awareness(removal, codec.read_awareness(removal))
        if announce:
            publish(self, YjsAwareness(self.document_id, session, removal))

    # -- fan-out -------------------------------------------------------------------
    def relay_updates(self, updates: list[bytes]) -> None:
        """Updates as one merged update: one frame per connection, as the text kind's ``ops`` frames."""
        if updates:
            self.relay(codec.sync_update(updates[0] if len(updates) == 1 else pycrdt.merge_updates(*updates)))

    def relay(self, body: bytes) -> None:
        for peer in list(self.peers):
            try:
                peer.send_body(body)
            except Exception:
                log.exception("sending to %s failed", peer.session)

    def relay_awareness(self, update: bytes, entries: list[codec.AwarenessEntry]) -> None:
        for peer in list(self.peers):
            try:
                peer.send_awareness(update, entries)
            except Exception:
                log.exception("sending awareness to %s failed", peer.session)

    # -- from other processes --------------------------------------------------------
    def remote_updated(self, first: int, last: int, updates: list[bytes]) -> None:
        gap = first > self.version + 1
        changes: list[bytes] = []
        for data in updates:
            try:
                changes += self._apply(data)
            except ValueError:
                log.warning("an update from another process for %s cannot be decoded", self.document_id)
        self.relay_updates(changes)
        if not gap:
            self.version = max(self.version, last)
        elif self._catch_up_task is None:
            self._catch_up_task = background(self._catch_up())

    async def _catch_up(self) -> None:
        try:
            self._apply_parts(await _since(self.document_id, self.version))
        except Exception:
            log.exception("catching up %s from the database failed", self.document_id)
        finally:
            self._catch_up_task = None

    def remote_awareness(self, session: str, update: bytes) -> None:
        try:
            entries = codec.read_awareness(update)
        except codec.FrameError:
            return
        self.awareness.apply(entries, session)
        self.relay_awareness(update, entries)

    def sessions_left(self, sessions: list[str]) -> None:
        """Presence says these sessions are gone (closed, or their process died)."""
        for session in sessions:
            self.drop_session(session, announce=False)

    # -- lifetime ---------------------------------------------------------------------
    def attach(self, peer: Peer) -> None:
        if self._unload is not None:
            self._unload.cancel()
            self._unload = None
        self.peers.add(peer)

    def detach(self, peer: Peer) -> None:
        self.peers.discard(peer)
        self.drop_session(peer.session)
        if not self.peers and not self.broken:
            grace = float(collab_settings["YJS_UNLOAD_GRACE"])
            self._unload = asyncio.get_running_loop().call_later(grace, self._unload_if_idle)

    def _unload_if_idle(self) -> None:
        self._unload = None
        if self.peers:
            return
        if self._drain_task is not None:  # still storing: look again later
            self._unload = asyncio.get_running_loop().call_later(1.0, self._unload_if_idle)
            return
        _forget(self)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        with contextlib.suppress(Exception):
            self.doc.unobserve(self._subscription)


# -- the process's rooms ----------------------------------------------------------------
T = TypeVar("T")


def background(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task of the room, not of the connection that started it: a fresh context, so it does not
    run its database calls on (and die with) the executor of a connection that has closed."""
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


_rooms: dict[str, Room] = {}
_loading: dict[str, asyncio.Future[Room]] = {}


def publish(room: Room, event: Event) -> None:
    from collab.yjs import bus

    bus.publish(room, event)


def _forget(room: Room) -> None:
    if _rooms.get(room.document_id) is room:
        del _rooms[room.document_id]
        from collab.yjs import bus

        bus.leave(room)
    room.close()


async def open_room(document_id: str) -> Room:
    """The live room of a document, loaded on first use; raises if loading fails (nothing is kept)."""
    room = _rooms.get(document_id)
    if room is not None:
        return room
    pending = _loading.get(document_id)
    if pending is not None:
        return await asyncio.shield(pending)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Room] = loop.create_future()
    _loading[document_id] = future
    try:
        room = Room(document_id)
        from collab.yjs import bus

        await bus.join(room)  # first, so nothing published while loading is missed
        try:
            await background(room.load())
        except BaseException:
            bus.leave(room)
            room.close()
            raise
        _rooms[document_id] = room
        future.set_result(room)
        return room
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters get it, nobody logs it as lost
        raise
    finally:
        del _loading[document_id]


def loaded(document_id: str) -> Room | None:
    return _rooms.get(document_id)


def reset() -> None:
    """Forget every room (tests: each test has its own event loop)."""
    from collab.yjs import bus

    for room in list(_rooms.values()):
        room.close()
    _rooms.clear()
    _loading.clear()
    bus.reset()
