"""The yjs kind's room events (relayed by ``collab.realtime.hub`` like any other event)."""

from __future__ import annotations

from dataclasses import dataclass

from collab.realtime.events import Event, event_type


@event_type
@dataclass(frozen=True, slots=True)
class YjsUpdated(Event):
    """Updates stored as versions ``first``..``last`` of a yjs document, in version order."""

    document_id: str
    first: int
    last: int
    updates: list[bytes]


@event_type
@dataclass(frozen=True, slots=True)
class YjsAwareness(Event):
    """An awareness update (y-protocols) that came in through connection ``session``."""

    document_id: str
    session: str
    data: bytes
