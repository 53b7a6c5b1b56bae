"""WebSocket tickets: short-lived, single-use stand-ins for a credential in a URL.

A signed-in user (session or token) asks ``POST /api/ws-ticket/`` for one and
connects with ``?ticket=`` instead of ``?token=``, so a long-lived key never
rides in a URL (proxies and servers log URLs)::

    ticket = issue(user)             # valid TICKET_SECONDS, once
    user_id = await consume(ticket)  # the user's id, or None: unknown, expired or used

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

TICKET_SECONDS = 60
_MAX_LENGTH = 128  # longer is not one of ours: refused without a cache lookup


def _key(ticket: str) -> str:
    return "collab:ws-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


def issue(user: Any) -> str:
    ticket = secrets.token_urlsafe(32)
    cache.set(_key(ticket), user.pk, TICKET_SECONDS)
    return ticket


def consume_sync(ticket: str) -> Any | None:
    if not ticket or len(ticket) > _MAX_LENGTH:
        return None
    key = _key(ticket)
    user_id = cache.get(key)
    # get then delete: whoever deletes it is the one who used it (atomic in Redis and locmem)
    if user_id is None or not cache.delete(key):
        return None
    return user_id


consume = sync_to_async(consume_sync, thread_sensitive=False)
