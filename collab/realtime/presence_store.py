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
renew it) and returns them, so the caller can announce them again.

Colours: ``join`` gives each connection a colour (``user.color``) that no other live
connection of the room has while free colours remain (``collab.users.PALETTE``):
the colour the user already has in the room (a second tab shares it), else the
user's hashed colour if free, else the first free one, else the hashed colour.
The choice and the write are one atomic step (a Lua script on Redis, a lock in
memory), so two processes joining at once cannot pick the same colour; a colour
is free again once its entry leaves or its lease runs out::

    reg = registry()
    reg.join(doc_id, entry)          # -> the entry as stored, its user's colour chosen (below)
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
from collab.users import PALETTE

Entry = dict[str, Any]
Clock = Callable[[], float]


class PresenceRegistry(ABC):
    """The store's operations (``_join`` ...) behind the process-memory copy of this registry's own entries."""

    def __init__(self, ttl: float, clock: Clock = time.time) -> None:
        self.ttl = ttl
        self.clock = clock
        self._own_lock = threading.Lock()
        self._own: dict[str, dict[str, Entry]] = {}  # document -> session -> entry, joined here

    def join(self, document_id: str, entry: Entry) -> Entry:
        """Store the entry with its colour chosen (see the module); the entry as stored."""
        session = entry["session"]
        with self._own_lock:
            self._own.setdefault(document_id, {})[session] = dict(entry)
        color = self._join(document_id, entry)
        stored = {**entry, "user": {**entry["user"], "color": color}}
        with self._own_lock:
            own = self._own.get(document_id, {}).get(session)
            if own is not None:
                own["user"] = stored["user"]
        return stored

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
    def _join(self, document_id: str, entry: Entry) -> str:
        """Store the entry with a colour chosen atomically; that colour."""

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


def choose_color(preferred: str, user_id: Any, others: Iterable[tuple[Any, str]]) -> str:
    """The colour for a connection of ``user_id`` given the ``(user id, colour)`` of the room's
    other live connections (the rule in the module docstring; mirrored by ``_JOIN_LUA``)."""
    taken = set()
    for other_id, color in others:
        if user_id is not None and other_id == user_id:
            return color
        taken.add(color)
    if preferred not in taken:
        return preferred
    return next((c for c in PALETTE if c not in taken), preferred)


def _order(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.get("joined_at", ""), e.get("session", "")))


class LocalPresence(PresenceRegistry):
    def __init__(self, ttl: float, clock: Clock = time.time) -> None:
        super().__init__(ttl, clock)
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, tuple[Entry, float]]] = {}

    def _join(self, document_id: str, entry: Entry) -> str:
        now = self.clock()
        with self._lock:
            doc = self._docs.setdefault(document_id, {})
            others = [
                (e["user"].get("id"), e["user"].get("color"))
                for s, (e, expires) in doc.items()
                if expires > now and s != entry["session"]
            ]
            color = choose_color(entry["user"]["color"], entry["user"].get("id"), others)
            doc[entry["session"]] = ({**entry, "user": {**entry["user"], "color": color}}, now + self.ttl)
            return color

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


# choose_color over the live entries, and the write, in one atomic step. The entry arrives as its
# JSON cut where its colour goes (ARGV[4], ARGV[5]): re-encoding it in Lua would change its JSON.
_JOIN_LUA = """
local entries, leases = KEYS[1], KEYS[2]
local now, expires, session = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local uid, preferred, palette = cjson.decode(ARGV[6]), ARGV[7], cjson.decode(ARGV[8])
local color = nil
local taken = {}
local live = redis.call('ZRANGEBYSCORE', leases, '(' .. now, '+inf')
for i = 1, #live do
  if live[i] ~= session then
    local raw = redis.call('HGET', entries, live[i])
    if raw then
      local user = cjson.decode(raw)['user']
      if uid ~= cjson.null and user['id'] == uid then
        color = user['color']
        break
      end
      taken[user['color']] = true
    end
  end
end
if not color then
  if not taken[preferred] then
    color = preferred
  else
    for _, c in ipairs(palette) do
      if not taken[c] then color = c break end
    end
    color = color or preferred
  end
end
redis.call('HSET', entries, session, ARGV[4] .. cjson.encode(color) .. ARGV[5])
redis.call('ZADD', leases, expires, session)
return color
"""
_CUT = '"color": "\\u0000"'  # where json.dumps puts the placeholder colour "\x00": cut there


class RedisPresence(PresenceRegistry):
    def __init__(self, url: str, ttl: float, clock: Clock = time.time, prefix: str = "collab") -> None:
        import redis

        super().__init__(ttl, clock)
        # bounded waits: a Redis that stopped answering fails calls instead of hanging their threads
        self.redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
        )
        self.prefix = f"{prefix}:presence"
        self._join_script = self.redis.register_script(_JOIN_LUA)

    def _keys(self, document_id: str) -> tuple[str, str]:
        return f"{self.prefix}:{document_id}:entries", f"{self.prefix}:{document_id}:leases"

    def _sessions(self, leases: str, low: str | float, high: str | float) -> list[str]:
        """The sessions whose lease expires in ``[low, high]`` (ZRANGEBYSCORE, without scores)."""
        # redis-py types the reply for withscores too; without scores it is the members, decoded
        return [str(member) for member in self.redis.zrangebyscore(leases, low, high)]

    def _join(self, document_id: str, entry: Entry) -> str:
        user = entry["user"]
        raw = json.dumps({**entry, "user": {**user, "color": "\x00"}})
        head, tail = raw.split(_CUT, 1)
        head += '"color": '
        now = self.clock()
        args = [now, now + self.ttl, entry["session"], head, tail]
        args += [json.dumps(user.get("id")), user["color"], json.dumps(PALETTE)]
        return str(self._join_script(keys=list(self._keys(document_id)), args=args))

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
        sessions = self._sessions(leases, f"({self.clock()}", "+inf")
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
        for session in self._sessions(leases, "-inf", self.clock()):
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
