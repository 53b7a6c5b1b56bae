"""WebSocket handshake guards: ``?token=`` authentication and the Origin check.

- ``TokenAuthMiddleware``: a ``?token=<key>`` in the URL authenticates as that
  token's user; an invalid token is anonymous (never a fallback to the
  session). Without a token, the Django session cookie decides.
- ``OriginValidator``: a handshake whose ``Origin`` names a host outside
  ``ALLOWED_HOSTS`` is refused (cross-site WebSocket hijacking); a handshake
  with no ``Origin`` (non-browser clients) is judged by its credentials alone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator as ChannelsOriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for_token(key: str) -> Any:
    # the user alone (not token.user): a user fetched through its token caches the
    # token on itself, and this object lives as long as the connection
    user = get_user_model().objects.filter(auth_token__key=key, is_active=True).first()
    return user if user is not None else AnonymousUser()


def token_from_scope(scope: dict[str, Any]) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    values = query.get("token")
    return values[0] if values else None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = token_from_scope(scope)
        if key is not None:
            scope = {**scope, "user": await _user_for_token(key), "auth": "token"}
        # not super().__call__: that copies the scope again, and every copy lives
        # as long as the connection does
        return await self.inner(scope, receive, send)


class _SessionUnlessToken(BaseMiddleware):
    """Session auth, but a token (valid or not) always wins over the cookie."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.with_session = AuthMiddlewareStack(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("auth") == "token":
            return await self.inner(scope, receive, send)
        return await self.with_session(scope, receive, send)


class OriginValidator(ChannelsOriginValidator):
    """Channels' validator against ``ALLOWED_HOSTS`` (read per handshake), but no Origin is fine."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, [])

    @property  # type: ignore[override]
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
    """Origin check, then token, then session authentication."""
    return OriginValidator(TokenAuthMiddleware(_SessionUnlessToken(inner)))
