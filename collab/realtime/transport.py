"""What the ASGI server can tell us about one socket: bytes waiting to be written, and a fast write.

ASGI gives an application no backpressure for WebSocket sends: daphne's
``send`` never blocks, it appends to Twisted's write buffer, so a client that
stops reading would grow server memory without bound. ``Sink`` looks behind
the ASGI ``send`` callable for the server's transport so that the delivery
code can see how far behind a client is (``buffered()``) and stop writing to
it. Under daphne, and under uvicorn's ``websockets-sansio`` while its
transport takes writes, it also writes without the per-message coroutine
(``write_now``), which is most of the fan-out cost (and of a handshake's
writes). Unknown servers get a sink that knows nothing (``buffered() is
None``); the outbox then bounds its own queue.
Middleware that wraps ``send`` (Channels' session middleware, on every handshake
without a token) is looked through. Only ``collab.realtime.outbox`` uses a sink.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]


class Sink:
    """A server we know nothing about: no buffer reading, no synchronous write."""

    sync = False  # the server's send never waits (daphne): the outbox polls its buffer instead

    def buffered(self) -> int | None:
        return None

    def can_write_now(self) -> bool:
        """``write_now`` may take the next frame at once (else: await the ASGI ``send``)."""
        return self.sync

    def write_now(self, frame: str | bytes) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        return None

    def close_frame(self, code: int) -> bool:
        """Send a close frame the ASGI path cannot; False if this server needs no help."""
        return False

    def wait_for_close_reply(self, seconds: float) -> None:
        """How long the server waits for the client's answer to our close before dropping it."""
        return None


class DaphneSink(Sink):
    sync = True

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def buffered(self) -> int | None:
        transport = getattr(self.protocol, "transport", None)
        if transport is None:
            return 0
        data = getattr(transport, "dataBuffer", b"")
        offset = getattr(transport, "offset", 0)
        return len(data) - offset + int(getattr(transport, "_tempDataLen", 0))

    def write_now(self, frame: str | bytes) -> None:
        if isinstance(frame, str):
            self.protocol.sendMessage(frame.encode(), False)
        else:
            self.protocol.sendMessage(frame, True)

    def abort(self) -> None:
        transport = getattr(self.protocol, "transport", None)
        if transport is not None:
            transport.abortConnection()

    def wait_for_close_reply(self, seconds: float) -> None:
        # autobahn drops a connection whose client has not answered a close within 1 s; a
        # client catching up on its buffer needs as long as we give it before aborting
        self.protocol.closeHandshakeTimeout = seconds

    def close_frame(self, code: int) -> bool:
        # autobahn lets applications close only with 1000 or 3000-4999; 1001 and
        # 1011 go out through the lower-level call daphne itself uses for 1011.
        if code == 1000 or 3000 <= code <= 4999:
            return False
        self.protocol.sendCloseFrame(code=code, isReply=False)
        return True


class AsyncioSink(Sink):
    """Servers on asyncio transports (uvicorn): the buffer is readable, writes stay async."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def buffered(self) -> int | None:
        try:
            return int(self.transport.get_write_buffer_size())
        except Exception:
            return 0

    def abort(self) -> None:
        self.transport.abort()


class SansIOSink(AsyncioSink):
    """uvicorn's ``websockets-sansio`` protocol: its ``send`` waits only while the transport has
    paused writing (a client that stopped reading); until then a frame is written here the way
    that ``send`` writes it, without a coroutine."""

    def __init__(self, protocol: Any) -> None:
        super().__init__(protocol.transport)
        self.protocol = protocol

    def can_write_now(self) -> bool:
        p = self.protocol
        return bool(
            p.handshake_complete
            and p.writable.is_set()
            and not (p.disconnected or p.close_sent or p.initial_response is not None)
            and not self.transport.is_closing()
        )

    def write_now(self, frame: str | bytes) -> None:
        conn = self.protocol.conn
        if isinstance(frame, str):
            conn.send_text(frame.encode())
        else:
            conn.send_binary(frame)
        self.transport.write(b"".join(conn.data_to_send()))


def _sansio_protocol() -> type | None:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # uvicorn not installed, or a version without it
        return None
    needed = ("conn", "writable", "handshake_complete", "disconnected", "close_sent", "initial_response")
    probe = WebSocketsSansIOProtocol.__init__.__code__.co_names
    return WebSocketsSansIOProtocol if all(name in probe for name in needed) else None


_SANSIO = _sansio_protocol()


def sink_for(send: Send) -> Sink:
    send = server_send(send)
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]
        if hasattr(protocol, "sendMessage") and hasattr(protocol, "transport"):
            return DaphneSink(protocol)
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is not None and hasattr(transport, "get_write_buffer_size"):
        if _SANSIO is not None and isinstance(owner, _SANSIO):
            return SansIOSink(owner)
        return AsyncioSink(transport)
    return Sink()


def server_send(send: Send) -> Send:
    """The server's own ``send`` behind middleware that wraps it: Channels' session middleware
    (every handshake without a token or ticket) passes WebSocket messages through unchanged to
    the ``real_send`` it keeps. Without this, such a socket's buffer would go unseen (daphne:
    no backpressure at all)."""
    for _ in range(8):  # wrappers of wrappers; never a cycle
        inner = getattr(getattr(send, "__self__", None), "real_send", None)
        if inner is None:
            break
        send = inner
    return send
