"""Users for WebSocket handshakes, from the Django cache: no database query for a known token or user.

A reconnect storm (every client of a deployed process at once) must not cost
a query per handshake for credentials that have not changed::

    user = await user_for_token(key)      # AnonymousUser for a wrong, deleted or inactive one
    user = await user_by_id(pk)           # the user a ticket names (AnonymousUser if gone or inactive)
    user = await user_for_session(scope["session"])   # the session cookie's user, as Django decides it


Entries: ``token -> user id`` (the token hashed into the key),
``session key -> (user id, the session's auth hash)`` (hashed too; kept no
longer than the session) and ``user id -> the user's fields`` (all but the
password, with the user's session auth hash instead: the instance is built with
the password deferred, so code that needs it loads it). A cached session is
accepted only while its auth hash is the user's current one, as Django's
``get_user`` checks it; an uncached one costs one query (the session row),
two when its user is not cached either. They live in the Django
cache, Redis when ``REDIS_URL`` is set, so every process sees one state. The
receivers in ``collab.signals`` forget a token when it is deleted and a user
when it is saved (password change, deactivation, rename) or deleted, at once
and again after the transaction commits. A session is forgotten on logout and when its row is deleted. A change made
without signals (``QuerySet.update()``) shows after ``COLLAB["AUTH_CACHE_SECONDS"]``.
Handshakes that miss the cache for one token or user at the same time share
one query (a restarted process in a reconnect storm), unless something was
forgotten after it started.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.utils.crypto import constant_time_compare

from collab.conf import collab_settings


def _ttl() -> int:
    return int(collab_settings["AUTH_CACHE_SECONDS"])


def token_key(key: str) -> str:
    return "collab:auth:token:" + hashlib.sha256(key.encode()).hexdigest()


def user_key(pk: Any) -> str:
    return f"collab:auth:user:{pk}"


def session_key(key: str) -> str:
    return "collab:auth:session:" + hashlib.sha256(key.encode()).hexdigest()


SESSION_HASH = "_session_auth_hash"  # in a user's entry: ``get_session_auth_hash()``, not the password


def _fields() -> list[str]:
    return [f.attname for f in get_user_model()._meta.concrete_fields if f.attname != "password"]


def _build(values: dict[str, Any] | None) -> Any:
    if not values or not values.get("is_active", True):
        return AnonymousUser()
    model = get_user_model()
    names = [name for name in _fields() if name in values]
    return model.from_db("default", names, [values[name] for name in names])


def _load(lookup: dict[str, Any]) -> dict[str, Any] | None:
    model = get_user_model()
    names = [f.attname for f in model._meta.concrete_fields]  # from_db wants them in this order
    row = model.objects.filter(**lookup).values(*names).first()
    if row is not None:
        row[SESSION_HASH] = model.from_db("default", names, [row[n] for n in names]).get_session_auth_hash()
        del row["password"]
        cache.set(user_key(row[model._meta.pk.attname]), row, _ttl())
    return row


_load_async = database_sync_to_async(_load)


_local: tuple[Any, LocMemCache | None] = (None, None)  # (settings.CACHES, its local-memory default)


def local_cache() -> LocMemCache | None:
    """The default cache if it is the local-memory one (its calls never block, so they need no
    thread), one object per process; None for another backend.
    ``caches["default"]`` makes one per asyncio task (an asgiref ``Local``), which a connection's
    task would keep for its whole life (0.9 KiB per idle connection); all of them share one store."""
    global _local
    conf = settings.CACHES
    if _local[0] is not conf:
        backend = caches.create_connection("default")
        _local = (conf, backend if isinstance(backend, LocMemCache) else None)
    return _local[1]


async def cache_get(key: str) -> Any:
    if (local := local_cache()) is not None:
        return local.get(key)
    return await sync_to_async(cache.get, thread_sensitive=False)(key)


async def cache_set(key: str, value: Any) -> None:
    if (local := local_cache()) is not None:
        local.set(key, value, _ttl())
    else:
        await sync_to_async(cache.set, thread_sensitive=False)(key, value, _ttl())


# bumped by every forget: a load that started before one is not shared with later handshakes
_generation = 0
_loads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[int, asyncio.Task[Any]]]] = (
    weakref.WeakKeyDictionary()
)


async def _load_once(key: str, lookup: dict[str, Any]) -> dict[str, Any] | None:
    """``_load(lookup)``, shared by the handshakes that ask for ``key`` while it runs (a reconnect
    storm on a cold cache: one query per credential, not one per handshake), unless something
    was forgotten since it started."""
    loop = asyncio.get_running_loop()
    loads = _loads.get(loop) or _loads.setdefault(loop, {})
    running = loads.get(key)
    if running is None or running[0] != _generation or running[1].done():
        task = loop.create_task(_load_async(lookup))
        loads[key] = running = (_generation, task)

        def finished(done: asyncio.Task[Any]) -> None:
            if key in loads and loads[key][1] is done:
                del loads[key]

        task.add_done_callback(finished)
    return await asyncio.shield(running[1])


async def user_by_id(pk: Any) -> Any:
    values = await cache_get(user_key(pk))
    if values is None:
        values = await _load_once(user_key(pk), {"pk": pk})
    return _build(values)


async def user_for_token(key: str) -> Any:
    """The active user of this API token, or ``AnonymousUser``."""
    if not key or len(key) > 128:
        return AnonymousUser()
    tkey = token_key(key)
    pk = await cache_get(tkey)
    if pk is not None:
        values = await cache_get(user_key(pk))
        if values is not None:
            return _build(values)
    values = await _load_once(tkey, {"auth_token__key": key})
    if values is not None:
        await cache_set(tkey, values[get_user_model()._meta.pk.attname])
    return _build(values)


def _session_values(session: Any) -> dict[str, Any] | None:
    """The session's user fields if Django would accept it (one query, two with the user not cached);
    remembered for the next handshake of the session."""
    try:
        pk = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend = session[BACKEND_SESSION_KEY]
    except (KeyError, ValueError):
        return None
    stored = session.get(HASH_SESSION_KEY)
    if backend not in settings.AUTHENTICATION_BACKENDS or not stored:
        return None
    if not isinstance(load_backend(backend), ModelBackend):  # a host's backend decides: Django's way
        user = load_backend(backend).get_user(pk)
        if user is None or not constant_time_compare(stored, user.get_session_auth_hash()):
            return None
        return _load({"pk": pk})
    values = cache.get(user_key(pk))
    if values is None or SESSION_HASH not in values:
        values = _load({"pk": pk})
    if values is None or not constant_time_compare(stored, values[SESSION_HASH]):
        return None
    ttl = min(_ttl(), session.get_expiry_age())
    if ttl > 0:
        cache.set(session_key(session.session_key), (pk, stored), ttl)
    return values


_session_values_async = database_sync_to_async(_session_values)


async def user_for_session(session: Any) -> Any:
    """The session's active user (``AnonymousUser`` for none, a changed password, an inactive user):
    no query when the session and its user are cached."""
    key = getattr(session, "session_key", None)
    if not key:
        return AnonymousUser()
    entry = await cache_get(session_key(key))
    if entry is not None:
        pk, stored = entry
        values = await cache_get(user_key(pk))
        if values is not None and constant_time_compare(stored, values.get(SESSION_HASH) or ""):
            return _build(values)
    return _build(await _session_values_async(session))


def _forget(keys: list[str]) -> None:
    def forget() -> None:
        global _generation
        _generation += 1
        cache.delete_many(keys)

    forget()
    # again once the change is committed: a handshake that read the old row in
    # between must not leave it cached, nor share its load with later ones
    transaction.on_commit(forget)


def forget_token(key: str) -> None:
    _forget([token_key(key)])


def forget_user(pk: Any) -> None:
    _forget([user_key(pk)])


def forget_session(key: str) -> None:
    _forget([session_key(key)])
