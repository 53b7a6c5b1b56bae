"""Who is in the document and where their cursors are, in local text positions. No I/O.

The server sends presence entries and cursors in *its* text at some version;
the client's local text may be behind (a cursor can outrun the op stream) or
ahead (our unacknowledged edits). ``Room`` keeps recent server ops to carry a
cursor forward, waits for versions it has not reached yet, and moves every
cursor through each change of the local text::

    >>> room = Room()
    >>> _ = room.reset([{"session": "s2", "user": {"name": "Bob"}}], own_session="s1")
    >>> room.place("s2", 0, 2, 2, version=0, pending=[], size=5)
    CursorMoved(session='s2', name='Bob', anchor=2, head=2, color='')
    >>> room.moved(["ab"], size=7)    # text inserted before Bob's cursor
    >>> room.cursors["s2"]
    (4, 4)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from collab.ot import Op, transform_selection

from .events import CursorMoved, Participant, PresenceChanged

__all__ = ["Room"]


def _num(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


class Room:
    """Presence entries by session, remote cursors, and the recent server ops to place them."""

    def __init__(self, history: int = 256) -> None:
        self.own_session = ""
        self.entries: dict[str, dict[str, Any]] = {}
        self.cursors: dict[str, tuple[int, int]] = {}
        self._waiting: dict[str, tuple[int, int, int]] = {}  # session -> (version, anchor, head)
        self._history: deque[tuple[int, Op]] = deque(maxlen=history)

    def participant(self, entry: dict[str, Any], own_cursor: tuple[int, int] | None) -> Participant:
        session = str(entry.get("session", ""))
        cursor = own_cursor if session == self.own_session else self.cursors.get(session)
        return Participant.from_entry(entry, own_session=self.own_session, cursor=cursor)

    def participants(self, own_cursor: tuple[int, int] | None = None) -> list[Participant]:
        return [self.participant(e, own_cursor) for e in self.entries.values()]

    # -- entries -----------------------------------------------------------------
    def reset(self, entries: Iterable[Any], own_session: str) -> PresenceChanged | None:
        """A ``hello``'s full list; returns the difference from what we had (None on no change)."""
        before = self.entries
        self.own_session = own_session
        self.entries = {str(e.get("session")): e for e in entries if isinstance(e, dict)}
        self.cursors.clear()
        self._waiting.clear()
        return self._diff(before)

    def update(self, payload: dict[str, Any]) -> PresenceChanged | None:
        """A ``presence`` diff message."""
        before = dict(self.entries)
        for entry in payload.get("joined") or []:
            if isinstance(entry, dict):
                self.entries[str(entry.get("session"))] = entry
        for entry in payload.get("updated") or []:
            if isinstance(entry, dict) and str(entry.get("session")) in self.entries:
                self.entries[str(entry.get("session"))] = entry
        for session in payload.get("left") or []:
            self.entries.pop(str(session), None)
            self.cursors.pop(str(session), None)
            self._waiting.pop(str(session), None)
        return self._diff(before)

    def _diff(self, before: dict[str, dict[str, Any]]) -> PresenceChanged | None:
        after = self.entries
        joined = tuple(self.participant(e, None) for s, e in after.items() if s not in before)
        left = tuple(self.participant(e, None) for s, e in before.items() if s not in after)
        updated = tuple(self.participant(e, None) for s, e in after.items() if s in before and before[s] != e)
        return PresenceChanged(joined, left, updated) if joined or left or updated else None

    def entry_cursors(self) -> list[tuple[str, int, int, int]]:
        """Cursors found in the entries: (session, version, anchor, head)."""
        out = []
        for session, entry in self.entries.items():
            cursor = entry.get("cursor")
            if session != self.own_session and isinstance(cursor, dict):
                anchor, head = cursor.get("anchor"), cursor.get("head")
                if anchor is not None and head is not None:
                    out.append((session, _num(cursor.get("version")), _num(anchor), _num(head)))
        return out

    # -- cursors -----------------------------------------------------------------
    def committed(self, version: int, op: Op) -> None:
        """Remember server op ``version`` (in server positions) to carry older cursors forward."""
        self._history.append((version, op))

    def forget_history(self) -> None:
        self._history.clear()

    def place(
        self,
        session: str,
        at: int,
        anchor: int | None,
        head: int | None,
        *,
        version: int,
        pending: Op,
        size: int,
    ) -> CursorMoved | None:
        """A cursor in the server's text at version ``at``; we are at ``version`` with ``pending``
        local edits on top and a local text of ``size``. Returns the event, or None if it has
        to wait for a version we have not reached, or is too old to place."""
        self._waiting.pop(session, None)
        if anchor is None or head is None:
            self.cursors.pop(session, None)
        elif at > version:
            self._waiting[session] = (at, _num(anchor), _num(head))
            return None
        else:
            a, h = max(_num(anchor), 0), max(_num(head), 0)
            if at < version:
                ops = [op for v, op in self._history if v > at]
                if len(ops) != version - at:
                    return None
                for op in ops:
                    a, h = transform_selection(a, h, op)
            if pending:
                a, h = transform_selection(a, h, pending)
            self.cursors[session] = (min(a, size), min(h, size))
        entry = self.entries.get(session, {})
        raw = entry.get("user")
        user: dict[str, Any] = raw if isinstance(raw, dict) else {}
        a2, h2 = self.cursors.get(session, (None, None))
        return CursorMoved(session, str(user.get("name", "")), a2, h2, str(user.get("color", "")))

    def reached(self, version: int, pending: Op, size: int) -> list[CursorMoved]:
        """Place the cursors that were waiting for ``version``."""
        out = []
        for session, (at, anchor, head) in list(self._waiting.items()):
            if at <= version:
                event = self.place(session, at, anchor, head, version=version, pending=pending, size=size)
                if event is not None:
                    out.append(event)
        return out

    def moved(self, op: Op, size: int) -> None:
        """The local text changed by ``op`` (now ``size`` long): move every remote cursor."""
        for session, (a, h) in list(self.cursors.items()):
            a, h = transform_selection(a, h, op)
            self.cursors[session] = (min(a, size), min(h, size))
