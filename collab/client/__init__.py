"""The Python client for collab: a live, self-healing copy of a document. No Django.

::

    import asyncio
    from collab.client import DocumentClient, RemoteEdit

    async def main() -> None:
        async with DocumentClient("http://localhost:8000", DOC_ID, token=TOKEN) as doc:
            await doc.insert(len(doc.text), "hello from a bot\\n")
            async for event in doc.events():
                if isinstance(event, RemoteEdit):
                    print(doc.text)

    asyncio.run(main())

Layers, from pure to I/O: ``backoff`` (reconnect delays), ``errors``, ``ops``,
``events``, ``presence`` and ``session`` (the sans-I/O OT session over
``collab.ot``) import no asyncio and no websockets; ``connection`` (the
reconnecting WebSocket) and ``document`` (``DocumentClient``) do. The command
line is ``python -m collab.client --help``. See docs/client.md.
"""

from __future__ import annotations

from .backoff import Backoff
from .connection import Connection, Handler
from .document import DocumentClient, EventStream, document_url
from .errors import (
    AccessRevoked,
    ClientClosed,
    CollabClientError,
    DocumentDeleted,
    DocumentNotFound,
    GaveUp,
    ReadOnly,
    ResumeFailed,
    SessionClosed,
    SyncTimeout,
    Unauthorized,
    close_action,
)
from .events import (
    ConnectionState,
    CursorMoved,
    EditAcked,
    EditRejected,
    Event,
    Notice,
    Participant,
    PresenceChanged,
    Ready,
    RemoteEdit,
    RoleChanged,
    ServerError,
    StateChanged,
)
from .session import Session

__all__ = [
    "AccessRevoked",
    "Backoff",
    "ClientClosed",
    "CollabClientError",
    "Connection",
    "ConnectionState",
    "CursorMoved",
    "DocumentClient",
    "DocumentDeleted",
    "DocumentNotFound",
    "EditAcked",
    "EditRejected",
    "Event",
    "EventStream",
    "GaveUp",
    "Handler",
    "Notice",
    "Participant",
    "PresenceChanged",
    "ReadOnly",
    "Ready",
    "RemoteEdit",
    "ResumeFailed",
    "RoleChanged",
    "ServerError",
    "Session",
    "SessionClosed",
    "StateChanged",
    "SyncTimeout",
    "Unauthorized",
    "close_action",
    "document_url",
]
