"""Replay tests/fixtures/session_cases.json (shared with tests/js/session_fixture.test.mjs) on the Python Session.

The fixture says, step by step, what a client session sends and reports for
the frames it receives; the browser's session.js replays the same cases, so
the two state machines cannot drift apart unnoticed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collab.client import EditAcked, EditRejected, Ready, RemoteEdit, Session, close_action
from collab.client.events import Event

FIXTURE = json.loads((Path(__file__).resolve().parent / "fixtures" / "session_cases.json").read_text("utf-8"))
CASES: list[dict[str, Any]] = FIXTURE["cases"]
ACTIONS = {"connect", "receive", "edit", "ack_timeout", "close"}


def shared_event(event: Event) -> dict[str, Any] | None:
    """An event in the fixture's vocabulary, or None for the ones it does not compare."""
    match event:
        case Ready(text=text, resumed=False):
            return {"type": "ready", "text": text}
        case RemoteEdit(version=version, op=op, text=text):
            return {"type": "change", "version": version, "op": op, "text": text}
        case EditAcked(seq=seq, version=version):
            return {"type": "acked", "seq": seq, "version": version}
        case EditRejected(seq=seq, code=code, text=text):
            return {"type": "rejected", "seq": seq, "code": code, "text": text}
    return None


def state(s: Session) -> dict[str, Any]:
    return {
        "text": s.text,
        "version": s.version,
        "pending": s.pending,
        "reconnect": s.reconnect_reason is not None,
    }


def replay(case: dict[str, Any]) -> None:
    s, now = Session("me"), 0.0
    for number, step in enumerate(case["steps"], 1):
        (action,) = step.keys() - {"expect"}
        value, expect, where = step[action], step.get("expect", {}), f"step {number} ({action})"
        now += 1.0  # far apart: pacing never holds a frame back
        decision = None
        if action == "connect":
            s.connection_made(now)
        elif action == "receive":
            s.receive(value, now)
        elif action == "edit":
            s.edit(value, now)
        elif action == "ack_timeout":
            now += s.ack_timeout
            s.tick(now)
        elif action == "close":
            s.connection_lost(now)
            decision = close_action(value)
        sent = [json.loads(frame) for frame in s.data_to_send()]
        events = [e for e in map(shared_event, s.events_received()) if e is not None]
        assert sent == expect.get("send", []), where
        expected_events = expect.get("events", [])
        assert [
            {k: e.get(k) for k in x} for e, x in zip(events, expected_events, strict=False)
        ] == expected_events, where
        assert len(events) == len(expected_events), f"{where}: {events}"
        assert {k: state(s)[k] for k in expect.get("state", {})} == expect.get("state", {}), where
        assert decision == expect.get("decision"), where


def test_fixture_shape() -> None:
    assert len(CASES) >= 12
    for case in CASES:
        for step in case["steps"]:
            assert len(step.keys() - {"expect"}) == 1 and step.keys() - {"expect"} <= ACTIONS, step
            assert step.get("expect", {}).keys() <= {"send", "events", "state", "decision"}, step
            assert ("decision" in step.get("expect", {})) == ("close" in step), step


@pytest.mark.parametrize("case", CASES, ids=[c["name"][:60] for c in CASES])
def test_session_case(case: dict[str, Any]) -> None:
    replay(case)


def test_a_wrong_expectation_fails() -> None:
    case = json.loads(json.dumps(CASES[0]))
    case["steps"][2]["expect"]["send"][0]["payload"]["seq"] = 2
    with pytest.raises(AssertionError, match="step 3"):
        replay(case)
