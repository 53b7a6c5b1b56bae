"""Finding the server's socket behind the ASGI ``send``, through the middleware every handshake
passes (``collab.realtime.transport.sink_for``)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from collab.middleware import websocket_stack
from collab.realtime.transport import AsyncioSink, DaphneSink, Sink, sink_for


class DaphneProtocol:
    """What daphne hands the application: ``partial(server.handle_reply, protocol)``."""

    def __init__(self) -> None:
        self.transport = type("Transport", (), {"dataBuffer": b"x" * 300, "offset": 100, "_tempDataLen": 5})()

    def sendMessage(self, payload: bytes, is_binary: bool) -> None:
        raise AssertionError("not sent in this test")


async def handle_reply(protocol: DaphneProtocol, message: dict[str, Any]) -> None:
    return None


class UvicornProtocol:
    def __init__(self) -> None:
        self.transport = type("Transport", (), {"get_write_buffer_size": lambda self: 42})()

    async def asgi_send(self, message: dict[str, Any]) -> None:
        return None


async def send_seen_by_the_consumer(send: Any, query: bytes) -> Any:
    """The ``send`` a consumer gets from the project's WebSocket middleware stack."""
    seen: list[Any] = []

    async def consumer(scope: dict[str, Any], receive: Any, inner_send: Any) -> None:
        seen.append(inner_send)

    scope = {"type": "websocket", "path": "/ws/hocuspocus", "query_string": query, "headers": []}
    await websocket_stack(consumer)(scope, None, send)
    return seen[0]


@pytest.mark.django_db
@pytest.mark.asyncio
@pytest.mark.parametrize("query", [b"", b"token=nobody"], ids=["session", "token"])
async def test_the_servers_socket_is_found_through_the_session_middleware(query: bytes) -> None:
    """Without a token the session middleware wraps ``send``: daphne's buffer must stay visible,
    or a stalled cookie-authenticated (or anonymous) socket grows the server without bound."""
    daphne = functools.partial(handle_reply, DaphneProtocol())
    sink = sink_for(await send_seen_by_the_consumer(daphne, query))
    assert isinstance(sink, DaphneSink) and sink.buffered() == 205
    uvicorn = UvicornProtocol().asgi_send
    sink = sink_for(await send_seen_by_the_consumer(uvicorn, query))
    assert isinstance(sink, AsyncioSink) and sink.buffered() == 42


def test_an_unknown_server_gets_a_sink_that_knows_nothing() -> None:
    async def send(message: dict[str, Any]) -> None:
        return None

    sink = sink_for(send)
    assert type(sink) is Sink and sink.buffered() is None


class FakeTransport:
    """An asyncio transport that keeps what is written; writing pauses when the test says."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += data

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None


def text_frames(data: bytes) -> list[str]:
    """The text frames a server wrote after its handshake response (unmasked, as servers send)."""
    data = data[data.index(b"\r\n\r\n") + 4 :]
    out = []
    while data:
        assert data[0] == 0x81  # FIN + text
        size, at = data[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(data[2:4], "big"), 4
        out.append(data[at : at + size].decode())
        data = data[at + size :]
    return out


@pytest.mark.asyncio
async def test_uvicorn_sansio_frames_are_written_at_once_and_in_order_across_a_pause() -> None:
    """Under uvicorn's websockets-sansio the outbox writes without a coroutine while the transport
    takes writes; while it has paused writing (a client that stopped reading) frames wait, and a
    frame sent as writing resumes never overtakes one already waiting."""
    from uvicorn.config import Config
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState

    from collab.realtime.outbox import Outbox
    from collab.realtime.transport import SansIOSink

    outboxes: list[Outbox] = []
    done = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        outboxes.append(Outbox(send, sink_for(send), name="test"))
        await done.wait()

    config = Config(app=app, ws="websockets-sansio", log_level="critical", lifespan="off")
    config.load()
    protocol = WebSocketsSansIOProtocol(config, ServerState(), app_state={}, _loop=asyncio.get_running_loop())
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(
        b"GET /ws/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    for _ in range(50):
        if outboxes:
            break
        await asyncio.sleep(0.01)
    outbox = outboxes[0]
    assert isinstance(outbox.sink, SansIOSink)

    outbox.send("one")
    assert text_frames(bytes(transport.written)) == ["one"]  # written at once, no task
    assert outbox.writer is None

    protocol.pause_writing()
    outbox.send("two")
    await asyncio.sleep(0.01)  # the writer took "two" and waits for the transport
    assert text_frames(bytes(transport.written)) == ["one"]
    assert outbox.writer is not None and not outbox.queue
    protocol.resume_writing()
    outbox.send("three")  # before the writer has run again: must not overtake "two"
    await asyncio.sleep(0.05)
    assert text_frames(bytes(transport.written)) == ["one", "two", "three"]
    assert outbox.writer is None
    outbox.send("four")
    assert text_frames(bytes(transport.written))[-1] == "four"

    done.set()
    protocol.connection_lost(None)
    await asyncio.sleep(0)
