"""Per-connection bookkeeping for operators: open/close log lines, frames in and out, the gauges.

``Tracked`` is a mixin of every WebSocket consumer (``BaseConsumer``). It
counts frames received and sent, remembers the first close code (the
server's own, or the client's), and when the consumer ends writes one line to
the ``collab.connections`` logger and updates ``collab_connections_open`` and
``collab_connections_closed_total``. A consumer calls ``opened(document, role)``
once it has accepted the connection for real (after ``hello``); that writes
the open line. A refused connection (4401, 4404, 4415) gets a close line only::

    connection opened endpoint=text document=3f2a... user=7 role=editor
    connection closed endpoint=text document=3f2a... user=7 role=editor duration=12.41 code=1000 frames_in=31 frames_out=58

Fields are also attached to the record (``extra``) for the JSON formatter
(``collab.log_format``). No token, ticket, cookie or session id is ever part
of a line: the user is named by id only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from collab import metrics

log = logging.getLogger("collab.connections")

ENDPOINTS = {
    "DocumentConsumer": "text",
    "PresenceConsumer": "presence",
    "YWebsocketConsumer": "yjs",
    "HocuspocusConsumer": "hocuspocus",
}
GOING_AWAY = 1001


class Tracked:
    """Mixin for ``AsyncWebsocketConsumer`` subclasses (before it in the bases)."""

    _track_started: float | None = None
    _track_opened: tuple[str, str] | None = None  # the gauge's labels while open
    _track_document: str | None = None
    _track_role: str | None = None
    _track_code: int | None = None
    _track_in = 0
    _track_out = 0  # frames sent through Channels' ``send``; the outbox counts its own

    @property
    def endpoint(self) -> str:
        return ENDPOINTS.get(type(self).__name__, type(self).__name__)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)  # type: ignore[misc]
        except asyncio.CancelledError:
            self._track_code = self._track_code or GOING_AWAY  # the server is shutting down
            raise
        finally:
            self._track_finish()

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self._track_started = time.monotonic()
        await super().accept(subprotocol, headers)  # type: ignore[misc]

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        self._track_in += 1
        await super().websocket_receive(message)  # type: ignore[misc]

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if self._track_code is None:
            self._track_code = int(message.get("code") or 1005)
        await super().websocket_disconnect(message)  # type: ignore[misc]

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: Any = False
    ) -> None:
        self._track_out += 1
        await super().send(text_data, bytes_data, close)  # type: ignore[misc]

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if self._track_code is None and isinstance(code, int) and not isinstance(code, bool):
            self._track_code = code
        await super().close(code, reason)  # type: ignore[misc]

    # -- what consumers call -----------------------------------------------------------
    def opened(self, document: str | None, role: str | None) -> None:
        """The connection is accepted for real: count it and write the open line (once)."""
        if self._track_opened is not None:
            return
        self._track_document, self._track_role = document, role
        self._track_opened = (self.endpoint, role or "none")
        metrics.CONNECTIONS.labels(*self._track_opened).inc()
        log.info("connection opened %s", _pairs(self._fields()), extra=self._fields("connection.open"))

    def close_code(self, code: int) -> None:
        """Record the close code of a close sent some other way than ``close()``."""
        if self._track_code is None:
            self._track_code = int(code)

    # -- internals ---------------------------------------------------------------------
    def _frames_out(self) -> int:
        outbox = getattr(self, "outbox", None)  # the socket's one write path counts what it wrote
        return self._track_out + int(getattr(outbox, "frames", 0) or 0)

    def _fields(self, event: str = "") -> dict[str, Any]:
        user = getattr(self, "scope", {}).get("user") if hasattr(self, "scope") else None
        fields: dict[str, Any] = {
            "endpoint": self.endpoint,
            "document": self._track_document,
            "user_id": getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None,
            "role": self._track_role,
        }
        if event:
            fields = {"event": event, **fields}
        return fields

    def _track_finish(self) -> None:
        if self._track_started is None:
            return  # never accepted: nothing was open
        started, self._track_started = self._track_started, None
        code = self._track_code if self._track_code is not None else 1006
        if self._track_opened is not None:
            metrics.CONNECTIONS.labels(*self._track_opened).dec()
        metrics.CLOSES.labels(self.endpoint, str(code)).inc()
        fields = self._fields("connection.close")
        if self._track_document is None:  # refused before it opened: say which document it asked for
            route = getattr(self, "scope", {}).get("url_route", {}).get("kwargs", {})
            fields["document"] = route.get("document_id")
        fields |= {
            "duration": round(time.monotonic() - started, 3),
            "code": code,
            "frames_in": self._track_in,
            "frames_out": self._frames_out(),
        }
        shown = {k: v for k, v in fields.items() if k != "event"}
        log.info("connection closed %s", _pairs(shown), extra=fields)


def _pairs(fields: dict[str, Any]) -> str:
    return " ".join(f"{key}={'-' if value is None else value}" for key, value in fields.items())
