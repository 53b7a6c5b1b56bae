"""Connections that outlive their credentials are closed with 4401 within seconds, on every process.

REST checks credentials on every request; a WebSocket checks them once, at the
handshake. So every authenticated connection also joins its user's hub room
(``user_room(id)``) through a small member, the ``Watcher``, which remembers
how the connection was authenticated: the digest of its session key or token
(a salted HMAC: no key ever travels in an event or reaches a log). A
``CredentialsRevoked`` event published to that room, from any process, closes
the connections it names::

    logout (user_logged_out)        what="session", digest  -> connections of that session
    password changed (User.save)    what="password"         -> session connections whose session
                                                               no longer holds the user's auth hash
    Token deleted                   what="token", digest    -> connections of that token
    user deactivated or deleted     what="user"             -> all of the user's connections

A connection made with a ticket (``?ticket=``) counts as made with the credential
the ticket was bought with (``origin_of`` the ``POST /api/ws-ticket/`` request);
one bought with a session is closed by any password change (its session key
is not kept, so it cannot be checked again).

A consumer calls ``await watch(self)`` once authenticated and ``await unwatch(self)``
when it goes (a Hocuspocus document opened with its auth message's token is
watched on its own: ``watch(peer, ..., user=user, token=token)``); ``watch`` needs ``scope`` and ``close_with(code, error, message)``,
or an ``on_revoked`` coroutine function that closes the connection its own way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model, user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework.authtoken.models import Token

from collab.codes import CloseCode, ErrorCode
from collab.middleware import token_from_scope
from collab.realtime.events import CredentialsRevoked, Event
from collab.realtime.hub import hub

log = logging.getLogger(__name__)
MESSAGE = (
    "Your sign-in ended (signed out, password changed, token deleted or account deactivated); sign in again."
)
SESSION, TOKEN, PASSWORD, USER = "session", "token", "password", "user"


def user_room(user_id: Any) -> str:
    """The hub room of a user's connections (a valid channel-layer group name)."""
    return f"user.{user_id}"


def digest(key: str) -> str:
    """What names a session key or token in events: a salted HMAC, useless to present."""
    return salted_hmac("collab.realtime.credentials", key).hexdigest()


def _session_valid(session_key: str, user_id: int) -> bool:
    """Would Django still accept this session as the user (``django.contrib.auth.get_user``)?"""
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    stored = data.get(HASH_SESSION_KEY)
    if str(data.get(SESSION_KEY)) != str(user_id) or not stored:
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, h) for h in hashes)


session_valid = database_sync_to_async(_session_valid)


def origin_of(request: Any) -> str:
    """The credential an HTTP request was authenticated with: ``"token:<digest>"``,
    ``"session:<digest>"``, or ``""`` (what a ticket bought by it is tied to)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, Token):
        return f"{TOKEN}:{digest(auth.key)}"
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    return f"{SESSION}:{digest(session_key)}" if session_key else ""


class Watcher:
    """One connection as a member of its user's room: closes it when its credentials end."""

    __slots__ = ("connection", "digest", "kind", "on_revoked", "room", "session", "session_key", "user_id")

    def __init__(
        self,
        connection: Any,
        on_revoked: Callable[[], Awaitable[None]] | None,
        user: Any = None,
        token: str | None = None,
    ) -> None:
        scope = getattr(connection, "scope", {})
        self.connection = connection
        self.session = getattr(connection, "session", None) or f"socket-{id(connection):x}"  # for the logs
        self.user_id = int((user if user is not None else scope["user"]).pk)
        self.room = user_room(self.user_id)
        self.on_revoked = on_revoked
        self.session_key: str | None = None  # kept only for a session cookie: a password change rechecks it
        auth = scope.get("auth")
        if token is not None:  # a credential of its own (a Hocuspocus auth message's token)
            self.kind, self.digest = TOKEN, digest(token)
        elif auth == "ticket":  # what the ticket was bought with
            self.kind, _, self.digest = str(scope.get("ticket_origin") or "").partition(":")
        elif auth == TOKEN:
            self.kind, self.digest = TOKEN, digest(token_from_scope(scope) or "")
        else:
            self.session_key = getattr(scope.get("session"), "session_key", None)
            self.kind, self.digest = SESSION, digest(self.session_key) if self.session_key else ""

    def on_event(self, event: Event) -> None:
        if not isinstance(event, CredentialsRevoked) or event.user_id != self.user_id:
            return
        if event.what == USER or (
            event.what in (SESSION, TOKEN)
            and event.what == self.kind
            and bool(self.digest)
            and constant_time_compare(event.digest, self.digest)
        ):
            self._revoke()
        elif event.what == PASSWORD and self.kind != TOKEN:  # a token outlives a password change
            asyncio.get_running_loop().create_task(self._recheck_session())

    async def _recheck_session(self) -> None:
        if self.session_key is None or not await session_valid(self.session_key, self.user_id):
            self._revoke()

    def _revoke(self) -> None:
        log.info("closing %s: the credentials of user %s ended", self.session, self.user_id)
        asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        await unwatch(self.connection)
        if self.on_revoked is not None:
            await self.on_revoked()
        else:
            await self.connection.close_with(CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, MESSAGE)


_watchers: dict[Any, Watcher] = {}  # connection -> its watcher


async def watch(
    connection: Any,
    on_revoked: Callable[[], Awaitable[None]] | None = None,
    *,
    user: Any = None,
    token: str | None = None,
) -> None:
    """Close ``connection`` (4401) when the credentials it was opened with end; anonymous: nothing.

    ``user`` and ``token``: a member authenticated apart from its socket's handshake (a Hocuspocus
    document opened with its auth message's token), watched for that token's deletion."""
    if user is None:
        user = connection.scope.get("user")
    if not getattr(user, "is_authenticated", False) or connection in _watchers:
        return
    watcher = _watchers[connection] = Watcher(connection, on_revoked, user, token)
    await hub().join(watcher.room, watcher)


async def unwatch(connection: Any) -> None:
    """Stop watching (idempotent)."""
    watcher = _watchers.pop(connection, None)
    if watcher is not None:
        await hub().leave(watcher.room, watcher)


# -- what revokes credentials ------------------------------------------------------------
def revoke(user_id: Any, what: str, key: str = "") -> None:
    """Publish ``CredentialsRevoked`` to the user's room once the transaction commits."""
    event = CredentialsRevoked(int(user_id), what, digest(key) if key else "")
    transaction.on_commit(lambda: hub().publish_from_sync(user_room(user_id), event))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and user.pk is not None and session_key:
        revoke(user.pk, SESSION, session_key)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _remember_credentials(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or instance._state.adding:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. login's last_login
    instance._collab_credentials = (
        sender.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_collab_credentials", None)
    instance._collab_credentials = None
    if created or before is None:
        return
    password, active = before
    if active and not instance.is_active:
        revoke(instance.pk, USER)
    elif password != instance.password:
        revoke(instance.pk, PASSWORD)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def _user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    revoke(instance.pk, USER)


@receiver(post_delete, sender=Token)
def _token_deleted(sender: Any, instance: Token, **kwargs: Any) -> None:
    revoke(instance.user_id, TOKEN, instance.key)
