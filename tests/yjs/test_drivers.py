"""The Node drivers of the real Yjs providers work on their own (no server needed): commands,
code-point positions, state exchange, errors. The live tests in this folder build on them."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

from tests.support.live import free_port
from tests.yjs.drivers import DriverError, hocuspocus, ywebsocket

# Nothing listens on this port: the providers keep trying to connect while the Y.Doc works offline.
NOWHERE = SimpleNamespace(port=free_port())


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_offline_edits_by_code_point_and_state_exchange(version: str) -> None:
    with ywebsocket(NOWHERE, "doc-a") as a, hocuspocus(NOWHERE, ["doc-b"], version=version) as b:
        assert a.call("insert", index=0, text="a😀c")["text"] == "a😀c"
        assert a.call("insert", index=2, text="b")["text"] == "a😀bc"  # after the emoji: 1 code point
        assert a.call("delete", index=1, length=1)["text"] == "abc"
        state = a.call("state")["state"]
        assert base64.b64decode(state)  # a non-empty Yjs update
        assert b.call("apply", update=state)["text"] == "abc"
        b.call("insert", index=3, text="🎉")
        a.call("apply", update=b.call("state")["state"])
        assert a.text() == b.text() == "abc🎉"
        info = b.call("info")
        assert info["synced"] is False and info["unsynced"] >= 1  # edits that no server acknowledged
        assert b.call("awareness_set", field="user", value={"name": "bob"})["client_id"] > 0
        states = b.call("awareness_get")["states"]
        assert {"user": {"name": "bob"}} in states.values()


def test_errors_are_answered_and_the_driver_goes_on() -> None:
    with ywebsocket(NOWHERE, "doc") as a:
        a.call("insert", index=0, text="hi")
        with pytest.raises(DriverError, match="past the end"):
            a.call("insert", index=3, text="x")
        with pytest.raises(DriverError, match="unknown command"):
            a.call("no-such-command")
        with pytest.raises(DriverError, match="timed out"):
            a.call("wait_synced", timeout=0.2)
        assert a.text() == "hi"
        assert a.find_events("status", status="connecting")
    assert a.proc.returncode == 0
