"""The text kind's handlers: one function per client message type, registered by type.

A handler gets the connection's small context (``Conn``: user, role, document
id, session, its op stream and cursors, and a way to send) and the parsed
message. It returns nothing or raises a ``CollabError``; the consumer turns
that into an ``error`` frame. Adding a message type means adding a function
here::

    @handler(MessageType.PING)
    async def ping(conn: Conn, message: Ping) -> None:
        conn.send_frame(pong_frame(message.payload))

Handlers can be driven without a socket (``tests/support/fakes.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from collab import access
from collab.codes import ErrorCode
from collab.editing import EditRequest
from collab.exceptions import CollabError, Forbidden
from collab.protocol import MessageType
from collab.realtime.frames import ack_frame, error_frame, pong_frame
from collab.realtime.presence import update_presence
from collab.text.committer import committer
from collab.text.cursors import CursorCoalescer
from collab.text.delivery import OpStream

log = logging.getLogger(__name__)
Handler = Callable[["Conn", Any], Awaitable[None]]
REGISTRY: dict[str, Handler] = {}


class Conn(Protocol):
    user: Any
    role: str
    document_id: str
    session: str
    stream: OpStream
    cursors: CursorCoalescer

    def send_frame(self, frame: str | bytes) -> None: ...


def handler(kind: MessageType) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        REGISTRY[kind.value] = fn
        return fn

    return register


@handler(MessageType.EDIT)
async def edit(conn: Conn, message: Any) -> None:
    p = message.payload
    ref = {"client_id": p.client_id, "seq": p.seq}
    if not access.can_edit(conn.role):
        raise Forbidden(f"Your role ({conn.role}) does not allow editing this document.", ref=ref)
    future = committer(conn.document_id).enqueue(
        EditRequest(
            conn.document_id,
            p.version,
            p.op,
            user=conn.user,
            client_id=p.client_id,
            seq=p.seq,
            session=conn.session,
        )
    )
    # Not awaited: the connection keeps reading, so pipelined edits share a transaction.
    # The ack itself comes through the outbox, in version order, after the commit.
    future.add_done_callback(lambda done: _settled(conn, ref, done))


def _settled(conn: Conn, ref: dict[str, Any], done: asyncio.Future[Any]) -> None:
    if done.cancelled():
        return
    if (exc := done.exception()) is not None:
        log.error("commit failed", exc_info=exc)
        conn.send_frame(
            error_frame(ErrorCode.SERVER_ERROR, "The edit could not be committed; resend it.", ref)
        )
        return
    outcome = done.result()
    if isinstance(outcome, CollabError):
        conn.send_frame(error_frame(outcome.code, outcome.message, ref))
    elif outcome.duplicate:  # a resend of a committed edit: ack it again, with its original version
        conn.send_frame(ack_frame(ref["client_id"], ref["seq"], outcome.version))


@handler(MessageType.SYNC)
async def sync(conn: Conn, message: Any) -> None:
    conn.stream.request_sync(message.payload.version)


@handler(MessageType.PING)
async def ping(conn: Conn, message: Any) -> None:
    conn.send_frame(pong_frame(message.payload))


@handler(MessageType.CURSOR)
async def cursor(conn: Conn, message: Any) -> None:
    p = message.payload
    conn.cursors.submit(p.version, p.anchor, p.head)


@handler(MessageType.PRESENCE)
async def presence(conn: Conn, message: Any) -> None:
    p = message.payload
    await update_presence(conn.document_id, conn.session, {"status": p.status, "meta": p.meta})
