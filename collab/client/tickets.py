"""WebSocket tickets for the Python client: the API token stays out of every URL.

Before each (re)connect, ``TicketUrl`` asks ``POST /api/ws-ticket/`` (with
``Authorization: Token``) for a single-use ticket and returns the WebSocket URL
with ``?ticket=`` in place of ``?token=``::

    url_for_attempt = TicketUrl("ws://localhost:8000/ws/documents/42/?token=KEY")
    url = await url_for_attempt()   # ws://localhost:8000/ws/documents/42/?ticket=...

A server without the endpoint (404, 405) gets ``?token=`` from then on; one
that refuses the token (401, 403) gets ``?token=`` too, so the WebSocket
handshake says what is wrong as before. A network error or a 5xx raises
``OSError``: the connection retries with its backoff.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["TicketUrl", "ticket_endpoint"]


def ticket_endpoint(ws_url: str) -> str:
    """``POST /api/ws-ticket/`` on the server of a ``ws(s)://host[/prefix]/ws/...`` URL."""
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    prefix = parts.path.rsplit("/ws/", 1)[0] if "/ws/" in parts.path else ""
    return urlunsplit((scheme, parts.netloc, prefix + "/api/ws-ticket/", "", ""))


class TicketUrl:
    """The URL for the next connection attempt: a fresh ticket each time, ``?token=`` as the fallback."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.token = next((v for k, v in query if k == "token"), "")
        self.url = url  # with ?token=: the fallback
        self._bare = (parts, [(k, v) for k, v in query if k != "token"])
        self.endpoint = ticket_endpoint(url)
        self.timeout = timeout
        self.supported = bool(self.token)

    def _with_ticket(self, ticket: str) -> str:
        parts, query = self._bare
        return urlunsplit((*parts[:3], urlencode([*query, ("ticket", ticket)]), ""))

    def _fetch(self) -> str | None:
        request = urllib.request.Request(self.endpoint, data=b"", method="POST")
        request.add_header("Authorization", f"Token {self.token}")
        request.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as err:
            if err.code in (404, 405):
                self.supported = False  # an older server: ?token= from now on
                return None
            if 400 <= err.code < 500 and err.code != 429:
                return None  # refused: the handshake with ?token= tells why
            raise
        ticket = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(ticket, str) or not ticket:
            raise ValueError("the ticket endpoint answered without a ticket")
        return ticket

    async def __call__(self) -> str:
        if not self.supported:
            return self.url
        ticket = await asyncio.to_thread(self._fetch)
        return self.url if ticket is None else self._with_ticket(ticket)
