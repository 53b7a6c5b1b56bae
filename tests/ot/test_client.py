"""OTClient state transitions, errors and resync."""

from __future__ import annotations

import pytest

from collab.ot import ClientStateError, OperationOutOfRange, OTClient


def state(c: OTClient) -> str:
    return c.state  # a plain str, so mypy does not narrow across calls


def test_states_and_messages() -> None:
    c = OTClient("abc", 3)
    assert state(c) == "synchronized" and c.take_outgoing() is None
    c.local([3, "d"])
    assert state(c) == "buffered" and c.text == "abcd"
    assert c.take_outgoing() == (3, [3, "d"])
    assert state(c) == "awaiting_ack" and c.take_outgoing() is None
    c.local([4, "e"])
    c.local([5, "f"])
    assert state(c) == "awaiting_ack_with_buffer" and c.buffer == [4, "ef"]
    assert c.remote(4, ["X"]) == ["X"]
    assert (c.text, c.inflight, c.buffer, c.version) == (
        "Xabcdef",
        [4, "d"],
        [5, "ef"],
        4,
    )
    c.ack(5)
    assert state(c) == "buffered" and c.take_outgoing() == (5, [5, "ef"])
    c.ack(6)
    assert state(c) == "synchronized" and c.version == 6


def test_remote_wins_insert_ties_and_is_returned_as_applied() -> None:
    c = OTClient("ab", 0)
    c.local([1, "mine"])
    c.take_outgoing()
    c.local([5, "!"])
    assert c.remote(1, [1, "theirs"]) == [1, "theirs"]
    assert c.text == "atheirsmine!b"
    assert (c.inflight, c.buffer) == ([7, "mine"], [11, "!"])


def test_local_edits_that_cancel_leave_nothing_to_send() -> None:
    c = OTClient("ab", 0)
    c.local([1, "x"])
    c.local([1, -1])
    assert state(c) == "synchronized" and c.take_outgoing() is None
    c.local([2])
    assert state(c) == "synchronized"


def test_inflight_emptied_by_remote_still_awaits_ack() -> None:
    c = OTClient("abc", 0)
    c.local([1, -1])
    c.take_outgoing()
    c.remote(1, [-3])
    assert (c.text, c.inflight, state(c)) == ("", [], "awaiting_ack")
    c.ack(2)
    assert state(c) == "synchronized"


def test_version_and_ack_errors() -> None:
    c = OTClient("abc", 5)
    with pytest.raises(ClientStateError, match="no operation is in flight"):
        c.ack(6)
    with pytest.raises(ClientStateError, match="expected version 6, got 7"):
        c.remote(7, ["x"])
    c.local(["x"])
    c.take_outgoing()
    with pytest.raises(ClientStateError, match="expected version 6, got 8"):
        c.ack(8)


def test_invalid_ops_leave_state_untouched() -> None:
    c = OTClient("abc", 0)
    with pytest.raises(OperationOutOfRange):
        c.local([4, "x"])
    with pytest.raises(OperationOutOfRange):
        c.remote(1, [-4])
    assert (c.text, c.version, state(c)) == ("abc", 0, "synchronized")


def test_resync_inflight_resends_the_op_as_first_sent() -> None:
    c = OTClient("abc", 2)
    assert c.resync_inflight() is None
    c.local(["x"])
    sent = c.take_outgoing()
    c.remote(3, ["y"])
    assert c.inflight == [1, "x"]
    assert c.resync_inflight() == sent == (2, ["x"])
    c.ack(4)
    assert c.resync_inflight() is None


def test_returned_ops_are_copies() -> None:
    c = OTClient("", 0)
    c.local(["x"])
    sent = c.take_outgoing()
    assert sent is not None
    sent[1].append(-1)
    assert c.inflight == ["x"] and c.resync_inflight() == (0, ["x"])
