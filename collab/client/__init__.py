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

``Connection``, ``Handler``, ``DocumentClient``, ``EventStream`` and
``document_url`` need the websockets library; they are imported on first use,
so the rest (and ``python -m collab.client``'s own error) works without it.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .backoff import Backoff
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

if TYPE_CHECKING:
    from .connection import Connection, Handler
    from .document import DocumentClient, EventStream, document_url

MISSING_WEBSOCKETS = (
    "collab.client needs the websockets library (13 or later), which this Python ({python}) does not have: "
    "run it with the project's virtualenv, .venv/bin/python -m collab.client (make run creates it), "
    "or install it into this Python: pip install 'websockets>=13,<18'"
)
_NEEDS_WEBSOCKETS = {
    "Connection": ".connection",
    "Handler": ".connection",
    "DocumentClient": ".document",
    "EventStream": ".document",
    "document_url": ".document",
}


def is_websockets(exc: ModuleNotFoundError) -> bool:
    """The missing module is websockets (absent, or too old to have ``websockets.asyncio``)."""
    return (exc.name or "").split(".")[0] == "websockets"


def missing_websockets_message() -> str:
    """What to do when websockets is not installed (also ``python -m collab.client``'s error)."""
    return MISSING_WEBSOCKETS.format(python=sys.executable)


def __getattr__(name: str) -> Any:
    module = _NEEDS_WEBSOCKETS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(import_module(module, __name__), name)
    except ModuleNotFoundError as exc:
        if not is_websockets(exc):
            raise
        raise ModuleNotFoundError(missing_websockets_message(), name="websockets") from None
    globals()[name] = value
    return value


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
