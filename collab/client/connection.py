"""A WebSocket that stays connected: reconnects with exponential backoff, stops cleanly.

``Connection`` owns the socket and the retry loop; what the frames mean is
its ``handler``'s business (a sans-I/O object: ``DocumentClient`` plugs in a
``Session``). One task runs the loop; per connection a reader feeds frames to
the handler while the loop sends what the handler has queued and calls its
``tick`` at its ``next_deadline``::

    conn = Connection("ws://localhost:8000/ws/documents/<id>/?token=...", handler)
    conn.start()
    ...
    await conn.stop()          # returns within about close_timeout (0.5 s)

The close codes of ``collab.codes.RECONNECT_CODES`` (1001, 1005, 1006, 1011,
1012, 1013 and 4408), and network errors, reconnect after ``Backoff`` delays
(reset once a connection has been healthy for ``backoff.reset_after`` seconds);
other codes, and HTTP 4xx refusals of the handshake, give up with a ``GaveUp`` error that says why. Each reconnect is
logged at WARNING with the reason and the delay; the token never is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from collab.codes import CloseCode

from .backoff import Backoff
from .errors import CollabClientError, GaveUp, close_action, describe_close
from .events import ConnectionState

__all__ = ["Connection", "Handler", "redact"]

log = logging.getLogger("collab.client")


class Handler(Protocol):
    """What ``Connection`` drives; ``now`` is the event loop's monotonic clock."""

    def connection_made(self, now: float) -> None: ...
    def text_received(self, text: str, now: float) -> None: ...
    def connection_lost(self, now: float) -> None: ...
    def tick(self, now: float) -> None: ...
    def next_deadline(self) -> float | None: ...
    def data_to_send(self) -> list[str]: ...
    def reconnect_reason(self) -> str | None: ...
    def fatal(self) -> CollabClientError | None: ...
    def close_error(self, code: int, reason: str) -> GaveUp: ...
    def state_changed(self, state: ConnectionState, reason: str, delay: float | None) -> None: ...


def redact(url: str) -> str:
    """The URL without its query string (where the token is), for logs and messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _Reconnect(Exception):
    """This connection ended; try again (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Connection:
    """Keeps one WebSocket to ``url`` open for ``handler`` until ``stop()`` or a give-up."""

    def __init__(
        self,
        url: str,
        handler: Handler,
        *,
        backoff: Backoff | None = None,
        open_timeout: float = 10.0,
        close_timeout: float = 0.5,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        max_size: int | None = 64 * 2**20,
        headers: Mapping[str, str] | None = None,
        rand: random.Random | None = None,
        url_for_attempt: Callable[[], Awaitable[str]] | None = None,
        **connect_kwargs: Any,
    ) -> None:
        self.url = url
        self.url_for_attempt = url_for_attempt  # e.g. a fresh ticket per attempt (tickets.TicketUrl)
        self.handler = handler
        self.backoff = backoff or Backoff()
        self.open_timeout, self.close_timeout = open_timeout, close_timeout
        self.ping_interval, self.ping_timeout, self.max_size = ping_interval, ping_timeout, max_size
        self.headers = dict(headers or {})
        self.connect_kwargs = connect_kwargs
        self.state: ConnectionState = "connecting"
        self.error: CollabClientError | None = None  # why it gave up, if it did
        self.reconnects = 0  # how many times it has reconnected
        self._rand = rand or random.Random()
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._healthy_at: float | None = None

    # -- control ---------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"collab {redact(self.url)}"
            )

    def wake(self) -> None:
        """The handler has something to send: send it now."""
        self._wake.set()

    def mark_healthy(self) -> None:
        """The handler is fully in sync: from now on this connection counts as healthy."""
        self._healthy_at = asyncio.get_running_loop().time()

    async def stop(self) -> None:
        """Close the connection (code 1000) and stop reconnecting; returns within ~close_timeout."""
        self._stopping = True
        self._wake.set()
        task = self._task
        if task is None or task.done():
            self._set_state("closed", "stopped")
            return
        if self._ws is None:  # connecting or waiting to reconnect: nothing to close politely
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=self.close_timeout + 0.2)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=0.2)

    async def wait_closed(self) -> None:
        """Wait until the loop ends (stopped, or gave up: then raise its error)."""
        if self._task is not None:
            await asyncio.wait({self._task})
        if self.error is not None:
            raise self.error

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # -- the loop ------------------------------------------------------------------
    def _set_state(self, state: ConnectionState, reason: str = "", delay: float | None = None) -> None:
        if state != self.state or state == "reconnecting":
            self.state = state
            self.handler.state_changed(state, reason, delay)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        reason = ""
        try:
            while not self._stopping:
                self._set_state("connecting", reason)
                self._healthy_at = None
                try:
                    await self._connect_and_serve()
                except _Reconnect as exc:
                    reason = exc.reason
                except GaveUp as exc:
                    self.error = exc
                    break
                if self._stopping:
                    break
                fatal = self.handler.fatal()
                if fatal is not None:
                    self.error = fatal
                    break
                healthy_for = None if self._healthy_at is None else loop.time() - self._healthy_at
                attempt = self.backoff.next_attempt(attempt, healthy_for)
                delay = self.backoff.delay(attempt, self._rand.random())
                attempt += 1
                self.reconnects += 1
                log.warning(
                    "%s: %s; reconnecting in %.2f s (attempt %d)", redact(self.url), reason, delay, attempt
                )
                self._set_state("reconnecting", reason, delay)
                await self._sleep(delay)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            self._ws = None
            if self.error is not None:
                log.error("%s: giving up: %s", redact(self.url), self.error)
                self._set_state("closed", str(self.error))
            else:
                self._set_state("closed", "stopped")

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        deadline = asyncio.get_running_loop().time() + delay
        while not self._stopping:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return
            self._wake.clear()

    async def _connect_and_serve(self) -> None:
        try:
            url = self.url if self.url_for_attempt is None else await self.url_for_attempt()
        except (OSError, TimeoutError, ValueError) as exc:
            raise _Reconnect(f"cannot get a WebSocket ticket ({type(exc).__name__}: {exc})") from exc
        try:
            ws = await connect(
                url,
                open_timeout=self.open_timeout,
                close_timeout=self.close_timeout,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                max_size=self.max_size,
                additional_headers=self.headers or None,
                **self.connect_kwargs,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if 400 <= status < 500 and status not in (408, 429):
                raise GaveUp(
                    status, f"the server refused the WebSocket handshake with HTTP {status}"
                ) from exc
            raise _Reconnect(f"handshake refused with HTTP {status}") from exc
        except InvalidURI as exc:
            raise GaveUp(0, f"invalid URL: {exc}") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise _Reconnect(f"cannot connect ({type(exc).__name__}: {exc})") from exc
        loop = asyncio.get_running_loop()
        self._ws = ws
        self.handler.connection_made(loop.time())
        try:
            await self._serve(ws)
        finally:
            try:
                await ws.close()  # at once if already closed; at most close_timeout otherwise
            finally:
                self._ws = None
                self.handler.connection_lost(loop.time())

    async def _serve(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        reader = loop.create_task(self._read(ws))
        try:
            while True:
                self._wake.clear()
                self.handler.tick(loop.time())
                if self._stopping or self.handler.fatal() is not None:
                    await ws.close(CloseCode.NORMAL, "client stopped")
                    return
                why = self.handler.reconnect_reason()
                if why is not None:
                    await ws.close(CloseCode.NORMAL, "reconnecting")
                    raise _Reconnect(why)
                if reader.done():
                    raise self._closed(ws, reader)
                try:
                    for text in self.handler.data_to_send():
                        await ws.send(text)
                except ConnectionClosed:
                    await asyncio.wait({reader}, timeout=self.close_timeout)
                    raise self._closed(ws, reader) from None
                if self._wake.is_set():
                    continue
                deadline = self.handler.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            if not reader.done():
                reader.cancel()
                await asyncio.wait({reader})
            if not reader.cancelled():
                reader.exception()  # retrieved: the close code was read from it, or it did not matter

    async def _read(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                message = await ws.recv()
                if isinstance(message, str):
                    self.handler.text_received(message, loop.time())
                self._wake.set()
        finally:
            self._wake.set()

    def _closed(self, ws: ClientConnection, reader: asyncio.Task[None]) -> Exception:
        """Why the connection ended: a _Reconnect, or the GaveUp error for the close code."""
        exc = reader.exception() if reader.done() and not reader.cancelled() else None
        if exc is not None and not isinstance(exc, ConnectionClosed):
            log.error("%s: handling a message failed", redact(self.url), exc_info=exc)
            return _Reconnect(f"client error ({type(exc).__name__}: {exc})")
        rcvd = exc.rcvd if isinstance(exc, ConnectionClosed) else None
        code = rcvd.code if rcvd is not None else CloseCode.ABNORMAL
        reason = rcvd.reason if rcvd is not None else ""
        if close_action(code) == "reconnect":
            return _Reconnect(f"connection closed with {describe_close(code, reason)}")
        return self.handler.close_error(code, reason)
