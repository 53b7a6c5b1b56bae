"""The two yjs endpoints: ``/ws/yjs/{id}`` (y-websocket) and ``/ws/hocuspocus`` (Hocuspocus).

Both hand updates and awareness to the document's live ``Room`` and send what
the room relays. A ``Peer`` is one document on one socket: a y-websocket
socket is one peer; a Hocuspocus socket holds one peer per document name
(``id``, or ``id`` NUL session key with the provider's ``sessionAwareness``),
each with its own role, presence entry and awareness clients.

A peer's presence entry lists, in ``meta.awareness``, the awareness client ids it introduced
(at most ``MAX_LISTED_CLIENTS``): a page finds its own entry, and so the colour the server gave
it and its current role, by its ``awareness.clientID``.

Message handling is synchronous once a peer is attached (the room applies an
update at once and stores it in the background), so the order in which a
client sends is the order in which its messages are applied.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from collab import access
from collab.codes import CloseCode
from collab.exceptions import NotFound
from collab.middleware import user_for_token
from collab.models import Kind
from collab.realtime import credentials, runtime
from collab.realtime.consumers import DELETED as DELETED_DOCUMENT
from collab.realtime.consumers import BaseConsumer, access_now
from collab.realtime.events import AccessChanged, DocumentDeleted, Event, SessionClosed
from collab.realtime.hub import hub
from collab.realtime.limits import Verdict
from collab.realtime.presence import join_presence, leave_presence, update_presence
from collab.users import user_info
from collab.yjs import codec
from collab.yjs.awareness import AwarenessFeed
from collab.yjs.codec import FrameError, Message, Reader, Sync
from collab.yjs.room import Outcome, Room, UpdateRefused, open_room

log = logging.getLogger(__name__)

# close codes of the yjs endpoints (PROTOCOL.md sections 4 and 8)
UNAUTHORIZED, ACCESS_REVOKED, NOT_FOUND = (
    CloseCode.UNAUTHORIZED,
    CloseCode.ACCESS_REVOKED,
    CloseCode.NOT_FOUND,
)
TOO_SLOW, DELETED, TOO_LARGE = CloseCode.TOO_SLOW, CloseCode.DOCUMENT_DELETED, CloseCode.TOO_LARGE
WRONG_KIND, PROTOCOL_ABUSE, RATE_LIMITED = (
    CloseCode.WRONG_KIND,
    CloseCode.PROTOCOL_ABUSE,
    CloseCode.RATE_LIMITED,
)
CLOSED_BY_ADMIN, SERVER_ERROR = CloseCode.CLOSED_BY_ADMIN, CloseCode.SERVER_ERROR
MAX_PENDING_DOCUMENTS = 64  # Hocuspocus: documents waiting for their auth answer, per socket
MAX_HELD = 1000  # messages held per document until its auth is answered
MAX_DENIED = 1024  # Hocuspocus: denied document names remembered per socket (the oldest go first)
# 2.x providers send no auth message when they have no token; their messages are held this
# long (seconds) for an auth message, then the document is opened with the socket's own user
IMPLICIT_AUTH_AFTER = 1.0
MAX_LISTED_CLIENTS = 8  # awareness client ids listed in a presence entry's meta


class BinarySocket(BaseConsumer):
    """Binary frames through the socket's outbox (its one ordered, bounded write path).

    A socket that falls too far behind is closed with 4408 like a text one (no JSON
    ``too_slow`` frame first: these clients read binary frames only); a Hocuspocus
    socket is closed as a whole, all its documents with it.
    """

    too_slow_frame = None

    async def connect(self) -> None:
        self.setup()
        self.user = self.scope.get("user") or AnonymousUser()
        await credentials.watch(self, on_revoked=lambda: self.shut(UNAUTHORIZED))  # its sign-in ended
        await self.open()

    async def open(self) -> None:
        raise NotImplementedError

    @property
    def closing(self) -> bool:
        return not self.outbox.open

    @property
    def max_bytes(self) -> int:
        return self.limits.max_bytes

    def send_bytes(self, data: bytes) -> None:
        self.outbox.send(data)

    def abandon(self, code: int) -> None:
        """Close with ``code`` from synchronous code."""
        if self.outbox.open:
            runtime.spawn(self.shut(int(code)), f"closing with {int(code)}")

    def strike(self) -> None:
        if self.limits.invalid():
            self.abandon(PROTOCOL_ABUSE)

    def over_rate(self) -> bool:
        """Updates cannot be dropped silently (the client would never resend them): a sustained
        flood closes the socket instead (4429); the client resyncs when it reconnects."""
        if self.limits.admit() is Verdict.ABUSE:
            self.abandon(RATE_LIMITED)
            return True
        return False


class Peer:
    """One document on one socket, as its room and its access events see it."""

    def __init__(self, socket: BinarySocket, document_id: str, name: str | None, protocol: str) -> None:
        self.socket = socket
        self.document_id = document_id
        self.name = name  # Hocuspocus: the document name as the provider sent it
        self.prefix = codec.varstring(name) if name is not None else b""
        self.protocol = protocol
        self.session = uuid.uuid4().hex
        self.user: Any = AnonymousUser()
        self.role = "none"
        self.room: Room | None = None
        self.joined = False
        self.awareness_feed = AwarenessFeed(socket.outbox, ("awareness", name), self.prefix)
        self.awareness_clients: list[int] = []  # as listed in the presence entry's meta
        # an access change arrived: its re-check, which updates from the socket wait for
        self.rechecking: asyncio.Task[None] | None = None
        self._listing = asyncio.Lock()  # one presence write of them at a time, the latest last

    # -- what the room calls ----------------------------------------------------
    def send_body(self, body: bytes) -> None:
        self.socket.send_bytes(self.prefix + body)

    def send_awareness(self, update: bytes, entries: list[codec.AwarenessEntry]) -> None:
        self.awareness_feed.offer(update, entries)

    def room_failed(self) -> None:
        self.socket.abandon(SERVER_ERROR)

    # -- what the hub calls ---------------------------------------------------------
    def on_event(self, event: Event) -> None:
        match event:
            case AccessChanged():
                self.rechecking = runtime.spawn(self._recheck(), "re-checking a yjs role")
            case DocumentDeleted():
                self.socket.peer_lost(self, DELETED, "document_deleted")
            case SessionClosed(session=session) if session == self.session:
                self.socket.peer_lost(self, CLOSED_BY_ADMIN, "session_closed")
            case _:
                pass

    def going_away(self) -> None:
        self.socket.going_away()

    async def _recheck(self) -> None:
        role = await database_sync_to_async(access_now)(self.user, self.document_id)
        if role == DELETED_DOCUMENT:  # a deletion's membership changes raced its own event
            self.socket.peer_lost(self, DELETED, "document_deleted")
        elif role is None:
            self.socket.peer_lost(self, ACCESS_REVOKED, "access_revoked")
        elif role != self.role:
            self.role = role
            self.socket.role_changed(self)
            await update_presence(self.document_id, self.session, {"role": role})

    # -- joining and leaving ---------------------------------------------------------
    async def join(self) -> Room:
        """Presence, access events and the live room; raises (having undone everything) on failure."""
        entry = {
            "session": self.session, "user": user_info(self.user, self.session), "role": self.role,
            "status": "active", "meta": {"protocol": self.protocol, "awareness": []}, "cursor": None,
            "joined_at": timezone.now().isoformat(),
        }  # fmt: skip
        self.joined = True
        try:
            runtime.ensure_started()
            await hub().join(self.document_id, self)
            await join_presence(self.document_id, entry)
            self.room = await open_room(self.document_id)
        except BaseException:
            await self.leave()
            raise
        self.room.attach(self)
        return self.room

    async def credentials_ended(self) -> None:
        self.socket.peer_lost(self, UNAUTHORIZED, "unauthorized")

    async def leave(self) -> None:
        await credentials.unwatch(self)
        if not self.joined:
            return
        self.joined = False
        if self.room is not None:
            self.room.detach(self)
            self.room = None
        try:
            await hub().leave(self.document_id, self)
        finally:
            await leave_presence(self.document_id, self.session)

    # -- messages common to both protocols ---------------------------------------------
    def handle_sync(
        self, message: codec.SyncMessage, *, answer_step1: bool = False
    ) -> asyncio.Future[Outcome] | None:
        """Step 1: answer step 2 (and, Hocuspocus, our own step 1). Step 2 / update: apply (editors)."""
        room = self.room
        assert room is not None
        if message.step == Sync.STEP1:
            self.send_body(codec.sync_step2(room.diff(message.payload)))
            if answer_step1:
                self.send_body(codec.sync_step1(room.state_vector()))
            return None
        if not access.can_edit(self.role):
            return None
        return room.offer(message.payload, user=self.user, session=self.session)

    def handle_awareness(self, update: bytes) -> None:
        assert self.room is not None
        self.room.awareness_from(self.session, update)
        clients = sorted(self.room.awareness.owners.get(self.session, ()))[:MAX_LISTED_CLIENTS]
        if clients != self.awareness_clients:
            self.awareness_clients = clients
            runtime.spawn(self._list_awareness_clients(), "listing awareness clients in presence")

    async def _list_awareness_clients(self) -> None:
        async with self._listing:  # the list as it is when this write runs: the last write is the latest
            meta = {"protocol": self.protocol, "awareness": self.awareness_clients}
            await update_presence(self.document_id, self.session, {"meta": meta})

    def send_awareness_everything(self) -> None:
        assert self.room is not None
        everything = self.room.awareness_everything()
        if everything is not None:
            self.send_body(codec.awareness(everything))


class YWebsocketConsumer(BinarySocket):
    """``/ws/yjs/{id}``: the y-websocket protocol; one document per socket."""

    async def open(self) -> None:
        raw = self.scope["url_route"]["kwargs"]["document_id"]
        doc_uuid = access.parse_document_id(raw)
        self.peer = Peer(self, str(doc_uuid) if doc_uuid else "", None, "y-websocket")
        self.peer.user = self.user
        self.session = self.peer.session
        try:
            document, role, _, _ = await access.hello_state(self.user, self.peer.document_id)
        except NotFound:
            await self.accept()
            anonymous = not getattr(self.user, "is_authenticated", False)
            await self.shut(UNAUTHORIZED if anonymous else NOT_FOUND)
            return
        await self.accept()
        if document.kind != Kind.YJS:
            await self.shut(WRONG_KIND)
            return
        self.peer.role = role
        try:
            room = await self.peer.join()
        except Exception:
            log.exception("opening yjs document %s failed", self.peer.document_id)
            await self.shut(SERVER_ERROR)
            return
        self.peer.send_body(codec.sync_step1(room.state_vector()))
        self.peer.send_awareness_everything()
        self.opened(self.peer.document_id, role)

    async def cleanup(self) -> None:
        peer = getattr(self, "peer", None)
        if peer is not None:
            await peer.leave()

    def peer_lost(self, peer: Peer, code: int, reason: str) -> None:
        self.abandon(code)

    def role_changed(self, peer: Peer) -> None:
        return None  # a y-websocket provider has no way to hear it; its later updates are ignored

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # a role change takes effect at once: what arrives after it waits for its re-check
        await runtime.settled(getattr(getattr(self, "peer", None), "rechecking", None))
        if self.closing or self.peer.room is None:
            return
        if bytes_data is None:
            self.strike()  # y-websocket speaks binary frames only
            return
        if len(bytes_data) > self.max_bytes:
            await self.shut(TOO_LARGE)
            return
        if self.over_rate():
            return
        try:
            reader = Reader(bytes_data)
            kind = reader.varuint()
            if kind == Message.SYNC:
                future = self.peer.handle_sync(codec.read_sync(reader))
                if future is not None:
                    future.add_done_callback(self._stored)
            elif kind == Message.AWARENESS:
                self.peer.handle_awareness(reader.varbytes())
            elif kind == Message.QUERY_AWARENESS:
                self.peer.send_awareness_everything()
            else:
                raise FrameError(f"unknown message type {kind}")
        except FrameError:
            self.strike()
        except UpdateRefused as exc:
            if exc.code == "document_too_large":
                await self.shut(TOO_LARGE)
            else:
                self.strike()

    def _stored(self, future: asyncio.Future[Outcome]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.abandon(SERVER_ERROR)


class HocuspocusConsumer(BinarySocket):
    """``/ws/hocuspocus``: the Hocuspocus protocol; several documents per socket, each authenticated."""

    async def open(self) -> None:
        self.session = uuid.uuid4().hex
        self.peers: dict[str, Peer] = {}  # attached, by document name as received
        self.pending: dict[str, list[bytes]] = {}  # waiting for the auth answer: held messages
        self.authenticating: set[str] = set()
        # answered PermissionDenied: nothing more of these is applied or answered until the
        # provider authenticates the name again (an insertion-ordered set, bounded)
        self.denied: dict[str, None] = {}
        await self.accept()
        self.opened(None, None)

    async def cleanup(self) -> None:
        getattr(self, "pending", {}).clear()
        for peer in list(getattr(self, "peers", {}).values()):
            await peer.leave()
        self.peers = {}

    # -- receiving ---------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        if bytes_data is None:
            self.strike()
            return
        if bytes_data == codec.PING:
            self.send_bytes(codec.PONG)
            return
        if bytes_data == codec.PONG:
            return
        try:
            reader = Reader(bytes_data)
            name = reader.varstring()
        except FrameError:
            self.strike()
            return
        if len(bytes_data) > self.max_bytes:
            self.refuse(name, "message_too_large")
            return
        if self.over_rate():
            return
        peer = self.peers.get(name)
        if peer is not None:
            await runtime.settled(peer.rechecking)  # a role change takes effect at once
            if self.peers.get(name) is peer:  # else denied meanwhile: nothing more of it is applied
                self.handle_attached(peer, reader)
            return
        try:
            kind = reader.varuint()
            auth = codec.read_auth(reader) if kind == Message.AUTH else None
        except FrameError:
            self.strike()
            return
        if name in self.denied:
            if auth is None:
                return
            del self.denied[name]
        held = self.pending.get(name)
        if held is None:
            if len(self.pending) >= MAX_PENDING_DOCUMENTS:
                await self.shut(PROTOCOL_ABUSE)
                return
            held = self.pending[name] = []
            if auth is None:  # a 2.x provider without a token sends no auth message at all
                asyncio.get_running_loop().call_later(IMPLICIT_AUTH_AFTER, self._implicit_auth, name)
        if auth is None or name in self.authenticating:
            if len(held) < MAX_HELD:  # held until the auth message comes and is answered
                held.append(bytes_data)
            return
        self.authenticating.add(name)
        asyncio.get_running_loop().create_task(self.authenticate(name, auth))

    def _implicit_auth(self, name: str) -> None:
        """No auth message came: authenticate as the socket's own user (session cookie, or anonymous)."""
        if self.closing or name not in self.pending or name in self.authenticating or name in self.peers:
            return
        self.authenticating.add(name)
        asyncio.get_running_loop().create_task(self.authenticate(name, codec.AuthMessage("", None)))

    async def authenticate(self, name: str, auth: codec.AuthMessage) -> None:
        try:
            await self._authenticate(name, auth)
        finally:
            self.authenticating.discard(name)

    async def _authenticate(self, name: str, auth: codec.AuthMessage) -> None:
        document_id = name.split("\0", 1)[0]
        prefix = codec.varstring(name)
        try:
            user = self.user if auth.token == "" else await user_for_token(auth.token)
            try:
                document, role, _, _ = await access.hello_state(user, document_id)
            except NotFound:
                anonymous = not getattr(user, "is_authenticated", False)
                self.deny(name, prefix, "unauthorized" if anonymous else "not_found")
                return
            if document.kind != Kind.YJS:
                self.deny(name, prefix, "wrong_kind")
                return
            peer = Peer(self, str(document.pk), name, "hocuspocus")
            peer.user, peer.role = user, role
            self.send_bytes(prefix + codec.authenticated(scope(role)))
            await peer.join()
            if auth.token:  # its own credential: deleting the token denies this document
                await credentials.watch(peer, peer.credentials_ended, user=user, token=auth.token)
        except Exception:
            log.exception("authenticating %r failed", name)
            self.pending.pop(name, None)
            await self.shut(SERVER_ERROR)
            return
        if self.closing or name not in self.pending:  # the socket closed meanwhile
            await peer.leave()
            return
        held = self.pending.pop(name)
        self.peers[name] = peer
        peer.send_awareness_everything()
        for data in held:
            reader = Reader(data)
            reader.varstring()
            self.handle_attached(peer, reader)

    def deny(self, name: str, prefix: bytes, reason: str) -> None:
        self.pending.pop(name, None)  # held messages are dropped
        self.remember_denied(name)
        self.send_bytes(prefix + codec.permission_denied(reason))

    def remember_denied(self, name: str) -> None:
        self.denied[name] = None
        if len(self.denied) > MAX_DENIED:
            del self.denied[next(iter(self.denied))]

    def handle_attached(self, peer: Peer, reader: Reader) -> None:
        """One message (after its document name) for a document attached to this socket."""
        try:
            kind = reader.varuint()
            if kind in (Message.SYNC, Message.SYNC_REPLY):
                message = codec.read_sync(reader)
                self.sync(peer, message, answer_step1=kind == Message.SYNC)
            elif kind == Message.AWARENESS:
                peer.handle_awareness(reader.varbytes())
            elif kind == Message.QUERY_AWARENESS:
                peer.send_awareness_everything()
            elif kind == Message.CLOSE:
                self.drop(peer)
            elif kind in (Message.AUTH, Message.STATELESS):
                return  # a second auth for an attached document, or a stateless message: nothing to do
            else:
                raise FrameError(f"unknown message type {kind}")
        except FrameError:
            self.strike()
        except UpdateRefused as exc:
            peer.send_body(codec.sync_status(False))
            if exc.code == "document_too_large":
                self.refuse(peer.name or "", "document_too_large")
            else:
                self.strike()

    def sync(self, peer: Peer, message: codec.SyncMessage, *, answer_step1: bool) -> None:
        if message.step != Sync.STEP1 and not access.can_edit(peer.role):
            # a viewer: never applied; "saved" only when it held nothing the document lacks
            assert peer.room is not None
            peer.send_body(codec.sync_status(peer.room.covers(message.payload)))
            return
        future = peer.handle_sync(message, answer_step1=answer_step1)
        if future is None:
            return

        def stored(done: asyncio.Future[Outcome]) -> None:
            ok = not done.cancelled() and done.exception() is None
            if peer.joined:
                peer.send_body(codec.sync_status(ok))

        future.add_done_callback(stored)

    # -- taking a document off the socket ---------------------------------------------------
    def refuse(self, name: str, reason: str) -> None:
        """SyncStatus 0 and a CLOSE for that document; the socket stays open for the others."""
        prefix = codec.varstring(name)
        self.send_bytes(prefix + codec.sync_status(False))
        self.send_bytes(prefix + codec.close(reason))
        peer = self.peers.get(name)
        if peer is not None:
            self.drop(peer)

    def drop(self, peer: Peer) -> None:
        if self.peers.get(peer.name or "") is peer:
            del self.peers[peer.name or ""]
        task = asyncio.get_running_loop().create_task(peer.leave())
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    def peer_lost(self, peer: Peer, code: int, reason: str) -> None:
        if self.peers.get(peer.name or "") is not peer:
            return
        peer.send_body(codec.permission_denied(reason))
        self.remember_denied(peer.name or "")
        self.drop(peer)

    def role_changed(self, peer: Peer) -> None:
        peer.send_body(codec.authenticated(scope(peer.role)))


def scope(role: str) -> str:
    return "read-write" if access.can_edit(role) else "readonly"
