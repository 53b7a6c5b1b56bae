"""What a document client reports: participants and events, as plain frozen values. No I/O.

Every event the session or the connection produces is one of these classes;
``match`` on them::

    async for event in doc.events():
        match event:
            case RemoteEdit(version=v, op=op, user=user):
                print(f"v{v}: {user.get('name')} did {op}")
            case StateChanged(state="reconnecting", reason=why, delay=delay):
                print(f"reconnecting in {delay:.1f}s: {why}")

Positions in events (``RemoteEdit.op``, cursors) are in the client's *local*
text, which already holds its own unacknowledged edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from collab.ot import Op

__all__ = [
    "ConnectionState",
    "CursorMoved",
    "EditAcked",
    "EditRejected",
    "Event",
    "Notice",
    "Participant",
    "PresenceChanged",
    "Ready",
    "RemoteEdit",
    "RoleChanged",
    "ServerError",
    "StateChanged",
]

ConnectionState = Literal["connecting", "connected", "reconnecting", "closed"]


@dataclass(frozen=True)
class Participant:
    """One connection in the document (two tabs of one user are two participants)."""

    session: str
    name: str
    user_id: int | None = None
    color: str = ""
    role: str = ""
    status: str = "active"
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    joined_at: str = ""
    is_self: bool = False
    cursor: tuple[int, int] | None = None  # (anchor, head) in the local text, None if hidden

    @classmethod
    def from_entry(
        cls, entry: dict[str, Any], *, own_session: str = "", cursor: tuple[int, int] | None = None
    ) -> Participant:
        raw = entry.get("user")
        user: dict[str, Any] = raw if isinstance(raw, dict) else {}
        meta = entry.get("meta")
        uid = user.get("id")
        return cls(
            session=str(entry.get("session", "")),
            name=str(user.get("name", "")),
            user_id=uid if isinstance(uid, int) else None,
            color=str(user.get("color", "")),
            role=str(entry.get("role", "")),
            status=str(entry.get("status", "active")),
            meta=dict(meta) if isinstance(meta, dict) else {},
            joined_at=str(entry.get("joined_at", "")),
            is_self=bool(own_session) and entry.get("session") == own_session,
            cursor=cursor,
        )


@dataclass(frozen=True)
class Ready:
    """Hello processed (first connect) or resume finished (reconnect): the client is live."""

    version: int
    text: str
    resumed: bool


@dataclass(frozen=True)
class RemoteEdit:
    """Someone else's committed op, as applied to the local text (``text`` is the result).

    Also used when the client has to rebase its text onto the server's (after a
    divergence or a history gap): then ``client_id`` and ``session`` are empty.
    """

    version: int
    op: Op
    text: str
    client_id: str = ""
    session: str = ""
    user: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class EditAcked:
    """Our edit ``seq`` was committed as ``version``."""

    seq: int
    version: int


@dataclass(frozen=True)
class EditRejected:
    """The server refused our edit ``seq`` (``code``: invalid_op, forbidden, document_too_large...).

    The edit was taken out of the local text by applying ``undo``; ``text`` is the result.
    """

    seq: int
    code: str
    message: str
    undo: Op
    text: str


@dataclass(frozen=True)
class PresenceChanged:
    joined: tuple[Participant, ...] = ()
    left: tuple[Participant, ...] = ()
    updated: tuple[Participant, ...] = ()


@dataclass(frozen=True)
class CursorMoved:
    """A participant's cursor moved (``anchor``/``head`` None: hidden). Local text positions."""

    session: str
    name: str
    anchor: int | None
    head: int | None
    color: str = ""


@dataclass(frozen=True)
class RoleChanged:
    role: str


@dataclass(frozen=True)
class ServerError:
    """An ``error`` frame the client did not handle by itself."""

    code: str
    message: str
    ref: Any = None


@dataclass(frozen=True)
class Notice:
    """Something the client noticed and recovered from (logged at WARNING)."""

    message: str


@dataclass(frozen=True)
class StateChanged:
    """The connection state changed; ``delay`` is set when reconnecting, ``error`` when it gave up."""

    state: ConnectionState
    reason: str = ""
    delay: float | None = None
    error: Exception | None = field(default=None, compare=False)


Event: TypeAlias = (
    Ready
    | RemoteEdit
    | EditAcked
    | EditRejected
    | PresenceChanged
    | CursorMoved
    | RoleChanged
    | ServerError
    | Notice
    | StateChanged
)
