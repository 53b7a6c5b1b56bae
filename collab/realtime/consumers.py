"""WebSocket consumers: the connection lifecycle and the receive loop, for every document kind.

``BaseConsumer`` gives a connection its session id, its ``Outbox`` (the only
write path of the socket) and its ``Limits``, and runs the receive loop:
limits -> ``parse`` -> ``handle``, every error a client can cause answered as
an ``error`` frame. ``cleanup()`` (leave rooms and presence) runs on every way
out of a connection, in a ``finally`` that nothing skips: whatever the server
raises (a socket reset during the handshake, a failing close), no ghost stays.
A document kind subclasses it (``collab.text.consumer.DocumentConsumer``).

``PresenceConsumer`` (``/ws/presence/``) lets a client watch the presence of
several documents without their edit streams.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from collab import access
from collab.codes import CloseCode, ErrorCode
from collab.connection_log import Tracked
from collab.exceptions import CollabError, NotFound, ProtocolError
from collab.models import Document
from collab.protocol import DocumentsPayload, Ping, Subscribe, Unsubscribe, parse_presence_room, ref_of
from collab.realtime import credentials, runtime
from collab.realtime.events import AccessChanged, DocumentDeleted, Event, PresenceChanged
from collab.realtime.frames import error_frame, pong_frame, presence_snapshot_frame, subscribed_frame
from collab.realtime.hub import hub
from collab.realtime.limits import Limits, Verdict
from collab.realtime.outbox import TOO_SLOW_FRAME, Frame, Outbox
from collab.realtime.presence import PresenceFeed, call
from collab.realtime.presence_store import registry
from collab.realtime.transport import sink_for

log = logging.getLogger(__name__)


class DirectLoop(AsyncWebsocketConsumer):
    """Channels' ``AsyncConsumer.__call__`` for a consumer with no channel of its own (the hub
    relays for the process): each message from the server is dispatched as it is received, without
    a channel-layer lookup per connection or a task and an ``asyncio.wait`` per message."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass


class BaseConsumer(Tracked, DirectLoop):
    """Lifecycle and receive loop; subclasses give ``connect``, ``parse``, ``handle``, ``cleanup``."""

    too_slow_frame: Frame | None = TOO_SLOW_FRAME  # what the client reads before a 4408 close
    session: str
    user: Any
    outbox: Outbox
    limits: Limits

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            self.going_away()  # the server is shutting down: 1001, "come back"
            raise
        except OSError as exc:  # e.g. uvicorn's ClientDisconnected: a socket that is gone is normal
            log.debug("connection %s ended: %r", getattr(self, "session", "?"), exc)
        finally:
            await asyncio.shield(self._last_cleanup())

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels 4.2+ hops to a thread to close old DB connections before every
        # handler; ours touch the database only inside database_sync_to_async,
        # which does that itself, so the hop is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def setup(self) -> None:
        """Session, user, limits and outbox; the runtime started. First thing in ``connect``."""
        self.session = uuid.uuid4().hex
        self.user = self.scope.get("user")
        self.limits = Limits.from_settings()
        self.outbox = Outbox(
            self.base_send,
            sink_for(self.base_send),
            name=self.session,
            on_too_slow=self._left_behind,
            too_slow_frame=self.too_slow_frame,
        )
        runtime.ensure_started()

    # -- writing and closing -----------------------------------------------------
    def send_frame(self, frame: str | bytes) -> None:
        self.outbox.send(frame)

    async def close_with(self, code: int, error: str, message: str) -> None:
        """Tell the client why (an ``error`` frame), close with ``code``, and clean up at once."""
        await self.shut(int(code), error_frame(error, message))

    async def shut(self, code: int, frame: str | bytes | None = None) -> None:
        """Close with ``code`` (after ``frame``, the reason) and clean up at once."""
        if not self.outbox.open:
            return
        self.close_code(code)
        closing = self.outbox.close(code, frame)  # queued now, after what is queued
        await self._leave()  # at once: the client's close frame may never come
        await closing

    def going_away(self) -> None:
        """The server is shutting down: close with 1001 so the client reconnects elsewhere."""
        outbox = getattr(self, "outbox", None)
        if outbox is not None and outbox.open:
            self.close_code(CloseCode.GOING_AWAY)
            runtime.spawn(outbox.close(int(CloseCode.GOING_AWAY)), "closing with 1001")

    def _left_behind(self) -> None:
        self.close_code(CloseCode.TOO_SLOW)
        runtime.spawn(self._leave(), "cleaning up after 4408")

    async def disconnect(self, code: int) -> None:
        self.outbox.lost()
        await self._leave()

    async def cleanup(self) -> None:
        """Leave rooms and presence (the kind's own). Idempotent."""

    async def _leave(self) -> None:
        """Every way out: stop watching the credentials, then the kind's cleanup."""
        await credentials.unwatch(self)
        await self.cleanup()

    async def _last_cleanup(self) -> None:
        outbox = getattr(self, "outbox", None)
        if outbox is not None:
            outbox.lost()
        try:
            await self._leave()
        except Exception:
            log.exception("cleaning up %s failed", getattr(self, "session", "?"))

    # -- the receive loop --------------------------------------------------------
    def parse(self, raw: str | bytes | None) -> Any:
        raise NotImplementedError

    async def handle(self, message: Any) -> None:
        raise NotImplementedError

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else bytes_data
        if not self.outbox.open or self.limited(raw):
            return
        try:
            message = self.parse(raw)
        except ProtocolError as exc:
            self.invalid(exc)
            return
        try:
            await self.handle(message)
        except CollabError as exc:
            self.send_frame(error_frame(exc.code, exc.message, message.type if exc.ref is None else exc.ref))
        except Exception:
            log.exception("handling %s failed", message.type)
            self.send_frame(
                error_frame(ErrorCode.SERVER_ERROR, "Something went wrong on the server.", message.type)
            )

    def limited(self, raw: str | bytes | None) -> bool:
        """Rate limit: True if this message must be dropped."""
        verdict = self.limits.admit()
        if verdict is Verdict.OK:
            return False
        self.send_frame(error_frame(ErrorCode.RATE_LIMITED, "Too many messages; slow down.", ref_of(raw)))
        if verdict is Verdict.ABUSE:
            runtime.spawn(
                self.close_with(
                    CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED, "Sustained rate-limit abuse."
                ),
                "closing with 4429",
            )
        return True

    def invalid(self, exc: ProtocolError) -> None:
        self.send_frame(error_frame(exc.code, exc.message, exc.ref))
        if self.limits.invalid():
            runtime.spawn(
                self.close_with(
                    CloseCode.PROTOCOL_ABUSE, ErrorCode.PROTOCOL_ABUSE, "Too many invalid messages."
                ),
                "closing with 4400",
            )


DELETED = "deleted"


def role_now(user: Any, document_id: str) -> str | None:
    """The user's role on the document now; None if they can no longer read it."""
    try:
        return access.resolve(user, document_id)[1]
    except NotFound:
        return None


def access_now(user: Any, document_id: str) -> str | None:
    """``role_now``, or ``DELETED`` when the document is gone: a deletion's own membership
    changes make connections re-check, and they must close as deleted (4410), not 4403."""
    role = role_now(user, document_id)
    if role is None and not Document.objects.filter(pk=document_id).exists():
        return DELETED
    return role


class PresenceConsumer(BaseConsumer):
    """``/ws/presence/``: subscribe to documents' presence without their edit streams."""

    watching: dict[str, PresenceFeed]

    async def connect(self) -> None:
        self.setup()
        self.watching = {}
        await self.accept()
        await credentials.watch(self)
        self.opened(None, None)

    def parse(self, raw: str | bytes | None) -> Any:
        return parse_presence_room(raw, max_bytes=self.limits.max_bytes)

    async def handle(self, message: Any) -> None:
        match message:
            case Ping(payload=payload):
                self.send_frame(pong_frame(payload))
            case Unsubscribe(payload=DocumentsPayload(documents=ids)):
                for document_id in dict.fromkeys(ids):
                    await self._unwatch(document_id)
                self.send_frame(subscribed_frame(self.watching))
            case Subscribe(payload=DocumentsPayload(documents=ids)):
                await self._subscribe(list(dict.fromkeys(ids)))

    async def _subscribe(self, ids: list[str]) -> None:
        readable, refused = await database_sync_to_async(_readable)(self.user, ids)
        for document_id in readable:
            if document_id not in self.watching:
                self.watching[document_id] = PresenceFeed(self.outbox, document_id, tagged=True)
                await hub().join(document_id, self)
        if refused:
            self.send_frame(
                error_frame(
                    ErrorCode.NOT_FOUND,
                    f"No such document, or you cannot read it: {', '.join(refused)}.",
                    {"documents": refused},
                )
            )
        for document_id in readable:
            entries = await call(registry().entries, document_id)
            self.send_frame(presence_snapshot_frame(document_id, entries))
        self.send_frame(subscribed_frame(self.watching))

    async def _unwatch(self, document_id: str) -> None:
        if self.watching.pop(document_id, None) is not None:
            await hub().leave(document_id, self)

    def on_event(self, event: Event) -> None:
        match event:
            case PresenceChanged(document_id=document_id) if document_id in self.watching:
                self.watching[document_id].offer(event)
            case AccessChanged(document_id=document_id) | DocumentDeleted(document_id=document_id):
                runtime.spawn(self._recheck(document_id), "re-checking a watcher's access")

    async def _recheck(self, document_id: str) -> None:
        if (
            document_id in self.watching
            and await database_sync_to_async(role_now)(self.user, document_id) is None
        ):
            await self._unwatch(document_id)
            self.send_frame(subscribed_frame(self.watching))

    async def cleanup(self) -> None:
        for document_id in list(getattr(self, "watching", ())):
            await self._unwatch(document_id)


def _readable(user: Any, ids: list[str]) -> tuple[list[str], list[str]]:
    readable, refused = [], []
    for document_id in ids:
        try:
            document, _ = access.resolve(user, document_id)
            readable.append(str(document.pk))
        except NotFound:
            refused.append(document_id)
    return readable, refused
