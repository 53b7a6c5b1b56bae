"""WebSocket handshake guards: ticket and token authentication, and the Origin check.

- ``TokenAuthMiddleware``: a ``?ticket=`` (``POST /api/ws-ticket/``: 60 s,
  single use) authenticates as the user it was issued to, a ``?token=<key>``
  as that token's user; an invalid, expired or used one is anonymous (never a
  fallback to the session). With neither, the Django session cookie decides
  (as Django's ``get_user`` would: the session's auth hash checked).
  Users come from ``collab.user_cache``: no database query for a known token,
  ticket or session.
- ``OriginValidator``: a handshake whose ``Origin`` names a host outside
  ``ALLOWED_HOSTS`` is refused (cross-site WebSocket hijacking); a handshake
  with no ``Origin`` (non-browser clients) is judged by its credentials alone.

Every WebSocket endpoint goes through ``websocket_stack``, so each accepts all
three credentials.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator as ChannelsOriginValidator
from channels.sessions import SessionMiddlewareStack
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from collab import tickets
from collab.user_cache import user_by_id, user_for_session, user_for_token

__all__ = ["OriginValidator", "TokenAuthMiddleware", "token_from_scope", "user_for_token", "websocket_stack"]


def credentials_from_scope(scope: dict[str, Any]) -> tuple[str | None, str | None]:
    """The ``?ticket=`` and ``?token=`` of a handshake (None where absent)."""
    raw = scope.get("query_string", b"")
    if b"ticket=" not in raw and b"token=" not in raw:
        return None, None
    query = parse_qs(raw.decode("latin1"), keep_blank_values=True)
    ticket, token = query.get("ticket"), query.get("token")
    return (ticket[0] if ticket else None), (token[0] if token else None)


def token_from_scope(scope: dict[str, Any]) -> str | None:
    return credentials_from_scope(scope)[1]


async def user_for_ticket(ticket: str) -> tuple[Any, str]:
    """The ticket's user (AnonymousUser for a bad one) and the credential it was bought with."""
    redeemed = await tickets.redeem(ticket)
    if redeemed is None:
        return AnonymousUser(), ""
    return await user_by_id(redeemed[0]), redeemed[1]


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        ticket, key = credentials_from_scope(scope)
        if ticket is not None:
            user, origin = await user_for_ticket(ticket)
            scope = {**scope, "user": user, "auth": "ticket", "ticket_origin": origin}
        elif key is not None:
            scope = {**scope, "user": await user_for_token(key), "auth": "token"}
        # not super().__call__: that copies the scope again, and every copy lives
        # as long as the connection does
        return await self.inner(scope, receive, send)


class SessionUser(BaseMiddleware):
    """``scope["user"]`` from the session cookie, through ``collab.user_cache`` (Channels'
    ``AuthMiddleware`` costs two queries per handshake)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = {**scope, "user": await user_for_session(scope["session"])}
        return await self.inner(scope, receive, send)


class _SessionUnlessToken(BaseMiddleware):
    """Session auth, but a ticket or token (valid or not) always wins over the cookie."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.with_session = SessionMiddlewareStack(SessionUser(inner))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("auth") in ("ticket", "token"):
            return await self.inner(scope, receive, send)
        return await self.with_session(scope, receive, send)


class OriginValidator(ChannelsOriginValidator):
    """Channels' validator against ``ALLOWED_HOSTS`` (read per handshake), but no Origin is fine."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, [])

    @property
    def allowed_origins(self) -> list[str]:
        hosts = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not hosts:
            hosts = ["localhost", "127.0.0.1", "[::1]"]
        return hosts

    @allowed_origins.setter
    def allowed_origins(self, value: list[str]) -> None:
        pass

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True  # no Origin header: not a browser, judged by its credentials
        return bool(super().valid_origin(parsed_origin))


def websocket_stack(inner: Any) -> Any:
    """Origin check, then ticket or token, then session authentication."""
    return OriginValidator(TokenAuthMiddleware(_SessionUnlessToken(inner)))
