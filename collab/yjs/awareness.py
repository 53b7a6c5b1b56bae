"""The awareness states of one document (y-protocols rules), and which connection introduced which client.

Stock providers put their user, colour and cursor in awareness; the server only
merges (a higher clock wins; a null state at the same clock removes), remembers
the states so a newcomer gets them all at once, and remembers which session
introduced each client, so those clients can be removed for everybody when the
session goes away (closed, or its process died)::

    table = AwarenessTable()
    table.apply(entries, session="s1")
    table.removal("s1")      # -> an awareness update with a null state per client of s1

Each connection sends what the room relays through an ``AwarenessFeed``: as it
comes while its socket keeps up; while the socket is behind, only the latest
entry per awareness client, as one update when the socket gets to it (the
outbox's ``send_latest``), so an awareness flood costs a slow socket a few
entries, not a queue that grows.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from collab.realtime.outbox import Outbox
from collab.yjs.codec import AwarenessEntry, awareness, write_awareness


class AwarenessTable:
    __slots__ = ("clocks", "owners", "states")

    def __init__(self) -> None:
        self.states: dict[int, Any] = {}
        self.clocks: dict[int, int] = {}
        self.owners: dict[str, set[int]] = {}

    def apply(self, entries: list[AwarenessEntry], session: str) -> bool:
        """Merge entries sent through ``session``; True if anything changed."""
        changed = False
        for e in entries:
            current = self.clocks.get(e.client, -1)
            removes = e.state is None and e.client in self.states
            if e.clock > current or (e.clock == current and removes):
                self.clocks[e.client] = e.clock
                if e.state is None:
                    self.states.pop(e.client, None)
                    self._disown(e.client)
                else:
                    self.states[e.client] = e.state
                    self._disown(e.client)
                    self.owners.setdefault(session, set()).add(e.client)
                changed = True
        return changed

    def _disown(self, client: int) -> None:
        for session, clients in list(self.owners.items()):
            if client in clients:
                clients.discard(client)
                if not clients:
                    del self.owners[session]

    def removal(self, session: str) -> bytes | None:
        """Remove the clients ``session`` introduced; the awareness update that says so, or None."""
        clients = [c for c in self.owners.pop(session, ()) if c in self.states]
        if not clients:
            return None
        for client in clients:
            del self.states[client]
        # a null state at the same clock removes the client for every y-protocols peer
        return write_awareness([AwarenessEntry(c, self.clocks.get(c, 0), None) for c in clients])

    def everything(self) -> bytes | None:
        """Every known state as one awareness update (for a newcomer), or None when there is none."""
        if not self.states:
            return None
        return write_awareness([AwarenessEntry(c, self.clocks[c], s) for c, s in self.states.items()])

    def sessions(self) -> set[str]:
        return set(self.owners)


class AwarenessFeed:
    """The awareness updates of one document for one connection, coalesced while it is behind."""

    __slots__ = ("key", "outbox", "pending", "prefix")

    def __init__(self, outbox: Outbox, key: Hashable, prefix: bytes = b"") -> None:
        self.outbox = outbox
        self.key = key  # the outbox slot: one per document on the socket
        self.prefix = prefix  # Hocuspocus: the document name
        self.pending: dict[int, AwarenessEntry] | None = None  # while behind: client -> its latest entry

    def offer(self, update: bytes, entries: list[AwarenessEntry]) -> None:
        """Send ``update`` (whose ``entries`` are given parsed), or fold it into the waiting one."""
        if self.pending is None and not self.outbox.congested():
            self.outbox.send(self.prefix + awareness(update))
            return
        if self.pending is None:
            self.pending = {}
        for entry in entries:
            was = self.pending.get(entry.client)
            # y-protocols' rule: a higher clock wins; a null state at the same clock removes
            if was is None or entry.clock > was.clock or (entry.clock == was.clock and entry.state is None):
                self.pending[entry.client] = entry
        self.outbox.send_latest(self.key, self._flush)

    def _flush(self) -> bytes | None:
        pending, self.pending = self.pending, None
        if not pending:
            return None
        return self.prefix + awareness(write_awareness(list(pending.values())))
