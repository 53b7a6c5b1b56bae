"""How a yjs room hears the other processes: one hub member per room per process.

The room publishes what it stored (``YjsUpdated``) and the awareness it got
(``YjsAwareness``) through the hub; its member applies what other processes
(and this process's REST writes) publish, and drops the awareness clients of
sessions that presence says left (closed, or their process died). The room's
own events are not applied to it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from collab.realtime.events import Event, PresenceChanged, Resync
from collab.realtime.hub import hub
from collab.yjs.events import YjsAwareness, YjsUpdated

if TYPE_CHECKING:
    from collab.yjs.room import Room

log = logging.getLogger(__name__)


class RoomMember:
    """The room as a member of its document's room on the hub."""

    __slots__ = ("mine", "room", "session")

    def __init__(self, room: Room) -> None:
        self.room = room
        self.session = f"yjs-room-{id(room):x}"
        self.mine: set[int] = set()  # ids of events this room published and has not seen back yet

    def on_event(self, event: Event) -> None:
        if id(event) in self.mine:
            self.mine.discard(id(event))
            return
        match event:
            case YjsUpdated(first=first, last=last, updates=updates):
                self.room.remote_updated(first, last, [bytes(u) for u in updates])
            case YjsAwareness(session=session, data=data):
                self.room.remote_awareness(session, bytes(data))
            case Resync(version=version):  # the layer may have lost events (collab.realtime.recovery)
                self.room.behind(version)
            case PresenceChanged(left=left) if left:
                self.room.sessions_left(list(left))
            case _:
                pass


_members: dict[int, RoomMember] = {}


async def join(room: Room) -> None:
    member = _members[id(room)] = RoomMember(room)
    await hub().join(room.document_id, member)


def _quietly(coro: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
    task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


def leave(room: Room) -> None:
    member = _members.pop(id(room), None)
    if member is not None:
        _quietly(hub().leave(room.document_id, member))


def publish(room: Room, event: Event) -> None:
    """To the other processes (this process's connections were served by the room itself)."""
    member = _members.get(id(room))
    if member is not None:
        member.mine.add(id(event))
    _quietly(hub().publish(room.document_id, event))


def reset() -> None:
    _members.clear()
