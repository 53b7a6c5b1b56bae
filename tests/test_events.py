"""Room events: registered frozen dataclasses that survive the trip between processes."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass

import msgpack
import pytest

from collab.realtime.events import (
    PROCESS_ID,
    AccessChanged,
    Event,
    PresenceChanged,
    SessionClosed,
    event_type,
    from_message,
    to_message,
)
from collab.text.events import CursorMoved, OpItem, OpsCommitted


def through_the_layer(event: Event) -> Event:
    """What another process rebuilds: msgpack, as channels_redis sends it."""
    wire = msgpack.packb(to_message(event), use_bin_type=True)
    return from_message(msgpack.unpackb(wire, raw=False))


@pytest.mark.parametrize(
    "event",
    [
        AccessChanged("d1"),
        SessionClosed("d1", "s1", "bye"),
        PresenceChanged("d1", joined=[{"session": "s", "meta": {"k": [1, 2]}}], left=["x"], exclude="s"),
        OpsCommitted("d1", (OpItem(1, "s", "c", 1, '{"v":1}'), OpItem(2, "t", "c", None, "{}"))),
        CursorMoved("d1", "s", {"id": None, "name": "n", "color": "#000"}, 3, None, None),
    ],
)
def test_every_event_survives_the_trip_between_processes(event: Event) -> None:
    back = through_the_layer(event)
    assert back == event and type(back) is type(event)
    assert back.origin == PROCESS_ID


def test_tuples_come_back_as_tuples_and_caches_stay_home() -> None:
    event = OpsCommitted("d1", (OpItem(1, "s", "c", 1, "{}"),))
    event.memo[(0, None)] = ["built here"]
    message = to_message(event)
    assert "memo" not in message
    back = through_the_layer(event)
    assert isinstance(back, OpsCommitted) and isinstance(back.items, tuple) and back.memo == {}
    assert back.first == back.last == 1


def test_origin_is_this_process_unless_given() -> None:
    assert AccessChanged("d").origin == PROCESS_ID
    assert through_the_layer(AccessChanged("d", origin="elsewhere")).origin == "elsewhere"


def test_events_are_frozen_and_matched_by_class() -> None:
    event: Event = SessionClosed("d", "s1")
    with pytest.raises(FrozenInstanceError):
        event.session = "s2"  # type: ignore[misc]
    match event:
        case SessionClosed(session=session, reason=reason):
            assert (session, reason) == ("s1", "An administrator closed this session.")
        case _:
            pytest.fail("not matched")


def test_unregistered_types_are_refused_both_ways() -> None:
    @dataclass(frozen=True, slots=True)
    class Stray(Event):
        document_id: str

    with pytest.raises(TypeError, match="not registered"):
        to_message(Stray("d"))
    with pytest.raises(ValueError, match="unknown event type"):
        from_message({"@event": "nowhere.Stray", "document_id": "d"})
    with pytest.raises(TypeError, match="dataclass"):
        event_type(int)
