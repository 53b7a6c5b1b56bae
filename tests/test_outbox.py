"""The outbox: one ordered, bounded write path per socket, and the slow-client policy (4408)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from collab.realtime.outbox import Outbox
from tests.support.fakes import AsyncSink, FakeSink, StallingSend, settle, small_bounds

HIGH = 1000


@pytest.fixture(autouse=True)
def _small_bounds(settings: Any) -> None:
    small_bounds(settings, high=HIGH, timeout=0.2)


@pytest.fixture
async def unretrieved() -> AsyncIterator[list[dict[str, Any]]]:
    """Whatever the loop reports as unhandled (a task exception never retrieved); read after gc."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(previous)


def nothing_unretrieved(seen: list[dict[str, Any]]) -> bool:
    gc.collect()
    return seen == []


async def test_a_synchronous_socket_gets_frames_at_once_in_order_text_and_bytes() -> None:
    sink = FakeSink()
    outbox = Outbox(_unused, sink)
    assert outbox.send("a") and outbox.send(b"\x00b") and outbox.send("c")
    assert sink.out == ["a", b"\x00b", "c"]  # written without a task
    assert outbox.writer is None and outbox.backlog() == 0


async def test_an_async_socket_has_one_writer_and_keeps_the_order() -> None:
    send = StallingSend()
    outbox = Outbox(send, AsyncSink())
    for i in range(50):
        outbox.send(f"f{i}")
    outbox.send(b"raw")
    await settle(60)
    assert send.texts == [f"f{i}" for i in range(50)]
    assert send.messages[-1] == {"type": "websocket.send", "bytes": b"raw"}
    assert send.most_waiting == 1  # never two sends waiting on one socket


async def test_a_drained_outbox_keeps_no_queue_and_no_watchdog_then_writes_again() -> None:
    send = StallingSend()
    outbox = Outbox(send, AsyncSink())
    outbox.send("a")
    outbox.send("b")
    assert outbox.queue and outbox.watchdog is not None and outbox.writer is not None
    await settle(10)
    assert send.texts == ["a", "b"]
    assert outbox.queue is None and outbox.watchdog is None and outbox.writer is None  # idle: 0.7 KiB less
    outbox.send("c")
    await settle(10)
    assert send.texts == ["a", "b", "c"] and outbox.queue is None and outbox.open


async def test_behind_counts_the_queue_and_the_servers_buffer_then_catches_up_in_order() -> None:
    sink = FakeSink()
    outbox = Outbox(_unused, sink)
    sink.buffer = HIGH + 1  # the client stopped reading
    outbox.send("x" * 300)
    outbox.send("y" * 300)
    assert sink.out == [] and outbox.backlog() == HIGH + 1 + 600 and outbox.congested()
    sink.buffer = 0  # it reads again
    await asyncio.sleep(0.1)
    assert sink.out == ["x" * 300, "y" * 300] and outbox.backlog() == 0
    assert outbox.open


async def test_latest_frames_replace_the_waiting_one_and_are_built_when_sent() -> None:
    sink = FakeSink()
    outbox = Outbox(_unused, sink)
    sink.buffer = HIGH + 1
    built: list[int] = []
    state = {"n": 0}

    def build() -> str:
        built.append(state["n"])
        return f"presence {state['n']}"

    outbox.send("first")
    outbox.send_latest("cursor", "cursor 1")
    outbox.send_latest("presence", build)
    outbox.send_latest("cursor", "cursor 2")  # keeps its place, latest content
    state["n"] = 7
    outbox.send_latest("presence", build)
    outbox.send_latest("nothing", lambda: None)
    outbox.send("last")
    sink.buffer = 0
    await asyncio.sleep(0.1)
    assert sink.out == ["first", "cursor 2", "presence 7", "last"]
    assert built == [7]


async def test_a_stalled_async_client_is_closed_4408_and_aborted(unretrieved: list[Any]) -> None:
    send = StallingSend()
    sink = AsyncSink()
    outbox = Outbox(send, sink, name="stalled")
    outbox.send("hello")
    await settle()
    send.open.clear()  # stops reading: the next send blocks like uvicorn's at its buffer
    outbox.send("stuck")
    await settle()
    outbox.send("queued")
    assert outbox.open
    await asyncio.sleep(0.25)  # a frame has waited longer than SLOW_CLIENT_TIMEOUT
    assert not outbox.open and outbox.queue is not None and not outbox.queue  # dropped
    send.open.set()  # whatever it does now, the close went out and the socket is aborted
    await asyncio.sleep(0.3)
    closes = [m for m in send.messages if m["type"] == "websocket.close"]
    assert closes == [{"type": "websocket.close", "code": 4408}]
    assert "queued" not in send.texts
    assert sink.aborted
    assert nothing_unretrieved(unretrieved)


async def test_the_4408_error_frame_goes_first_where_the_buffer_has_room() -> None:
    send = StallingSend()
    outbox = Outbox(send, AsyncSink())
    outbox.too_slow()
    await asyncio.sleep(0.05)
    assert [m["type"] for m in send.messages] == ["websocket.send", "websocket.close"]
    assert json.loads(send.texts[0])["payload"]["code"] == "too_slow"


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_a_binary_protocol_gets_the_4408_close_without_a_json_frame(server: str) -> None:
    """The yjs endpoints' clients read binary frames only: nothing but the close goes out."""
    send = StallingSend()
    sink = FakeSink() if server == "daphne" else AsyncSink()
    outbox = Outbox(send, sink, too_slow_frame=None)
    outbox.too_slow()
    await asyncio.sleep(0.05)
    assert send.messages == [{"type": "websocket.close", "code": 4408}]
    assert getattr(sink, "out", []) == []


async def test_a_queue_beyond_twice_the_bound_is_too_slow_at_once() -> None:
    sink = FakeSink()
    outbox = Outbox(_close_only, sink)
    sink.buffer = HIGH + 1
    outbox.send("x" * HIGH)
    assert outbox.open
    outbox.send("x" * (HIGH + 1))
    assert not outbox.open
    await asyncio.sleep(0.05)
    assert any('"too_slow"' in f for f in sink.out if isinstance(f, str))


async def test_a_socket_that_is_gone_is_normal(unretrieved: list[Any]) -> None:
    class ClientDisconnected(OSError):
        pass

    send = StallingSend()
    send.fail = ClientDisconnected()
    outbox = Outbox(send, AsyncSink())
    outbox.send("hello")
    await settle()
    assert not outbox.open and outbox.writer is None
    assert outbox.send("more") is False
    await outbox.close(1000)  # nothing to do, nothing raised
    assert nothing_unretrieved(unretrieved)


async def test_close_sends_the_reason_after_what_is_queued() -> None:
    send = StallingSend()
    outbox = Outbox(send, AsyncSink())
    outbox.send("a")
    await outbox.close(4403, '{"type":"error"}')
    assert send.messages == [
        {"type": "websocket.send", "text": "a"},
        {"type": "websocket.send", "text": '{"type":"error"}'},
        {"type": "websocket.close", "code": 4403},
    ]
    assert outbox.send("late") is False


async def test_a_close_that_cannot_go_out_aborts_the_socket() -> None:
    send = StallingSend()
    sink = AsyncSink()
    outbox = Outbox(send, sink)
    send.open.clear()
    outbox.send("a")
    await outbox.close(4403)
    assert sink.aborted


async def test_waiting_for_a_drain_gives_up_after_the_timeout() -> None:
    sink = FakeSink()
    outbox = Outbox(_unused, sink)
    assert await outbox.wait_drained()
    sink.buffer = HIGH + 1
    assert await outbox.wait_drained() is False
    sink.buffer = 0
    assert await outbox.wait_drained()


async def _unused(message: dict[str, Any]) -> None:
    raise AssertionError(f"a synchronous sink sends only closes: {message}")


async def _close_only(message: dict[str, Any]) -> None:
    assert message["type"] == "websocket.close"
