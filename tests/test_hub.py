"""The hub: membership per room, local delivery, one layer message per process, exactly-once delivery."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Any

import pytest

from collab.realtime import hub as hub_module
from collab.realtime.events import AccessChanged, Event, SessionClosed, to_message
from collab.realtime.hub import MESSAGE_TYPE, Hub, group_name


class Member:
    def __init__(self, session: str, *, broken: bool = False) -> None:
        self.session = session
        self.broken = broken
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        if self.broken:
            raise RuntimeError("a broken connection")
        self.events.append(event)


class SharedLayer:
    """A channel layer shared by several hubs, as Redis is by several processes."""

    def __init__(self) -> None:
        self.groups: dict[str, set[str]] = defaultdict(set)
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.sent: list[dict[str, Any]] = []

    async def new_channel(self, prefix: str = "c") -> str:
        name = f"{prefix}!{len(self.queues)}"
        self.queues[name] = asyncio.Queue()
        return name

    async def receive(self, channel: str) -> dict[str, Any]:
        return await self.queues[channel].get()

    async def group_add(self, group: str, channel: str) -> None:
        self.groups[group].add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.groups[group].discard(channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.sent.append(message)
        for channel in self.groups[group]:
            self.queues[channel].put_nowait(message)


def hub_on(layer: Any, monkeypatch: pytest.MonkeyPatch, process: str = "here") -> Hub:
    monkeypatch.setattr(hub_module, "get_channel_layer", lambda: layer)
    return Hub(process_id=process)


async def test_members_get_their_rooms_events_and_one_broken_member_stops_nobody(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = hub_on(None, monkeypatch)
    a, b, broken, other = Member("a"), Member("b"), Member("x", broken=True), Member("o")
    for member in (a, broken, b):
        await h.join("d1", member)
    await h.join("d2", other)
    assert {m.session for m in h.members("d1")} == {"a", "b", "x"}
    event = AccessChanged("d1")
    await h.publish("d1", event)
    assert a.events == [event] and b.events == [event] and other.events == []
    await h.leave("d1", a)
    await h.leave("d1", a)  # twice is harmless
    await h.publish("d1", event)
    assert a.events == [event] and b.events == [event, event]
    assert sorted(h.rooms()) == ["d1", "d2"]


async def test_one_message_per_process_and_exactly_once_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = SharedLayer()
    here, there = hub_on(layer, monkeypatch, "here"), hub_on(layer, monkeypatch, "there")
    locals_ = [Member(f"l{i}") for i in range(3)]
    remote = Member("r")
    for m in locals_:
        await here.join("d", m)
    await there.join("d", remote)
    assert len(layer.groups[group_name("d")]) == 2  # one channel per process, not per member
    event = SessionClosed("d", "l1")
    await here.publish("d", event)
    assert len(layer.sent) == 1
    for _ in range(20):
        if remote.events:
            break
        await asyncio.sleep(0.01)
    assert remote.events == [event]
    # the layer echoes the message to "here" too: skipped, it was delivered when published
    await asyncio.sleep(0.05)
    assert layer.queues[here.channel].empty()
    assert all(m.events == [event] for m in locals_)


async def test_the_last_member_leaving_leaves_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = SharedLayer()
    h = hub_on(layer, monkeypatch)
    a, b = Member("a"), Member("b")
    await h.join("d", a)
    await h.join("d", b)
    await h.leave("d", a)
    assert layer.groups[group_name("d")] == {h.channel}
    await h.leave("d", b)
    assert layer.groups[group_name("d")] == set() and h.rooms() == []
    await h.join("d", a)
    layer.groups.clear()  # the layer lost its state (a Redis restart)
    await h.rejoin()
    assert layer.groups[group_name("d")] == {h.channel}


async def test_a_failing_layer_never_reaches_the_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = SharedLayer()

    async def down(group: str, message: dict[str, Any]) -> None:
        raise ConnectionError("redis is down")

    h = hub_on(layer, monkeypatch)
    a = Member("a")
    await h.join("d", a)
    monkeypatch.setattr(layer, "group_send", down)
    await h.publish("d", AccessChanged("d"))  # logged, not raised
    assert len(a.events) == 1  # local members still get it


async def test_publish_from_a_thread_reaches_members_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    h = hub_on(None, monkeypatch)
    a = Member("a")
    await h.join("d", a)
    seen: list[str] = []
    original = a.on_event

    def on_event(event: Event) -> None:
        seen.append(threading.current_thread().name)
        original(event)

    a.on_event = on_event  # type: ignore[method-assign]
    thread = threading.Thread(target=h.publish_from_sync, args=("d", AccessChanged("d")), name="view")
    thread.start()
    thread.join()
    for _ in range(20):
        if a.events:
            break
        await asyncio.sleep(0.01)
    assert len(a.events) == 1 and seen == [threading.main_thread().name]


async def test_messages_carry_the_room_and_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = SharedLayer()
    h = hub_on(layer, monkeypatch)
    await h.join("d", Member("a"))
    event = AccessChanged("d")
    await h.publish("d", event)
    (message,) = layer.sent
    assert message["type"] == MESSAGE_TYPE and message["room"] == "d"
    assert message["event"] == to_message(event)


async def test_an_outage_is_logged_with_a_traceback_once_not_per_publish(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    layer = SharedLayer()
    working = layer.group_send

    async def down(group: str, message: dict[str, Any]) -> None:
        raise ConnectionError("redis is down")

    h = hub_on(layer, monkeypatch)
    await h.join("d", Member("a"))
    monkeypatch.setattr(layer, "group_send", down)
    with caplog.at_level("DEBUG", logger="collab.realtime.hub"):
        for _ in range(5):
            await h.publish("d", AccessChanged("d"))
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and errors[0].exc_info is not None
        monkeypatch.setattr(layer, "group_send", working)
        await h.publish("d", AccessChanged("d"))
        assert any("works again" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
        monkeypatch.setattr(layer, "group_send", down)
        await h.publish("d", AccessChanged("d"))  # a new outage is logged again
        assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 2


class SlowLayer(SharedLayer):
    """A layer whose calls take a while, counting how many are under way at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now = self.most = 0

    async def _slowly(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.01)
        self.now -= 1

    async def group_add(self, group: str, channel: str) -> None:
        await self._slowly()
        await super().group_add(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._slowly()
        await super().group_send(group, message)


async def test_a_storm_of_joins_and_publishes_keeps_the_layer_calls_under_way_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reconnect storm must not exhaust the layer's connection pool (channels_redis: 100)."""
    layer = SlowLayer()
    h = hub_on(layer, monkeypatch)
    members = [Member(f"s{i}") for i in range(300)]
    await asyncio.gather(*(h.join(f"d{i}", m) for i, m in enumerate(members)))
    await asyncio.gather(*(h.publish(f"d{i}", AccessChanged(f"d{i}")) for i in range(300)))
    assert 1 < layer.most <= hub_module.LAYER_CALLS
    assert len(layer.sent) == 300 and all(m.events for m in members)
    assert len([g for g, channels in layer.groups.items() if channels]) == 300
