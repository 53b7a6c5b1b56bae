"""Every JSON frame the server builds (PROTOCOL.md sections 4 and 5, and the presence room).

Frames are serialized once and shared: the frames of an event are kept in its
``memo`` so every subscriber of a room writes the same string.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from collab.protocol import PROTOCOL_VERSION, MessageType, error_frame, frame
from collab.realtime.events import PresenceChanged

__all__ = [
    "ack_frame",
    "cursor_frame",
    "error_frame",
    "frame",
    "hello_frame",
    "op_frame",
    "ops_frame",
    "pong_frame",
    "presence_frame",
    "presence_snapshot_frame",
    "role_frame",
    "subscribed_frame",
]


def ack_frame(client_id: str, seq: int | None, version: int) -> str:
    return frame(MessageType.ACK, {"client_id": client_id, "seq": seq, "version": version})


def op_frame(payload: str) -> str:
    """An ``op`` frame around an already-serialized op payload."""
    return '{"type":"op","payload":' + payload + "}"


def ops_frame(payloads: Sequence[str]) -> str:
    """An ``ops`` frame around already-serialized op payloads."""
    return '{"type":"ops","payload":{"ops":[' + ",".join(payloads) + "]}}"


def presence_frame(event: PresenceChanged, *, tagged: bool = False) -> str:
    """The ``presence`` diff of ``event``; ``tagged`` adds ``document`` (the presence room's form)."""
    key = "tagged" if tagged else "plain"
    text = event.memo.get(key)
    if text is None:
        payload: dict[str, Any] = {"joined": event.joined, "left": event.left, "updated": event.updated}
        if tagged:
            payload = {"document": event.document_id, **payload}
        text = event.memo[key] = frame(MessageType.PRESENCE, payload)
    return text


def presence_snapshot_frame(document_id: str, entries: list[dict[str, Any]]) -> str:
    """The presence room's first frame for a document: everyone there now, as ``joined``."""
    return frame(
        MessageType.PRESENCE, {"document": document_id, "joined": entries, "left": [], "updated": []}
    )


def cursor_frame(event: Any) -> str:
    """The ``cursor`` frame of a ``CursorMoved`` event, built once per event."""
    text = event.memo.get("cursor")
    if text is None:
        text = event.memo["cursor"] = frame(
            MessageType.CURSOR,
            {
                "session": event.session,
                "user": event.user,
                "version": event.version,
                "anchor": event.anchor,
                "head": event.head,
            },
        )
    return str(text)


def hello_frame(
    *, session: str, role: str, user: Any, document: dict[str, Any], presence: list[Any], limits: Any
) -> str:
    return frame(
        MessageType.HELLO,
        {
            "protocol": PROTOCOL_VERSION,
            "session": session,
            "role": role,
            "user": user,
            "document": document,
            "presence": presence,
            "limits": limits,
        },
    )


def role_frame(role: str) -> str:
    return frame(MessageType.ROLE, {"role": role})


def pong_frame(payload: Any) -> str:
    return frame(MessageType.PONG, payload, echo=True)


def subscribed_frame(documents: Iterable[str]) -> str:
    return frame(MessageType.SUBSCRIBED, {"documents": sorted(documents)})
