"""Awareness to one connection: as it comes while the socket keeps up, the latest entry per
awareness client while it is behind (``collab.yjs.awareness.AwarenessFeed``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from collab.realtime.outbox import Outbox
from collab.yjs import codec
from collab.yjs.awareness import AwarenessFeed
from collab.yjs.codec import AwarenessEntry, Message, Reader
from tests.support.fakes import FakeSink, small_bounds

HIGH = 1000


@pytest.fixture(autouse=True)
def _small_bounds(settings: Any) -> None:
    small_bounds(settings, high=HIGH, timeout=5)


def update(*entries: tuple[int, int, Any]) -> tuple[bytes, list[AwarenessEntry]]:
    parsed = [AwarenessEntry(client, clock, state) for client, clock, state in entries]
    return codec.write_awareness(parsed), parsed


def entries_of(frame: bytes | str, name: str | None = None) -> list[AwarenessEntry]:
    assert isinstance(frame, bytes)
    reader = Reader(frame)
    if name is not None:
        assert reader.varstring() == name
    assert reader.varuint() == Message.AWARENESS
    return codec.read_awareness(reader.varbytes())


async def test_a_socket_that_keeps_up_gets_every_update_as_it_comes() -> None:
    sink = FakeSink()
    feed = AwarenessFeed(Outbox(_unused, sink), ("awareness", None))
    for clock in (1, 2, 3):
        feed.offer(*update((7, clock, {"cursor": clock})))
    assert [entries_of(f)[0].clock for f in sink.out] == [1, 2, 3]


async def test_a_socket_behind_gets_the_latest_entry_per_client_once_it_reads_again() -> None:
    sink = FakeSink()
    outbox = Outbox(_unused, sink)
    name = "doc\0s"
    feed = AwarenessFeed(outbox, ("awareness", name), codec.varstring(name))
    sink.buffer = HIGH + 1  # the client stopped reading
    for clock in range(1, 2001):  # a flood from three clients: 6000 updates
        for client in (1, 2, 3):
            feed.offer(*update((client, clock, {"note": "m" * 200, "clock": clock})))
    feed.offer(*update((3, 1999, {"stale": True})))  # an older clock does not replace a newer one
    feed.offer(*update((2, 2000, None)))  # a removal at the same clock wins
    assert outbox.open and outbox.queued_bytes == 0 and outbox.queue is not None and len(outbox.queue) == 1
    sink.buffer = 0
    await asyncio.sleep(0.1)
    assert len(sink.out) == 1
    latest = {e.client: e for e in entries_of(sink.out[0], name)}
    assert latest[1] == AwarenessEntry(1, 2000, {"note": "m" * 200, "clock": 2000})
    assert latest[2] == AwarenessEntry(2, 2000, None)
    assert latest[3].clock == 2000 and latest[3].state == {"note": "m" * 200, "clock": 2000}
    feed.offer(*update((1, 2001, {"back": True})))  # caught up: as it comes again
    assert entries_of(sink.out[-1], name) == [AwarenessEntry(1, 2001, {"back": True})]


async def test_two_documents_on_one_socket_keep_their_own_slots() -> None:
    sink = FakeSink()
    outbox = Outbox(_unused, sink)
    feeds = {n: AwarenessFeed(outbox, ("awareness", n), codec.varstring(n)) for n in ("a", "b")}
    sink.buffer = HIGH + 1
    for clock in (1, 2):
        for name, feed in feeds.items():
            feed.offer(*update((ord(name), clock, {"doc": name})))
    sink.buffer = 0
    await asyncio.sleep(0.1)
    assert [entries_of(f, n)[0] for f, n in zip(sink.out, "ab", strict=True)] == [
        AwarenessEntry(ord("a"), 2, {"doc": "a"}),
        AwarenessEntry(ord("b"), 2, {"doc": "b"}),
    ]


async def _unused(message: dict[str, Any]) -> None:
    raise AssertionError(f"a synchronous sink never awaits send: {message}")
