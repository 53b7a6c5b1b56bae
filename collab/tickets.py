"""WebSocket tickets: short-lived, single-use stand-ins for a credential in a URL.

A signed-in user (session or token) asks ``POST /api/ws-ticket/`` for one and
connects with ``?ticket=`` instead of ``?token=``, so a long-lived key never
rides in a URL (proxies and servers log URLs)::

    ticket = issue(user, origin)     # valid TICKET_SECONDS, once
    user_id = await consume(ticket)  # the user's id, or None: unknown, expired or used
    user_id, origin = await redeem(ticket)  # the same, with the credential it was bought with

Tickets live in the Django cache (Redis when ``REDIS_URL`` is set, so a
ticket issued by one process is good on every other, and only once: the
``delete`` that consumes it succeeds for one caller only). The cache key is
a hash of the ticket, so the cache holds nothing a client could present.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache

from collab.user_cache import local_cache

TICKET_SECONDS = 60
_MAX_LENGTH = 128  # longer is not one of ours: refused without a cache lookup


def _key(ticket: str) -> str:
    return "collab:ws-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


def issue(user: Any, origin: str = "") -> str:
    """A ticket for ``user``; ``origin`` names the credential it was bought with (a digest from
    ``collab.realtime.credentials.origin_of``), so revoking that credential closes its sockets."""
    ticket = secrets.token_urlsafe(32)
    cache.set(_key(ticket), [user.pk, origin], TICKET_SECONDS)
    return ticket


def redeem_sync(ticket: str, store: Any = cache) -> tuple[Any, str] | None:
    """The ticket's user id and origin, or None: unknown, expired or used."""
    if not ticket or len(ticket) > _MAX_LENGTH:
        return None
    key = _key(ticket)
    value = store.get(key)
    # get then delete: whoever deletes it is the one who used it (atomic in Redis and locmem)
    if value is None or not store.delete(key):
        return None
    user_id, origin = value
    return user_id, str(origin)


def consume_sync(ticket: str) -> Any | None:
    redeemed = redeem_sync(ticket)
    return None if redeemed is None else redeemed[0]


async def redeem(ticket: str) -> tuple[Any, str] | None:
    """``redeem_sync`` without a thread hop for the local-memory cache (it never blocks)."""
    if (local := local_cache()) is not None:
        return redeem_sync(ticket, local)
    return await sync_to_async(redeem_sync, thread_sensitive=False)(ticket)


async def consume(ticket: str) -> Any | None:
    """The id of the user the ticket was issued to, once; None if unknown, expired or used."""
    redeemed = await redeem(ticket)
    return None if redeemed is None else redeemed[0]
