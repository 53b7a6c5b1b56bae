"""Who is connected: one entry per connection, held under a lease that a heartbeat renews.

Two backends behind one interface, proven by one contract test suite:

- ``LocalPresence``: process memory, for the default single process (in-memory
  channel layer, local-memory cache).
- ``RedisPresence``: Redis, when ``REDIS_URL`` is set. Entries live in a hash and
  leases in a sorted set scored by expiry, so every process sees every
  connection and ``ZREM`` decides atomically which sweeper announces a lease
  that ran out: a ``left`` is sent exactly once even when several processes sweep.

Who sweeps: every process, every ``PRESENCE_HEARTBEAT`` seconds, renews the
leases of its own connections and sweeps the documents it has connections in
(see ``collab.realtime.presence``). A process that dies stops renewing; its entries expire
after ``PRESENCE_TTL`` seconds and the next sweep by a survivor announces them.

Each registry also keeps, in process memory, the entries *it* joined (and their
updates) until it leaves them: ``renew`` re-creates any of them that the store
lost (Redis restarted or flushed, or a lease swept while this process could not
renew it) and returns them, so the caller can announce them again::

    reg = registry()
    reg.join(doc_id, entry)          # entry["session"] identifies the connection
    reg.update(doc_id, session, {"status": "idle"})
    reg.sweep(doc_id)                # -> sessions whose lease ran out, removed
    reg.renew(doc_id, sessions)      # -> this registry's entries that were missing, re-created
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from collab.conf import collab_settings, redis_url

Entry = dict[str, Any]
Clock = Callable[[], float]


class PresenceRegistry(ABC):
    """The store's operations (``_join`` ...) behind the process-memory copy of this registry's own entries."""

    def __init__(self, ttl: float, clock: Clock = time.time) -> None:
        self.ttl = ttl
        self.clock = clock
        self._own_lock = threading.Lock()
        self._own: dict[str, dict[str, Entry]] = {}  # document -> session -> entry, joined here

    def join(self, document_id: str, entry: Entry) -> None:
        with self._own_lock:
            self._own.setdefault(document_id, {})[entry["session"]] = dict(entry)
        self._join(document_id, entry)

    def update(self, document_id: str, session: str, changes: Entry) -> Entry | None:
        """Merge ``changes`` into the entry; the new entry, or None if it is gone."""
        with self._own_lock:
            own = self._own.get(document_id, {}).get(session)
            if own is not None:
                own.update(changes)  # kept even if the store fails now: renew re-creates it so
        return self._update(document_id, session, changes)

    def leave(self, document_id: str, session: str) -> bool:
        """Remove the entry; True if this call removed it."""
        with self._own_lock:
            doc = self._own.get(document_id)
            if doc is not None:
                doc.pop(session, None)
                if not doc:
                    del self._own[document_id]
        return self._leave(document_id, session)

    def renew(self, document_id: str, sessions: Iterable[str]) -> list[Entry]:
        """Extend the leases of ``sessions``; re-create those this registry joined that the store
        lost. Returns the re-created entries (to announce as joined: others may have been told
        they left)."""
        sessions = list(sessions)
        with self._own_lock:
            doc = self._own.get(document_id, {})
            own = [dict(doc[s]) for s in sessions if s in doc]
        return self._renew(document_id, sessions, own)

    def clear(self) -> None:
        with self._own_lock:
            self._own.clear()
        self._clear()

    @abstractmethod
    def _join(self, document_id: str, entry: Entry) -> None: ...

    @abstractmethod
    def _update(self, document_id: str, session: str, changes: Entry) -> Entry | None: ...

    @abstractmethod
    def _leave(self, document_id: str, session: str) -> bool: ...

    @abstractmethod
    def _renew(self, document_id: str, sessions: list[str], own: list[Entry]) -> list[Entry]:
        """Extend the leases of ``sessions``; put back the ``own`` entries that are missing; those."""

    @abstractmethod
    def entries(self, document_id: str) -> list[Entry]:
        """Live entries (lease not run out), oldest first."""

    @abstractmethod
    def sweep(self, document_id: str) -> list[str]:
        """Remove entries whose lease ran out; the sessions this call removed."""

    @abstractmethod
    def _clear(self) -> None: ...


def _order(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.get("joined_at", ""), e.get("session", "")))


class LocalPresence(PresenceRegistry):
    def __init__(self, ttl: float, clock: Clock = time.time) -> None:
        super().__init__(ttl, clock)
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, tuple[Entry, float]]] = {}

    def _join(self, document_id: str, entry: Entry) -> None:
        with self._lock:
            self._docs.setdefault(document_id, {})[entry["session"]] = (
                dict(entry),
                self.clock() + self.ttl,
            )

    def _update(self, document_id: str, session: str, changes: Entry) -> Entry | None:
        with self._lock:
            found = self._docs.get(document_id, {}).get(session)
            if found is None:
                return None
            entry = {**found[0], **changes}
            self._docs[document_id][session] = (entry, found[1])
            return dict(entry)

    def _leave(self, document_id: str, session: str) -> bool:
        with self._lock:
            doc = self._docs.get(document_id, {})
            removed = doc.pop(session, None) is not None
            if not doc:
                self._docs.pop(document_id, None)
            return removed

    def entries(self, document_id: str) -> list[Entry]:
        now = self.clock()
        with self._lock:
            items = list(self._docs.get(document_id, {}).values())
        return _order([dict(e) for e, expires in items if expires > now])

    def _renew(self, document_id: str, sessions: list[str], own: list[Entry]) -> list[Entry]:
        expires = self.clock() + self.ttl
        with self._lock:
            doc = self._docs.setdefault(document_id, {})
            for session in sessions:
                if session in doc:
                    doc[session] = (doc[session][0], expires)
            back = [entry for entry in own if entry["session"] not in doc]
            for entry in back:
                doc[entry["session"]] = (entry, expires)
            if not doc:
                del self._docs[document_id]
        return [dict(e) for e in back]

    def sweep(self, document_id: str) -> list[str]:
        now = self.clock()
        with self._lock:
            doc = self._docs.get(document_id, {})
            gone = [s for s, (_, expires) in doc.items() if expires <= now]
            for session in gone:
                del doc[session]
            if not doc:
                self._docs.pop(document_id, None)
            return gone

    def _clear(self) -> None:
        with self._lock:
            self._docs.clear()


class RedisPresence(PresenceRegistry):
    def __init__(self, url: str, ttl: float, clock: Clock = time.time, prefix: str = "collab") -> None:
        import redis

        super().__init__(ttl, clock)
        # bounded waits: a Redis that stopped answering fails calls instead of hanging their threads
        self.redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
        )
        self.prefix = f"{prefix}:presence"

    def _keys(self, document_id: str) -> tuple[str, str]:
        return f"{self.prefix}:{document_id}:entries", f"{self.prefix}:{document_id}:leases"

    def _join(self, document_id: str, entry: Entry) -> None:
        entries, leases = self._keys(document_id)
        pipe = self.redis.pipeline()
        pipe.hset(entries, entry["session"], json.dumps(entry))
        pipe.zadd(leases, {entry["session"]: self.clock() + self.ttl})
        pipe.execute()

    def _update(self, document_id: str, session: str, changes: Entry) -> Entry | None:
        entries, _ = self._keys(document_id)
        raw = self.redis.hget(entries, session)
        if raw is None:
            return None
        entry = {**json.loads(raw), **changes}
        self.redis.hset(entries, session, json.dumps(entry))
        return entry

    def _leave(self, document_id: str, session: str) -> bool:
        entries, leases = self._keys(document_id)
        pipe = self.redis.pipeline()
        pipe.zrem(leases, session)
        pipe.hdel(entries, session)
        removed, _ = pipe.execute()
        return bool(removed)

    def entries(self, document_id: str) -> list[Entry]:
        entries, leases = self._keys(document_id)
        sessions = self.redis.zrangebyscore(leases, f"({self.clock()}", "+inf")
        if not sessions:
            return []
        raws = self.redis.hmget(entries, sessions)
        return _order([json.loads(r) for r in raws if r is not None])

    def _renew(self, document_id: str, sessions: list[str], own: list[Entry]) -> list[Entry]:
        entries, leases = self._keys(document_id)
        expires = self.clock() + self.ttl
        owned = {e["session"] for e in own}
        pipe = self.redis.pipeline()
        for entry in own:  # HSETNX says 1 where the store had lost the entry
            pipe.hsetnx(entries, entry["session"], json.dumps(entry))
        if owned:
            pipe.zadd(leases, dict.fromkeys(owned, expires))  # made again if missing
        others = {s: expires for s in sessions if s not in owned}
        if others:
            pipe.zadd(leases, others, xx=True)  # not joined here: only extended
        created = pipe.execute()[: len(own)]
        return [entry for entry, new in zip(own, created, strict=True) if new]

    def sweep(self, document_id: str) -> list[str]:
        entries, leases = self._keys(document_id)
        gone = []
        for session in self.redis.zrangebyscore(leases, "-inf", self.clock()):
            if self.redis.zrem(leases, session):  # the one sweeper that removes it announces it
                self.redis.hdel(entries, session)
                gone.append(session)
        return gone

    def _clear(self) -> None:
        keys = list(self.redis.scan_iter(f"{self.prefix}:*"))
        if keys:
            self.redis.delete(*keys)


_registry: PresenceRegistry | None = None
_lock = threading.Lock()


def registry() -> PresenceRegistry:
    """The process's registry: Redis when REDIS_URL is set, else process memory."""
    global _registry
    with _lock:
        if _registry is None:
            ttl = float(collab_settings["PRESENCE_TTL"])
            if redis_url():
                prefix = settings.CACHES["default"].get("KEY_PREFIX", "collab")
                _registry = RedisPresence(redis_url(), ttl, prefix=prefix)
            else:
                _registry = LocalPresence(ttl)
        return _registry
