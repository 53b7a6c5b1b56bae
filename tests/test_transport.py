"""Finding the server's socket behind the ASGI ``send``, through the middleware every handshake
passes (``collab.realtime.transport.sink_for``)."""

from __future__ import annotations

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
