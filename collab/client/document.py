"""``DocumentClient``: edit one collab document from asyncio, surviving disconnects.

::

    async with DocumentClient("http://localhost:8000", doc_id, token=token) as doc:
        await doc.insert(len(doc.text), "Hello!")
        await doc.wait_synced()                 # every local edit acknowledged
        async for event in doc.events():        # remote edits, presence, cursors, state
            print(event)

Leaving the ``async with`` block normally waits (up to ``flush_timeout``)
until every local edit is acknowledged, then closes; leaving it with an
exception closes at once. Edits made while disconnected are kept and sent on
reconnect; see ``collab.client.session`` for how a reconnect is made lossless.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from collab.codes import CLOSE_ERRORS
from collab.ot import Op

from .backoff import Backoff
from .connection import Connection, redact
from .errors import ClientClosed, CollabClientError, GaveUp, SyncTimeout, gave_up
from .events import ConnectionState, Event, Notice, Participant, Ready, ServerError, StateChanged
from .session import Session
from .tickets import TicketUrl

__all__ = ["DocumentClient", "EventStream", "document_url"]

log = logging.getLogger("collab.client")


def document_url(url: str, document_id: str, token: str | None = None) -> str:
    """The WebSocket URL of a document: ``http(s)://host[/prefix]`` or ``ws(s)://...`` plus its id.

    >>> document_url("http://localhost:8000", "42", token="abc")
    'ws://localhost:8000/ws/documents/42/?token=abc'
    """
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"expected an http(s):// or ws(s):// server URL, got {url!r}")
    path = f"{parts.path.rstrip('/')}/ws/documents/{quote(str(document_id), safe='')}/"
    query = parse_qsl(parts.query)
    if token:
        query = [(k, v) for k, v in query if k != "token"] + [("token", token)]
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


class EventStream:
    """An async iterator of the client's events from the moment it was created.

    It ends after the final ``StateChanged("closed")`` event; ``aclose()`` (or
    leaving ``async with``) unsubscribes early.
    """

    def __init__(self, client: DocumentClient) -> None:
        self._client = client
        self._queue: deque[Event] = deque()
        self._signal = asyncio.Event()
        self._ended = False
        client._streams.add(self)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            if self._ended:
                raise StopAsyncIteration
            self._signal.clear()
            await self._signal.wait()
        return self._queue.popleft()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._end()

    def _push(self, event: Event) -> None:
        if not self._ended:
            self._queue.append(event)
            self._signal.set()

    def _end(self) -> None:
        self._ended = True
        self._signal.set()
        self._client._streams.discard(self)


class DocumentClient:
    """A live, self-healing copy of one document: read ``text``, edit, watch events."""

    def __init__(
        self,
        url: str,
        document_id: str,
        *,
        token: str | None = None,
        client_id: str | None = None,
        backoff: Backoff | None = None,
        ack_timeout: float = 5.0,
        connect_timeout: float | None = 30.0,
        flush_timeout: float = 10.0,
        open_timeout: float = 10.0,
        close_timeout: float = 0.5,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        headers: Mapping[str, str] | None = None,
        tickets: bool = True,
        **connect_kwargs: Any,
    ) -> None:
        self.url = document_url(url, document_id, token)
        self.document_id = str(document_id)
        self.client_id = client_id or uuid.uuid4().hex
        self.connect_timeout, self.flush_timeout = connect_timeout, flush_timeout
        self._session = Session(self.client_id, ack_timeout=ack_timeout, hello_timeout=open_timeout)
        self._conn_options: dict[str, Any] = dict(
            backoff=backoff,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            headers=headers,
            # with a token: a fresh single-use ticket in the URL for each attempt, not the token
            url_for_attempt=TicketUrl(self.url) if token and tickets else None,
            **connect_kwargs,
        )
        self._conn: Connection | None = None
        self._state: ConnectionState = "connecting"
        self._closed = False
        self._streams: set[EventStream] = set()
        self._pulse = asyncio.Event()  # set and replaced whenever anything changes

    def __repr__(self) -> str:
        return (
            f"<DocumentClient {redact(self.url)} state={self._state} version={self.version} "
            f"pending={self.pending}>"
        )

    # -- state ------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The local text: the server's, plus our edits not acknowledged yet."""
        return self._session.text

    @property
    def version(self) -> int:
        """The last server version this client has incorporated (-1 before loading)."""
        return self._session.version

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def role(self) -> str:
        return self._session.role

    @property
    def title(self) -> str:
        return self._session.title

    @property
    def user(self) -> dict[str, Any]:
        """This connection's user as the server sees it: ``{"id", "name", "color"}``."""
        return dict(self._session.user)

    @property
    def session_id(self) -> str:
        """The server's id for the current connection (changes on every reconnect)."""
        return self._session.session_id

    @property
    def participants(self) -> list[Participant]:
        return self._session.participants

    @property
    def cursor(self) -> tuple[int, int] | None:
        return self._session.cursor

    @property
    def pending(self) -> bool:
        """True while some local edit is not acknowledged by the server."""
        return self._session.pending

    @property
    def synced(self) -> bool:
        return self._session.synced

    @property
    def reconnects(self) -> int:
        return 0 if self._conn is None else self._conn.reconnects

    @property
    def error(self) -> CollabClientError | None:
        """Why the client gave up, if it did."""
        return None if self._conn is None else self._conn.error

    # -- lifecycle ----------------------------------------------------------------
    async def __aenter__(self) -> DocumentClient:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            await self.close()
        else:
            await self.stop()

    async def start(self, timeout: float | None = None) -> None:
        """Connect and load the document; retries (with backoff) for up to ``connect_timeout``."""
        if self._conn is not None:
            raise RuntimeError("this DocumentClient was already started")
        self._conn = Connection(self.url, _Driver(self), **self._conn_options)
        self._conn.start()
        try:
            async with asyncio.timeout(timeout if timeout is not None else self.connect_timeout):
                await self._until(lambda: self._session.ready)
        except TimeoutError:
            await self.stop()
            raise TimeoutError(f"could not load {redact(self.url)} within the connect timeout") from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close now, without waiting for unacknowledged edits; returns within ~1 s."""
        if self._conn is not None:
            await self._conn.stop()
        self._finish()

    async def close(self, timeout: float | None = None) -> None:
        """Wait until every local edit is acknowledged (``SyncTimeout`` after ``timeout``), then stop."""
        try:
            if self._conn is not None and not self._closed:
                await self.wait_synced(self.flush_timeout if timeout is None else timeout)
        finally:
            await self.stop()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until connected and every local edit is acknowledged."""
        try:
            async with asyncio.timeout(timeout):
                await self._until(lambda: self._session.synced)
        except TimeoutError:
            raise SyncTimeout(
                f"local edits still unacknowledged after {timeout} s (connection {self._state})"
            ) from None

    async def wait_closed(self) -> None:
        """Wait until the client stops; raises the error if it gave up."""
        await self._until(lambda: False, raise_closed=False)
        if self.error is not None:
            raise self.error

    def events(self) -> EventStream:
        """Subscribe to events from now on (each call is an independent subscription)."""
        stream = EventStream(self)
        if self._closed:
            stream._end()
        return stream

    # -- editing -------------------------------------------------------------------
    async def insert(self, pos: int, text: str) -> None:
        """Insert ``text`` at code point ``pos`` of the local text."""
        self._local(lambda now: self._session.insert(pos, text, now))

    async def delete(self, pos: int, count: int) -> None:
        """Delete ``count`` code points from ``pos``."""
        self._local(lambda now: self._session.delete(pos, count, now))

    async def replace(self, new_text: str) -> None:
        """Make the text ``new_text`` with one minimal edit: every common run of lines, words
        and characters is kept, so concurrent edits to those parts survive."""
        self._local(lambda now: self._session.replace(new_text, now))

    async def edit(self, op: Op) -> None:
        """Apply a raw op (PROTOCOL.md section 1) to the local text."""
        self._local(lambda now: self._session.edit(op, now))

    async def set_cursor(self, anchor: int, head: int | None = None) -> None:
        """Show our cursor or selection to the others (local text positions)."""
        self._local(lambda now: self._session.set_cursor(anchor, head, now))

    async def hide_cursor(self) -> None:
        self._local(lambda now: self._session.hide_cursor(now))

    async def set_presence(self, status: str = "active", meta: Mapping[str, Any] | None = None) -> None:
        """Set our status ("active" or "idle") and a small ``meta`` object the others see."""
        self._local(lambda now: self._session.set_presence(status, meta, now))

    # -- internals -----------------------------------------------------------------
    def _local(self, action: Callable[[float], object]) -> None:
        if self._conn is None or self._closed:
            raise self.error or ClientClosed("the client is not running (start it, or use async with)")
        action(asyncio.get_running_loop().time())
        self._dispatch()
        self._conn.wake()

    async def _until(self, predicate: Callable[[], bool], *, raise_closed: bool = True) -> None:
        while not predicate():
            if self._closed:
                if raise_closed:
                    raise self.error or ClientClosed("the client was stopped")
                return
            await self._pulse.wait()

    def _changed(self) -> None:
        self._pulse.set()
        self._pulse = asyncio.Event()

    def _dispatch(self) -> None:
        for event in self._session.events_received():
            if isinstance(event, Ready):
                assert self._conn is not None
                self._conn.mark_healthy()
                self._emit(event)
                self._set_state("connected", "resumed" if event.resumed else "loaded")
                continue
            if isinstance(event, Notice):
                log.warning("%s: %s", redact(self.url), event.message)
            elif isinstance(event, ServerError):
                log.warning("%s: server error %s: %s", redact(self.url), event.code, event.message)
            self._emit(event)
        self._changed()

    def _emit(self, event: Event) -> None:
        for stream in list(self._streams):
            stream._push(event)

    def _set_state(self, state: ConnectionState, reason: str = "", delay: float | None = None) -> None:
        if state == self._state and state != "reconnecting":
            return
        self._state = state
        error = self.error if state == "closed" else None
        self._emit(StateChanged(state, reason, delay, error))
        if state == "closed":
            self._finish()
        self._changed()

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            if self._state != "closed":
                self._state = "closed"
                self._emit(StateChanged("closed", "stopped", None, self.error))
            for stream in list(self._streams):
                stream._end()
            self._changed()


class _Driver:
    """Plugs the client's ``Session`` into its ``Connection`` (the ``Handler`` protocol)."""

    def __init__(self, client: DocumentClient) -> None:
        self.client = client
        self.session = client._session

    def connection_made(self, now: float) -> None:
        self.session.connection_made(now)
        self.client._dispatch()

    def text_received(self, text: str, now: float) -> None:
        self.session.receive_text(text, now)
        self.client._dispatch()

    def connection_lost(self, now: float) -> None:
        self.session.connection_lost(now)
        self.client._dispatch()

    def tick(self, now: float) -> None:
        self.session.tick(now)
        self.client._dispatch()

    def next_deadline(self) -> float | None:
        return self.session.next_deadline()

    def data_to_send(self) -> list[str]:
        return self.session.data_to_send()

    def reconnect_reason(self) -> str | None:
        return self.session.reconnect_reason

    def fatal(self) -> CollabClientError | None:
        return self.session.fatal

    def close_error(self, code: int, reason: str) -> GaveUp:
        error, message = self.session.last_error
        if CLOSE_ERRORS.get(code) != error:
            error, message = "", ""
        return gave_up(code, reason, error, message)

    def state_changed(self, state: ConnectionState, reason: str, delay: float | None) -> None:
        self.client._set_state(state, reason, delay)
