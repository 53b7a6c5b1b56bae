"""WebSocket consumers: connection lifecycle and the receive loop, nothing else.

``DocumentConsumer`` (``/ws/documents/{id}/``) authenticates, asks
``collab.access`` for the role, joins the room, sends ``hello`` and then feeds
each frame through limits → ``protocol.parse`` → ``handlers.REGISTRY``.
``PresenceConsumer`` (``/ws/presence/``) lets a client watch the presence of
several documents without their edit streams.

Consumers have no per-connection channel on the layer: the process's hub
(``collab.realtime.hub``) holds one channel and hands them typed room events.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from collab import access, editing
from collab.conf import collab_settings
from collab.connection_log import Tracked
from collab.delivery import Outbox
from collab.exceptions import CollabError, NotFound
from collab.handlers import REGISTRY
from collab.presence import registry
from collab.protocol import (
    CloseCode,
    ErrorCode,
    MessageType,
    ProtocolError,
    error_frame,
    frame,
    parse,
    parse_presence_room,
    ref_of,
)
from collab.realtime import credentials, runtime
from collab.realtime.events import (
    AccessChanged,
    DocumentDeleted,
    Event,
    PresenceChanged,
    Resync,
    SessionClosed,
)
from collab.realtime.frames import (
    cursor_frame,
    hello_frame,
    presence_frame,
    presence_snapshot_frame,
    role_frame,
    subscribed_frame,
)
from collab.realtime.hub import hub
from collab.realtime.presence import call, join_presence, leave_presence, update_presence
from collab.text.cursors import CursorCoalescer, entries_at, has_stale_cursors
from collab.text.events import CursorMoved, OpsCommitted
from collab.transport import Sink, sink_for
from collab.users import UserInfo, user_info

log = logging.getLogger(__name__)
NO_LAYER = "collab-no-per-connection-channel"


class TokenBucket:
    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Strikes:
    """Counts events in a sliding window: ``hit()`` says when the limit is reached."""

    __slots__ = ("limit", "times", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.times: deque[float] | None = None  # made on first use: most connections never need it

    def hit(self) -> bool:
        now = time.monotonic()
        if self.times is None:
            self.times = deque()
        self.times.append(now)
        while self.times and self.times[0] < now - self.window:
            self.times.popleft()
        return len(self.times) >= self.limit


class BaseConsumer(Tracked, AsyncWebsocketConsumer):  # type: ignore[misc]
    channel_layer_alias = NO_LAYER
    session: str
    sink: Sink

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            # The server is shutting down: say so (1001, "come back") and leave presence.
            if not getattr(self, "closing", True):
                self.closing = True
                try:
                    await send({"type": "websocket.close", "code": int(CloseCode.GOING_AWAY)})
                    await self.disconnect(int(CloseCode.GOING_AWAY))
                except Exception:
                    pass
            raise

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels 4.2+ hops to a thread to close old DB connections before every
        # handler; ours touch the database only inside database_sync_to_async,
        # which does that itself, so the hop is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def setup_limits(self) -> None:
        cfg = collab_settings
        self.max_bytes = int(cfg["MAX_MESSAGE_BYTES"])
        self.bucket = TokenBucket(float(cfg["RATE_PER_SECOND"]), float(cfg["RATE_BURST"]))
        self.rate_strikes = Strikes(int(cfg["RATE_ABUSE_LIMIT"]), float(cfg["RATE_ABUSE_WINDOW"]))
        self.invalid_strikes = Strikes(int(cfg["INVALID_LIMIT"]), float(cfg["INVALID_WINDOW"]))
        self.closing = False
        self._out: deque[str] | None = None
        self._writer: asyncio.Task[None] | None = None

    def send_frame(self, text: str) -> None:
        """Write a frame now (daphne) or, in order, as soon as possible (other servers)."""
        if self.closing:
            return
        if self.sink.sync:
            try:
                self.sink.write_now(text)
            except Exception:  # the socket is already gone: its disconnect cleans up
                log.debug("write to a closed socket dropped")
            return
        if self._out is None:
            self._out = deque()
        self._out.append(text)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._out:
                await self.send(text_data=self._out.popleft())
        finally:
            self._writer = None

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if isinstance(code, int) and not isinstance(code, bool) and self.sink.close_frame(code):
            return
        await super().close(code=code, reason=reason)

    def going_away(self) -> None:
        """The server is shutting down: close with 1001 so the client reconnects elsewhere."""
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().create_task(self.close(code=int(CloseCode.GOING_AWAY)))

    async def close_with(self, code: int, error: str, message: str) -> None:
        if self.closing:
            return
        self.send_frame(error_frame(error, message))
        self.closing = True
        if self._writer is not None:
            await asyncio.shield(self._writer)
        await self.close(code=int(code))
        await self.cleanup()  # do not wait for the client's close frame: it may never come

    async def cleanup(self) -> None:
        return None

    def limited(self, text: str | bytes | None) -> bool:
        """Rate limit: True if this message must be dropped."""
        if self.bucket.take():
            return False
        self.send_frame(error_frame(ErrorCode.RATE_LIMITED, "Too many messages; slow down.", ref_of(text)))
        if self.rate_strikes.hit():
            asyncio.get_running_loop().create_task(
                self.close_with(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED, "Sustained rate-limit abuse.")
            )
        return True

    def invalid(self, exc: ProtocolError) -> None:
        self.send_frame(error_frame(exc.code, exc.message, exc.ref))
        if self.invalid_strikes.hit():
            asyncio.get_running_loop().create_task(
                self.close_with(
                    CloseCode.PROTOCOL_ABUSE, ErrorCode.PROTOCOL_ABUSE, "Too many invalid messages."
                )
            )


def _role_now(user: Any, document_id: str) -> str | None:
    try:
        return access.resolve(user, document_id)[1]
    except NotFound:
        return None


class DocumentConsumer(BaseConsumer):
    outbox: Outbox
    user_info: UserInfo

    async def connect(self) -> None:
        self.setup_limits()
        self.session = uuid.uuid4().hex
        self.user = self.scope.get("user")
        self.sink = sink_for(self.base_send)
        self.joined = False
        self._cursors: CursorCoalescer | None = None
        self.held: list[Event] | None = []  # room events that arrive before hello
        doc_uuid = access.parse_document_id(self.scope["url_route"]["kwargs"]["document_id"])
        self.document_id = str(doc_uuid) if doc_uuid else ""
        # Join the room *before* reading the snapshot, so nothing committed in
        # between is missed: the outbox holds deliveries back until hello is out
        # and fills any gap from the database; room events wait in ``held``.
        self.outbox = Outbox(
            document_id=self.document_id, session=self.session, last=0,
            sink=self.sink, send=self._send_text, close=self.close_with,
        )  # fmt: skip
        runtime.ensure_started()
        await credentials.watch(self)  # closed with 4401 when its credentials end
        if doc_uuid is not None:
            await hub().join(self.document_id, self)
            self.joined = True
        # accept at once: in a reconnect storm the read below may wait behind others,
        # and the servers refuse a handshake left unanswered (daphne after 5 s)
        await self.accept()
        try:
            document, self.role, version, content = await access.hello_state(self.user, self.document_id)
        except NotFound:
            await self.cleanup()
            anonymous = not getattr(self.user, "is_authenticated", False)
            code = CloseCode.UNAUTHORIZED if anonymous else CloseCode.NOT_FOUND
            error = ErrorCode.UNAUTHORIZED if anonymous else ErrorCode.NOT_FOUND
            text = "Sign in to open this document." if anonymous else "No such document."
            await self.close_with(code, error, text)
            return
        if document.kind != "text":  # a yjs document speaks y-websocket or Hocuspocus
            await self.cleanup()
            await self.close_with(
                CloseCode.WRONG_KIND,
                ErrorCode.WRONG_KIND,
                "This is a yjs document: connect with a y-websocket or Hocuspocus provider.",
            )
            return
        try:
            await self._say_hello(document, version, content)
            self.opened(self.document_id, self.role)
        except Exception:
            log.exception("connecting %s to %s failed", self.session, self.document_id)
            await self.close_with(
                CloseCode.SERVER_ERROR, ErrorCode.SERVER_ERROR, "Could not join; reconnect."
            )

    async def _say_hello(self, document: Any, version: int, content: str) -> None:
        self.user_info = user_info(self.user, self.session)
        entry = {
            "session": self.session, "user": self.user_info, "role": self.role,
            "status": "active", "meta": {}, "cursor": None,
            "joined_at": timezone.now().isoformat(),
        }  # fmt: skip
        await join_presence(self.document_id, entry)
        entries = await call(registry().entries, self.document_id)
        if has_stale_cursors(entries, version):
            entries = await database_sync_to_async(entries_at)(
                self.document_id, entries, version, len(content)
            )
        hello = hello_frame(
            session=self.session,
            role=self.role,
            user=self.user_info,
            document={
                "id": self.document_id,
                "title": document.title,
                "version": version,
                "content": content,
            },
            presence=entries,
            limits=editing.limits(),
        )
        await self.send(text_data=hello)
        held, self.held = self.held, None
        for event in held or ():
            self.on_event(event)
        self.outbox.start(version)

    @property
    def cursors(self) -> CursorCoalescer:
        """Made on the first cursor message: many connections never send one."""
        if self._cursors is None:
            self._cursors = CursorCoalescer(self)
        return self._cursors

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        await self.cleanup()

    async def cleanup(self) -> None:
        """Leave the room and presence at once (idempotent): on disconnect, or when we close."""
        await credentials.unwatch(self)
        if not getattr(self, "joined", False):
            return
        self.joined = False
        self.outbox.stop()
        if self._cursors is not None:
            self._cursors.stop()
        await hub().leave(self.document_id, self)
        await leave_presence(self.document_id, self.session)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing or self.limited(text_data if text_data is not None else bytes_data):
            return
        try:
            message = parse(text_data if text_data is not None else bytes_data, max_bytes=self.max_bytes)
        except ProtocolError as exc:
            self.invalid(exc)
            return
        try:
            await REGISTRY[message.type](self, message)
        except ProtocolError as exc:
            self.send_frame(error_frame(exc.code, exc.message, exc.ref))
        except CollabError as exc:
            self.send_frame(error_frame(exc.code, exc.message, exc.ref or message.type))
        except Exception:
            log.exception("handler for %s failed", message.type)
            self.send_frame(
                error_frame(ErrorCode.SERVER_ERROR, "Something went wrong on the server.", message.type)
            )

    # -- from the hub ------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if self.held is not None:  # hello has not gone out yet: keep it for after
            if len(self.held) < 1000:
                self.held.append(event)
            return
        match event:
            case OpsCommitted():
                self.outbox.deliver(event)
            case Resync(version=version):  # the layer may have lost events: catch up from the database
                self.outbox.owe(version)
            case PresenceChanged(exclude=exclude) if exclude != self.session:
                self.send_frame(presence_frame(event))
            case CursorMoved(session=session) if session != self.session:
                # a client that is behind misses cursor moves (the next one supersedes
                # them), never joins and leaves
                if not self.outbox.congested():
                    self.send_frame(cursor_frame(event))
            case AccessChanged():
                asyncio.get_running_loop().create_task(self.recheck_role())
            case DocumentDeleted():
                asyncio.get_running_loop().create_task(
                    self.close_with(
                        CloseCode.DOCUMENT_DELETED, ErrorCode.DOCUMENT_DELETED, "This document was deleted."
                    )
                )
            case SessionClosed(session=session, reason=reason) if session == self.session:
                asyncio.get_running_loop().create_task(
                    self.close_with(CloseCode.CLOSED_BY_ADMIN, ErrorCode.SESSION_CLOSED, reason)
                )

    async def recheck_role(self) -> None:
        role = await database_sync_to_async(_role_now)(self.user, self.document_id)
        if role is None:
            await self.close_with(
                CloseCode.ACCESS_REVOKED,
                ErrorCode.ACCESS_REVOKED,
                "Your access to this document was removed.",
            )
            return
        if role != self.role:
            self.role = role
            self.send_frame(role_frame(role))
            await update_presence(self.document_id, self.session, {"role": role})


class PresenceConsumer(BaseConsumer):
    """``/ws/presence/``: subscribe to documents' presence without their edit streams."""

    async def connect(self) -> None:
        self.setup_limits()
        self.session = uuid.uuid4().hex
        self.user = self.scope.get("user")
        self.sink = sink_for(self.base_send)
        self.watching: set[str] = set()
        runtime.ensure_started()
        await self.accept()
        await credentials.watch(self)
        self.opened(None, None)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        await credentials.unwatch(self)
        for document_id in list(getattr(self, "watching", ())):
            await hub().leave(document_id, self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing or self.limited(text_data if text_data is not None else bytes_data):
            return
        try:
            message = parse_presence_room(
                text_data if text_data is not None else bytes_data, max_bytes=self.max_bytes
            )
        except ProtocolError as exc:
            self.invalid(exc)
            return
        if message.type == MessageType.PING:
            self.send_frame(frame(MessageType.PONG, message.payload, echo=True))
            return
        ids = list(dict.fromkeys(message.payload.documents))
        if message.type == MessageType.UNSUBSCRIBE:
            for document_id in ids:
                if document_id in self.watching:
                    self.watching.discard(document_id)
                    await hub().leave(document_id, self)
            self.send_frame(subscribed_frame(self.watching))
            return
        readable, refused = await database_sync_to_async(_readable)(self.user, ids)
        for document_id in readable:
            if document_id not in self.watching:
                self.watching.add(document_id)
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

    def on_event(self, event: Event) -> None:
        match event:
            case PresenceChanged():
                self.send_frame(presence_frame(event, tagged=True))
            case AccessChanged(document_id=document_id) | DocumentDeleted(document_id=document_id):
                asyncio.get_running_loop().create_task(self.recheck(document_id))

    async def recheck(self, document_id: str) -> None:
        if (
            document_id in self.watching
            and await database_sync_to_async(_role_now)(self.user, document_id) is None
        ):
            self.watching.discard(document_id)
            await hub().leave(document_id, self)
            self.send_frame(subscribed_frame(self.watching))


def _readable(user: Any, ids: list[str]) -> tuple[list[str], list[str]]:
    readable, refused = [], []
    for document_id in ids:
        try:
            document, _ = access.resolve(user, document_id)
            readable.append(str(document.pk))
        except NotFound:
            refused.append(document_id)
    return readable, refused
