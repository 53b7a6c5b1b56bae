"""The one ordered, bounded write path of one socket: text or bytes frames, and the slow-client policy.

Every frame a connection sends goes through its ``Outbox``, in order: there is
no second queue and no second writer (two writers waiting on one socket is
what breaks websockets' flow control under uvicorn). Under daphne, and under
uvicorn's ``websockets-sansio`` while its transport takes writes, a frame is
written at once, without a coroutine, while the server's buffer is small;
otherwise it waits in the queue for the writer task::

    outbox = Outbox(base_send, sink_for(base_send), name=session)
    outbox.send(frame)                               # str (text frame) or bytes (binary frame)
    outbox.send_latest(("cursor", session), frame)   # replaces one still waiting under that key
    await outbox.close(4403, error_frame(...))       # after what is queued; aborts if that hangs

Behind: more than ``SLOW_CLIENT_BUFFER_BYTES`` wait for the socket, in the
queue and, where the server lets us read it, in the server's write buffer
(``backlog()``). Every frame kind counts. While behind, the connection's owner
stops producing what it can get back later (the text kind's ops stay in the
database, ``wait_drained()``) and keys what matters only in its latest state
(``send_latest``: presence, cursors), so memory stays bounded.

Too slow (4408): a frame has waited ``SLOW_CLIENT_TIMEOUT`` seconds, the queue
holds more than twice the bound, or the owner stayed behind that long. The
queue is dropped, the 4408 close frame is handed to the server right behind
what it already holds (a client that reads again gets it), and the socket is
aborted ``SLOW_CLIENT_CLOSE_TIMEOUT`` seconds later if it is still open. The
close goes after ``too_slow_frame`` (the text kind's ``too_slow`` error; None on
the binary yjs protocols, whose clients cannot read a JSON frame).

A socket that is gone (the server raises on send, whatever it raises) is
normal: the outbox stops, and the consumer's disconnect path cleans up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

from collab.codes import CloseCode, ErrorCode
from collab.conf import collab_settings
from collab.realtime.frames import error_frame
from collab.realtime.transport import Send, Sink

log = logging.getLogger(__name__)

OPEN, CLOSING, CLOSED = "open", "closing", "closed"
POLL = 0.02  # seconds between looks at a daphne buffer that is over the bound
SMALL_BUFFER = 16 * 1024  # a server buffer this small takes one more frame without waiting
TOO_SLOW_FRAME = error_frame(ErrorCode.TOO_SLOW, "You fell too far behind; reconnect.")

Frame = str | bytes
Latest = Frame | Callable[[], Frame | None]


class _Slot:
    """A place in the queue for whatever is latest under ``key`` when the writer gets there."""

    __slots__ = ("key",)

    def __init__(self, key: Hashable) -> None:
        self.key = key


class _Close:
    __slots__ = ("code",)

    def __init__(self, code: int) -> None:
        self.code = code


class Outbox:
    """One socket's ordered, bounded write path and its slow-client policy (see above)."""

    __slots__ = (
        "abort_timer",
        "base_send",
        "close_timeout",
        "frames",
        "high",
        "name",
        "on_too_slow",
        "queue",
        "queued_bytes",
        "sink",
        "slots",
        "state",
        "timeout",
        "too_slow_frame",
        "watchdog",
        "writer",
    )

    def __init__(
        self,
        base_send: Send,
        sink: Sink,
        *,
        name: str = "",
        on_too_slow: Callable[[], None] | None = None,
        too_slow_frame: Frame | None = TOO_SLOW_FRAME,
    ) -> None:
        self.base_send = base_send
        self.sink = sink
        self.name = name  # for the logs: the connection's session
        self.on_too_slow = on_too_slow  # the owner's cleanup: the client is as good as gone
        self.too_slow_frame = too_slow_frame  # what goes before the 4408 close, if anything
        cfg = collab_settings
        self.high = int(cfg["SLOW_CLIENT_BUFFER_BYTES"])
        self.timeout = float(cfg["SLOW_CLIENT_TIMEOUT"])
        self.close_timeout = float(cfg["SLOW_CLIENT_CLOSE_TIMEOUT"])
        self.queue: deque[tuple[Frame | _Slot | _Close, float]] | None = None  # made when first needed
        self.queued_bytes = 0
        self.frames = 0  # frames written (the connection log counts them)
        self.slots: dict[Hashable, Latest] | None = None
        self.state = OPEN
        self.writer: asyncio.Task[None] | None = None
        self.watchdog: asyncio.TimerHandle | None = None
        self.abort_timer: asyncio.TimerHandle | None = None

    # -- what a connection does -----------------------------------------------
    @property
    def open(self) -> bool:
        return self.state == OPEN

    def send(self, frame: Frame) -> bool:
        """Send ``frame`` after everything before it; False if the socket is closing or gone."""
        if self.state != OPEN:
            return False
        if self._idle() and self._writable_now():
            return self._write_now(frame)
        self._enqueue(frame, len(frame))
        return True

    def send_latest(self, key: Hashable, latest: Latest) -> None:
        """Send what is latest under ``key``: a frame, or a function that builds it (None: nothing)
        when its turn comes. Replaces one still waiting under the same key, keeping its place."""
        if self.state != OPEN:
            return
        if self.slots is not None and key in self.slots:
            self.slots[key] = latest
            return
        if self._idle() and self._writable_now():
            frame = latest() if callable(latest) else latest
            if frame is not None:
                self._write_now(frame)
            return
        if self.slots is None:
            self.slots = {}
        self.slots[key] = latest
        self._enqueue(_Slot(key), 0)

    def backlog(self) -> int:
        """Bytes waiting for this socket: queued here, plus the server's buffer where readable."""
        return self.queued_bytes + (self.sink.buffered() or 0)

    def congested(self) -> bool:
        return self.backlog() > self.high

    async def wait_drained(self) -> bool:
        """Wait until the socket is no longer behind; False if it stayed behind for
        ``SLOW_CLIENT_TIMEOUT`` seconds (tell it with ``too_slow()``) or closed meanwhile."""
        started: float | None = None
        while self.state == OPEN and self.congested():
            now = time.monotonic()
            if started is None:
                started = now
            elif now - started > self.timeout:
                return False
            await asyncio.sleep(0.05)
        return self.state == OPEN

    def close(self, code: int, frame: Frame | None = None) -> Coroutine[Any, Any, None]:
        """Queue ``frame`` (the reason, as an error) and the close with ``code`` now, after what is
        queued; await the result to wait until it went out. If that does not finish within
        ``SLOW_CLIENT_CLOSE_TIMEOUT`` the socket is aborted."""
        if self.state != OPEN:
            return _nothing()
        self.state = CLOSING
        if frame is not None:
            self._enqueue(frame, len(frame))
        self._enqueue(_Close(code), 0)
        return self._closed(self.writer)

    async def _closed(self, writer: asyncio.Task[None] | None) -> None:
        if writer is None:
            return
        done, _ = await asyncio.wait({writer}, timeout=self.close_timeout)
        if not done:
            log.info("closing %s: the close did not go out in time; aborting", self.name)
            writer.cancel()
            self._abort()

    def too_slow(self) -> None:
        """Close with 4408 now: drop what is queued, hand the close to the server, abort later."""
        if self.state != OPEN:
            return
        log.info("closing %s: too slow to keep up", self.name)
        self.state = CLOSING
        self._drop_queue()
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.cancel()  # a send stuck behind the client: its close goes out instead
        loop = asyncio.get_running_loop()
        self.abort_timer = loop.call_later(self.close_timeout, self._abort)
        task = loop.create_task(self._close_too_slow(writer))
        task.add_done_callback(_quietly)
        if self.on_too_slow is not None:
            self.on_too_slow()

    def lost(self) -> None:
        """The socket is gone (its disconnect arrived, or a send failed): stop everything."""
        self.state = CLOSED
        self._drop_queue()
        for timer in (self.watchdog, self.abort_timer):
            if timer is not None:
                timer.cancel()
        self.watchdog = self.abort_timer = None
        writer, self.writer = self.writer, None
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()

    # -- internals ---------------------------------------------------------------
    def _idle(self) -> bool:
        # nothing queued, and no writer between taking a frame and its awaited send
        return not self.queue and self.writer is None

    def _writable_now(self) -> bool:
        if not self.sink.can_write_now():
            return False
        buffered = self.sink.buffered()
        return buffered is None or buffered <= self.high

    def _write_now(self, frame: Frame) -> bool:
        try:
            self.sink.write_now(frame)
        except Exception:  # the socket is gone
            self.lost()
            return False
        self.frames += 1
        return True

    def _enqueue(self, item: Frame | _Slot | _Close, size: int) -> None:
        if self.queue is None:
            self.queue = deque()
        self.queue.append((item, time.monotonic()))
        self.queued_bytes += size
        if self.state == OPEN and self.queued_bytes > 2 * self.high:
            self.too_slow()
            return
        loop = asyncio.get_running_loop()
        if self.watchdog is None and self.state == OPEN:
            self.watchdog = loop.call_later(self.timeout, self._check_age)
        if self.writer is None:
            self.writer = loop.create_task(self._write_queued())
            self.writer.add_done_callback(_quietly)

    def _check_age(self) -> None:
        self.watchdog = None
        if self.state != OPEN or not self.queue:
            return
        age = time.monotonic() - self.queue[0][1]
        if age >= self.timeout:
            self.too_slow()
        else:
            self.watchdog = asyncio.get_running_loop().call_later(self.timeout - age, self._check_age)

    def _drop_queue(self) -> None:
        if self.queue:
            self.queue.clear()
        self.queued_bytes = 0
        self.slots = None

    def _take(self) -> Frame | _Close | None:
        assert self.queue
        item, _ = self.queue.popleft()
        if isinstance(item, _Slot):
            latest = self.slots.pop(item.key, None) if self.slots is not None else None
            return latest() if callable(latest) else latest
        if not isinstance(item, _Close):
            self.queued_bytes -= len(item)
        return item

    async def _write_queued(self) -> None:
        try:
            while self.queue and self.state != CLOSED:
                if self.sink.sync and not self._writable_now():
                    await asyncio.sleep(POLL)  # daphne's buffer is full: wait for the client to read
                    continue
                item = self._take()
                if item is None:
                    continue
                if isinstance(item, _Close):
                    await self._send_close(item.code)
                    self.state = CLOSED
                    break
                if self._writable_now():
                    self.sink.write_now(item)
                else:  # uvicorn while its transport has paused writing, unknown servers
                    await self.base_send(_send_message(item))
                self.frames += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # whatever the server raises for a socket that is gone
            log.debug("writing to %s stopped: %r", self.name, exc)
            self.lost()
        finally:
            if self.writer is asyncio.current_task():
                self.writer = None
                if not self.queue:
                    self._drained()

    def _drained(self) -> None:
        """Nothing waits: an idle socket keeps no deque (0.7 KiB) and no watchdog timer."""
        self.queue = None
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None

    async def _send_close(self, code: int) -> None:
        if not self.sink.close_frame(code):
            await self.base_send({"type": "websocket.close", "code": int(code)})

    async def _close_too_slow(self, stuck: asyncio.Task[None] | None) -> None:
        if stuck is not None:
            # let the cancelled send unwind first: one waiter at a time on the socket's drain
            await asyncio.wait({stuck})
        try:
            buffered = self.sink.buffered()
            message = self.too_slow_frame
            if message is None:
                pass
            elif self.sink.sync:
                self.sink.write_now(message)
            elif buffered is not None and buffered < SMALL_BUFFER:
                await asyncio.wait_for(self.base_send(_send_message(message)), self.close_timeout)
            # the close frame is in the server's buffer as soon as this starts; waiting for
            # the client's answer is bounded by the abort timer
            self.sink.wait_for_close_reply(self.close_timeout)
            await asyncio.wait_for(self._send_close(int(CloseCode.TOO_SLOW)), self.close_timeout)
        except Exception as exc:  # gone, or it did not answer: the abort timer ends it
            log.debug("closing %s with 4408: %r", self.name, exc)

    def _abort(self) -> None:
        self.abort_timer = None
        if self.state == CLOSED and self.writer is None:
            return
        self.state = CLOSED
        try:
            self.sink.abort()
        except Exception:
            log.debug("aborting %s failed", self.name, exc_info=True)


def _send_message(frame: Frame) -> dict[str, Any]:
    if isinstance(frame, str):
        return {"type": "websocket.send", "text": frame}
    return {"type": "websocket.send", "bytes": frame}


async def _nothing() -> None:
    return None


def _quietly(task: asyncio.Task[Any]) -> None:
    """Retrieve a finished task's exception so none is ever reported as never retrieved."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.debug("outbox task ended with %r", exc)
