"""``/ws/documents/{id}/``: a text document's connection (PROTOCOL.md sections 4 and 5).

On connect: join the room *before* reading the snapshot (so nothing committed
in between is missed: the op stream holds deliveries until ``hello`` is out
and fills any gap from the database; room events wait in ``held``), accept,
resolve the role (``access.hello_state``: handshakes that arrive together share
one read, whichever their documents), say ``hello``. Messages go to ``collab.text.handlers``; room events
from the hub are matched by type.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from collab import access, editing
from collab.codes import CloseCode, ErrorCode
from collab.exceptions import NotFound
from collab.protocol import parse
from collab.realtime import credentials, runtime
from collab.realtime.consumers import DELETED, BaseConsumer, access_now
from collab.realtime.events import (
    AccessChanged,
    DocumentDeleted,
    Event,
    PresenceChanged,
    Resync,
    SessionClosed,
)
from collab.realtime.frames import cursor_frame, hello_frame, role_frame
from collab.realtime.hub import hub
from collab.realtime.presence import PresenceFeed, call, join_presence, leave_presence, update_presence
from collab.realtime.presence_store import Entry, registry
from collab.text.cursors import CursorCoalescer, entries_at, has_stale_cursors
from collab.text.delivery import OpStream, sync_limits
from collab.text.events import CursorMoved, OpsCommitted
from collab.text.handlers import REGISTRY
from collab.users import UserInfo, user_info

log = logging.getLogger(__name__)
MAX_HELD = 1000  # room events kept while hello is on its way


class DocumentConsumer(BaseConsumer):
    user_info: UserInfo
    role: str

    async def connect(self) -> None:
        self.setup()
        self.in_room = self.in_presence = False
        self._cursors: CursorCoalescer | None = None
        self.held: list[Event] | None = []  # room events that arrive before hello
        self.rechecking: asyncio.Task[None] | None = None  # an access change's role re-check
        doc_uuid = access.parse_document_id(self.scope["url_route"]["kwargs"]["document_id"])
        self.document_id = str(doc_uuid) if doc_uuid else ""
        self.stream = OpStream(document_id=self.document_id, session=self.session, outbox=self.outbox)
        self.presence = PresenceFeed(self.outbox, self.document_id)
        await credentials.watch(self)  # closed with 4401 when its credentials end
        if doc_uuid is not None:
            self.in_room = True
            await hub().join(self.document_id, self)
        # accept at once: in a reconnect storm the read below may wait behind others,
        # and the servers refuse a handshake left unanswered (daphne after 5 s)
        await self.accept()
        try:
            document, self.role, version, content = await access.hello_state(self.user, self.document_id)
        except NotFound:
            anonymous = not getattr(self.user, "is_authenticated", False)
            code = CloseCode.UNAUTHORIZED if anonymous else CloseCode.NOT_FOUND
            error = ErrorCode.UNAUTHORIZED if anonymous else ErrorCode.NOT_FOUND
            text = "Sign in to open this document." if anonymous else "No such document."
            await self.close_with(code, error, text)
            return
        if document.kind != "text":  # a yjs document speaks y-websocket or Hocuspocus
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
        entry: Entry = {
            "session": self.session, "user": self.user_info, "role": self.role,
            "status": "active", "meta": {}, "cursor": None,
            "joined_at": timezone.now().isoformat(),
        }  # fmt: skip
        self.in_presence = True  # set first: a failure half-way still leaves presence on cleanup
        self.user_info = (await join_presence(self.document_id, entry))["user"]
        # presence diffs held so far are in the entries read now (each is published after it is
        # stored): hello shows them, so they are not sent again (a reconnect storm's n-squared)
        shown = len(self.held or ())
        entries = await call(registry().entries, self.document_id)
        if has_stale_cursors(entries, version):
            entries = await database_sync_to_async(entries_at)(
                self.document_id, entries, version, len(content)
            )
        self.send_frame(
            hello_frame(
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
                limits={**editing.limits(), **sync_limits()},
            )
        )
        held, self.held = self.held, None
        for i, event in enumerate(held or ()):
            if i >= shown or not isinstance(event, PresenceChanged):
                self.on_event(event)
        self.stream.start(version)

    @property
    def cursors(self) -> CursorCoalescer:
        """Made on the first cursor message: many connections never send one."""
        if self._cursors is None:
            self._cursors = CursorCoalescer(self)
        return self._cursors

    def parse(self, raw: str | bytes | None) -> Any:
        return parse(raw, max_bytes=self.limits.max_bytes)

    async def handle(self, message: Any) -> None:
        # a role change takes effect at once: a message after it waits for its re-check
        await runtime.settled(self.rechecking)
        if self.outbox.open:
            await REGISTRY[message.type](self, message)

    async def cleanup(self) -> None:
        """Leave the room and presence (idempotent)."""
        if getattr(self, "in_room", False):
            self.in_room = False
            self.stream.stop()
            if self._cursors is not None:
                self._cursors.stop()
            await hub().leave(self.document_id, self)
        if getattr(self, "in_presence", False):
            self.in_presence = False
            await leave_presence(self.document_id, self.session)

    # -- from the hub ------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if self.held is not None:  # hello has not gone out yet: keep it for after
            if len(self.held) < MAX_HELD:
                self.held.append(event)
            return
        match event:
            case OpsCommitted():
                self.stream.deliver(event)
            case Resync(version=version):  # the layer may have lost events: catch up from the database
                self.stream.owe(version)
            case PresenceChanged(exclude=exclude) if exclude != self.session:
                self.presence.offer(event)
            case CursorMoved(session=session) if session != self.session:
                self.outbox.send_latest(("cursor", session), cursor_frame(event))
            case AccessChanged():
                self.rechecking = runtime.spawn(self.recheck_role(), "re-checking a role")
            case DocumentDeleted():
                runtime.spawn(self.close_deleted(), "closing with 4410")
            case SessionClosed(session=session, reason=reason) if session == self.session:
                runtime.spawn(
                    self.close_with(CloseCode.CLOSED_BY_ADMIN, ErrorCode.SESSION_CLOSED, reason),
                    "closing a session",
                )

    async def close_deleted(self) -> None:
        await self.close_with(
            CloseCode.DOCUMENT_DELETED, ErrorCode.DOCUMENT_DELETED, "This document was deleted."
        )

    async def recheck_role(self) -> None:
        """After an access change: close (4403, or 4410 if the document is gone: a deletion's
        membership changes race its own event), or announce the new role."""
        role = await database_sync_to_async(access_now)(self.user, self.document_id)
        if role == DELETED:
            await self.close_deleted()
        elif role is None:
            await self.close_with(
                CloseCode.ACCESS_REVOKED,
                ErrorCode.ACCESS_REVOKED,
                "Your access to this document was removed.",
            )
        elif role != self.role:
            self.role = role
            self.send_frame(role_frame(role))
            await update_presence(self.document_id, self.session, {"role": role})
