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
after ``PRESENCE_TTL`` seconds and the next sweep by a survivor announces them::

    reg = registry()
    reg.join(doc_id, entry)          # entry["session"] identifies the connection
    reg.update(doc_id, session, {"status": "idle"})
    reg.sweep(doc_id)                # -> sessions whose lease ran out, removed
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

Entry = dict[str, Any]
Clock = Callable[[], float]


class PresenceRegistry(ABC):
    def __init__(self, ttl: float, clock: Clock = time.time) -> None:
        self.ttl = ttl
        self.clock = clock

    @abstractmethod
    def join(self, document_id: str, entry: Entry) -> None: ...

    @abstractmethod
    def update(self, document_id: str, session: str, changes: Entry) -> Entry | None:
        """Merge ``changes`` into the entry; the new entry, or None if it is gone."""

    @abstractmethod
    def leave(self, document_id: str, session: str) -> bool:
        """Remove the entry; True if this call removed it."""

    @abstractmethod
    def entries(self, document_id: str) -> list[Entry]:
        """Live entries (lease not run out), oldest first."""

    @abstractmethod
    def renew(self, document_id: str, sessions: Iterable[str]) -> None: ...

    @abstractmethod
    def sweep(self, document_id: str) -> list[str]:
        """Remove entries whose lease ran out; the sessions this call removed."""

    @abstractmethod
    def clear(self) -> None: ...


def _order(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.get("joined_at", ""), e.get("session", "")))


class LocalPresence(PresenceRegistry):
    def __init__(self, ttl: float, clock: Clock = time.time) -> None:
        super().__init__(ttl, clock)
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, tuple[Entry, float]]] = {}

    def join(self, document_id: str, entry: Entry) -> None:
        with self._lock:
            self._docs.setdefault(document_id, {})[entry["session"]] = (
                dict(entry),
                self.clock() + self.ttl,
            )

    def update(self, document_id: str, session: str, changes: Entry) -> Entry | None:
        with self._lock:
            found = self._docs.get(document_id, {}).get(session)
            if found is None:
                return None
            entry = {**found[0], **changes}
            self._docs[document_id][session] = (entry, found[1])
            return dict(entry)

    def leave(self, document_id: str, session: str) -> bool:
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

    def renew(self, document_id: str, sessions: Iterable[str]) -> None:
        expires = self.clock() + self.ttl
        with self._lock:
            doc = self._docs.get(document_id, {})
            for session in sessions:
                if session in doc:
                    doc[session] = (doc[session][0], expires)

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

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()


class RedisPresence(PresenceRegistry):
    def __init__(self, url: str, ttl: float, clock: Clock = time.time, prefix: str = "collab") -> None:
        import redis

        super().__init__(ttl, clock)
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = f"{prefix}:presence"

    def _keys(self, document_id: str) -> tuple[str, str]:
        return f"{self.prefix}:{document_id}:entries", f"{self.prefix}:{document_id}:leases"

    def join(self, document_id: str, entry: Entry) -> None:
        entries, leases = self._keys(document_id)
        pipe = self.redis.pipeline()
        pipe.hset(entries, entry["session"], json.dumps(entry))
        pipe.zadd(leases, {entry["session"]: self.clock() + self.ttl})
        pipe.execute()

    def update(self, document_id: str, session: str, changes: Entry) -> Entry | None:
        entries, _ = self._keys(document_id)
        raw = self.redis.hget(entries, session)
        if raw is None:
            return None
        entry = {**json.loads(raw), **changes}
        self.redis.hset(entries, session, json.dumps(entry))
        return entry

    def leave(self, document_id: str, session: str) -> bool:
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

    def renew(self, document_id: str, sessions: Iterable[str]) -> None:
        mapping = {s: self.clock() + self.ttl for s in sessions}
        if mapping:
            self.redis.zadd(self._keys(document_id)[1], mapping, xx=True)

    def sweep(self, document_id: str) -> list[str]:
        entries, leases = self._keys(document_id)
        gone = []
        for session in self.redis.zrangebyscore(leases, "-inf", self.clock()):
            if self.redis.zrem(leases, session):  # the one sweeper that removes it announces it
                self.redis.hdel(entries, session)
                gone.append(session)
        return gone

    def clear(self) -> None:
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
            ttl = float(settings.COLLAB["PRESENCE_TTL"])
            if settings.REDIS_URL:
                prefix = settings.CACHES["default"].get("KEY_PREFIX", "collab")
                _registry = RedisPresence(settings.REDIS_URL, ttl, prefix=prefix)
            else:
                _registry = LocalPresence(ttl)
        return _registry
