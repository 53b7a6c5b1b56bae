"""The client's pure parts: backoff curve, close-code policy, the sans-I/O session, purity.

The session is driven by hand-written server transcripts, and by a small
in-memory server (``FakeServer``, same rules as PROTOCOL.md: transform from the
base version, dedupe on client_id+seq, ack the sender, ``op`` to the others,
``sync`` answers with ``ops``) under random interleavings, message loss and
disconnects.
"""

from __future__ import annotations

import json
import random
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collab.client import (
    Backoff,
    CursorMoved,
    DocumentNotFound,
    EditAcked,
    EditRejected,
    GaveUp,
    PresenceChanged,
    ReadOnly,
    Ready,
    RemoteEdit,
    ResumeFailed,
    Session,
    Unauthorized,
    close_action,
)
from collab.client.errors import gave_up
from collab.client.ops import fine_diff, split_op
from collab.ot import Op, apply, normalize, transform
from tests.ot.strategies import text_and_op, texts
from tests.ot.test_purity import IMPURE_MODULES, find_impurities

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "collab" / "client"
PURE = ("backoff", "errors", "events", "ops", "presence", "session")


# -- purity ---------------------------------------------------------------------------
def test_client_package_imports_no_django() -> None:
    assert len(list(CLIENT.glob("*.py"))) >= 8
    problems = find_impurities(
        CLIENT,
        {"django", "channels", "daphne", "rest_framework", "pydantic", "redis"},
        allowed=("collab.ot", "collab.codes", "collab.client", "websockets"),
    )
    assert [p for p in problems if " calls " not in p] == []  # the CLI may print


@pytest.mark.parametrize("module", PURE)
def test_sans_io_modules_are_pure(module: str) -> None:
    allowed = ("collab.ot", "collab.codes", *(f"collab.client.{m}" for m in PURE))
    assert find_impurities(CLIENT / f"{module}.py", IMPURE_MODULES, allowed=allowed) == []


def test_purity_scan_would_catch_asyncio_in_the_session(tmp_path: Path) -> None:
    package = tmp_path / "collab" / "client"
    package.mkdir(parents=True)
    (package / "session.py").write_text("import asyncio\nfrom websockets import connect\n")
    assert len(find_impurities(package / "session.py", IMPURE_MODULES, root=tmp_path)) == 2


def test_public_surface_is_explicit() -> None:
    import importlib

    import collab.client as package

    assert package.__all__ == sorted(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
    for path in CLIENT.glob("*.py"):
        if path.stem not in ("__init__", "__main__"):
            module = importlib.import_module(f"collab.client.{path.stem}")
            assert all(hasattr(module, name) for name in module.__all__), path.stem


# -- backoff and close codes -------------------------------------------------------------
def test_backoff_follows_the_configured_curve() -> None:
    b = Backoff(initial=0.1, factor=3.0, maximum=5.0, jitter=0.25)
    assert [b.base(n) for n in range(6)] == pytest.approx([0.1, 0.3, 0.9, 2.7, 5.0, 5.0])
    assert [b.delay(n, rand=0.0) for n in range(6)] == pytest.approx([0.1, 0.3, 0.9, 2.7, 5.0, 5.0])
    # rand close to 1 takes off the whole jitter share, never more
    assert b.delay(2, rand=0.999999) == pytest.approx(0.9 * 0.75, rel=1e-5)
    rng = random.Random(7)
    for n in range(40):
        d = b.delay(n, rng.random())
        assert b.base(n) * 0.75 <= d <= b.base(n) <= 5.0
    assert b.base(10**6) == 5.0  # no overflow
    full = Backoff(initial=1, factor=2, maximum=8, jitter=1.0)
    assert full.delay(3, rand=0.5) == 4.0


def test_backoff_resets_after_a_healthy_connection() -> None:
    b = Backoff(reset_after=5.0)
    assert b.next_attempt(4, healthy_for=None) == 4  # never became healthy
    assert b.next_attempt(4, healthy_for=4.9) == 4
    assert b.next_attempt(4, healthy_for=5.0) == 0


@pytest.mark.parametrize(
    "bad", [{"initial": 0}, {"initial": 2, "maximum": 1}, {"factor": 0.5}, {"jitter": 2}]
)
def test_backoff_rejects_bad_settings(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**bad)


@pytest.mark.parametrize("code", [1001, 1005, 1006, 1011, 1012, 1013, 4408])
def test_close_codes_that_reconnect(code: int) -> None:
    assert close_action(code) == "reconnect"


@pytest.mark.parametrize("code", [1000, 1008, 4001, 4400, 4401, 4403, 4404, 4410, 4429, 4999])
def test_close_codes_that_give_up(code: int) -> None:
    assert close_action(code) == "give_up"


def test_give_up_errors_say_why() -> None:
    err = gave_up(4404, "", "not_found", "No such document.")
    assert isinstance(err, DocumentNotFound) and err.code == 4404
    assert str(err) == "the server closed the connection with 4404 (not_found): No such document."
    assert isinstance(gave_up(4401), Unauthorized) and "unauthorized" in str(gave_up(4401))
    assert type(gave_up(4429)) is GaveUp and "4429" in str(gave_up(4429))


# -- session by transcript --------------------------------------------------------------
def hello(
    version: int, content: str, session: str = "s1", presence: list[Any] | None = None
) -> dict[str, Any]:
    doc = {"id": "d", "title": "T", "version": version, "content": content}
    entries = presence if presence is not None else [entry(session, "me")]
    return {
        "type": "hello",
        "payload": {"session": session, "role": "editor", "document": doc, "presence": entries},
    }


def entry(session: str, name: str, cursor: Any = None) -> dict[str, Any]:
    return {"session": session, "user": {"id": 1, "name": name, "color": "#000"}, "role": "editor",
            "status": "active", "meta": {}, "cursor": cursor}  # fmt: skip


def op_msg(version: int, op: Op, client_id: str = "other", seq: int = 1) -> dict[str, Any]:
    return {"type": "op", "payload": {"version": version, "op": op, "client_id": client_id, "seq": seq,
                                      "session": "s9", "user": {"id": 2, "name": "bob"}}}  # fmt: skip


def ops_msg(*items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ops", "payload": {"ops": [i["payload"] for i in items]}}


def ack(seq: int, version: int, client_id: str = "me") -> dict[str, Any]:
    return {"type": "ack", "payload": {"client_id": client_id, "seq": seq, "version": version}}


def sent(s: Session) -> list[dict[str, Any]]:
    return [json.loads(f) for f in s.data_to_send()]


def live_session(content: str = "abc", version: int = 3, **kw: Any) -> Session:
    s = Session("me", **kw)
    s.connection_made(0.0)
    s.receive(hello(version, content), 0.0)
    assert isinstance(s.events_received()[0], Ready)
    return s


def test_edits_wait_for_the_ack_and_compose_meanwhile() -> None:
    s = live_session()
    s.insert(3, "d", 1.0)
    assert sent(s) == [
        {"type": "edit", "payload": {"version": 3, "op": [3, "d"], "client_id": "me", "seq": 1}}
    ]
    s.insert(4, "e", 1.0)
    s.delete(0, 1, 1.0)
    assert sent(s) == [] and s.text == "bcde" and s.pending
    s.receive(ack(1, 4), 1.1)
    assert sent(s) == [
        {"type": "edit", "payload": {"version": 4, "op": [-1, 3, "e"], "client_id": "me", "seq": 2}}
    ]
    s.receive(ack(2, 5), 1.2)
    assert s.synced and s.version == 5 and s.server_text == "bcde"
    assert [e for e in s.events_received() if isinstance(e, EditAcked)] == [EditAcked(1, 4), EditAcked(2, 5)]


def test_remote_ops_are_transformed_past_pending_edits() -> None:
    s = live_session("hello", 0)
    s.insert(5, "!", 0.1)
    s.receive(op_msg(1, ["Oh, "]), 0.2)
    assert s.text == "Oh, hello!"
    (edit,) = [e for e in s.events_received() if isinstance(e, RemoteEdit)]
    assert edit.op == ["Oh, "] and edit.user["name"] == "bob" and edit.text == "Oh, hello!"
    s.receive(ack(1, 2), 0.3)
    assert s.server_text == "Oh, hello!" and s.synced


def test_replace_sends_a_minimal_diff() -> None:
    s = live_session("the cat sat", 0)
    s.replace("the hat sat", 0.0)
    assert sent(s)[0]["payload"]["op"] == [4, "h", -1]


def test_a_gap_sends_sync_and_the_answer_fills_it() -> None:
    s = live_session("", 0)
    s.receive(op_msg(2, [1, "b"]), 0.0)  # version 1 is missing
    assert sent(s) == [{"type": "sync", "payload": {"version": 0}}]
    s.receive(ops_msg(op_msg(1, ["a"]), op_msg(2, [1, "b"])), 0.1)
    assert s.text == "ab" and s.version == 2 and sent(s) == []


def test_unsolicited_ops_batches_are_applied_like_op_messages() -> None:
    s = live_session("", 0)
    s.receive(ops_msg(op_msg(1, ["a"]), op_msg(2, [1, "b"]), op_msg(3, [2, "c"])), 0.0)
    assert s.text == "abc" and s.version == 3 and sent(s) == []


def test_reconnect_syncs_treats_own_ops_as_acks_and_sends_the_rest() -> None:
    s = live_session("abc", 3)
    s.insert(3, "1", 0.0)
    assert sent(s)[0]["payload"]["seq"] == 1
    s.connection_lost(0.5)
    s.insert(4, "2", 0.6)  # typed while offline: buffered
    s.connection_made(1.0)
    s.receive(hello(5, "Xabc1", session="s2"), 1.0)
    assert sent(s) == [{"type": "sync", "payload": {"version": 3}}]
    # our edit seq 1 was committed (as v5) before the drop; the ack was lost
    s.receive(ops_msg(op_msg(4, ["X"]), op_msg(5, [4, "1"], client_id="me", seq=1)), 1.1)
    assert s.text == "Xabc12" and s.version == 5
    out = sent(s)
    assert out == [{"type": "edit", "payload": {"version": 5, "op": [5, "2"], "client_id": "me", "seq": 2}}]
    events = s.events_received()
    assert EditAcked(1, 5) in events and Ready(5, "Xabc12", True) in events


def test_reconnect_resends_an_unacked_edit_with_the_same_seq() -> None:
    s = live_session("abc", 3)
    s.insert(0, "1", 0.0)
    sent(s)
    s.connection_lost(0.1)
    s.connection_made(0.2)
    s.receive(hello(4, "abcX", session="s2"), 0.2)
    assert sent(s) == [{"type": "sync", "payload": {"version": 3}}]
    s.receive(ops_msg(op_msg(4, [3, "X"])), 0.3)
    # exactly as first sent, same seq: the server dedupes if it had committed it after all
    assert sent(s) == [{"type": "edit", "payload": {"version": 3, "op": ["1"], "client_id": "me", "seq": 1}}]
    s.receive(ack(1, 5), 0.4)
    assert s.synced and s.text == "1abcX"
    s.receive(ack(1, 5), 0.5)  # a second (re-)ack is ignored
    assert s.synced and s.version == 5


def test_live_ops_before_the_sync_answer_are_not_applied_twice() -> None:
    s = live_session("", 0)
    s.connection_lost(0.0)
    s.connection_made(0.1)
    s.receive(hello(1, "a", session="s2"), 0.1)
    s.receive(op_msg(2, [1, "b"]), 0.1)  # live stream after hello: a gap for us, dropped
    s.receive(ops_msg(op_msg(1, ["a"]), op_msg(2, [1, "b"])), 0.2)
    s.receive(op_msg(2, [1, "b"]), 0.2)  # duplicate delivery: ignored
    assert s.text == "ab" and s.version == 2 and s.live


def test_an_overdue_ack_syncs_then_resends() -> None:
    s = live_session("", 0, ack_timeout=2.0)
    s.insert(0, "x", 0.0)
    sent(s)
    assert s.next_deadline() == 2.0
    s.tick(1.0)
    assert sent(s) == []
    s.tick(2.0)
    assert sent(s) == [{"type": "sync", "payload": {"version": 0}}]
    s.receive(ops_msg(), 2.1)
    assert sent(s) == [{"type": "edit", "payload": {"version": 0, "op": ["x"], "client_id": "me", "seq": 1}}]
    s.tick(4.1)  # still no ack: sync again; no answer to that either: reconnect
    assert sent(s) == [{"type": "sync", "payload": {"version": 0}}] and s.reconnect_reason is None
    s.tick(4.1 + s.sync_timeout)
    assert s.reconnect_reason == f"no answer to sync within {s.sync_timeout:g} s"


def test_a_rejected_edit_is_undone_and_later_edits_kept() -> None:
    s = live_session("abc", 0)
    s.insert(3, "X", 0.0)
    s.insert(0, "Y", 0.0)  # buffered behind the in-flight edit
    sent(s)
    s.receive({"type": "error", "payload": {"code": "invalid_op", "message": "bad",
                                            "ref": {"client_id": "me", "seq": 1}}}, 0.1)  # fmt: skip
    assert s.text == "Yabc"
    (rejected,) = [e for e in s.events_received() if isinstance(e, EditRejected)]
    assert rejected.seq == 1 and rejected.code == "invalid_op" and rejected.text == "Yabc"
    out = sent(s)
    assert out[0] == {"type": "sync", "payload": {"version": 0}}
    assert out[1]["payload"] == {"version": 0, "op": ["Y"], "client_id": "me", "seq": 2}


def test_history_unavailable_rebases_without_losing_or_doubling() -> None:
    s = live_session("abc", 3)
    s.insert(3, "1", 0.0)
    sent(s)
    s.insert(4, "2", 0.0)  # buffered
    s.connection_lost(0.1)
    s.connection_made(0.2)
    s.receive(hello(20000, "zabc", session="s2"), 0.2)
    assert sent(s) == [{"type": "sync", "payload": {"version": 3}}]
    s.receive({"type": "error", "payload": {"code": "history_unavailable", "message": "too long",
                                            "ref": "sync"}}, 0.3)  # fmt: skip
    assert s.reconnect_reason is not None
    s.connection_lost(0.4)
    s.connection_made(0.5)
    s.receive(hello(20001, "zabc1", session="s3"), 0.5)
    # first: is the in-flight edit committed? resend it exactly as first sent
    assert sent(s) == [
        {"type": "edit", "payload": {"version": 3, "op": [3, "1"], "client_id": "me", "seq": 1}}
    ]
    s.receive(ack(1, 20000), 0.6)  # the server had it: re-acked with its original version
    assert s.reconnect_reason is not None
    s.connection_lost(0.7)
    s.connection_made(0.8)
    s.receive(hello(20002, "zab!c1", session="s4"), 0.8)  # rebased with a fine diff
    assert s.text == "zab!c12" and s.version == 20002
    # nothing missed since that hello: live at once, the rebased edit goes out
    assert sent(s) == [
        {"type": "edit", "payload": {"version": 20002, "op": [6, "2"], "client_id": "me", "seq": 2}}
    ]


def test_a_server_behind_the_client_is_fatal() -> None:
    s = live_session("abc", 7)
    s.connection_lost(0.0)
    s.connection_made(0.1)
    s.receive(hello(2, "a", session="s2"), 0.1)
    assert isinstance(s.fatal, ResumeFailed) and "version 2" in str(s.fatal)


def test_a_diverged_text_triggers_a_rebase() -> None:
    s = live_session("abc", 3)
    s.connection_lost(0.0)
    s.connection_made(0.1)
    s.receive(hello(3, "abX", session="s2"), 0.1)
    assert s.reconnect_reason is not None and "differs" in s.reconnect_reason
    s.connection_made(0.2)
    s.receive(hello(3, "abX", session="s3"), 0.2)
    assert s.text == "abX"


def test_no_hello_in_time_asks_for_a_reconnect() -> None:
    s = Session("me", hello_timeout=3.0)
    s.connection_made(10.0)
    assert s.next_deadline() == 13.0
    s.tick(13.0)
    assert s.reconnect_reason == "no hello within 3 s"


def test_viewers_cannot_edit() -> None:
    s = Session("me")
    s.connection_made(0.0)
    msg = hello(0, "abc")
    msg["payload"]["role"] = "viewer"
    s.receive(msg, 0.0)
    with pytest.raises(ReadOnly):
        s.insert(0, "x", 0.0)
    s.receive({"type": "role", "payload": {"role": "editor"}}, 0.1)
    s.insert(0, "x", 0.1)
    assert s.text == "xabc"


def test_bad_positions_raise_before_any_change() -> None:
    s = live_session("abc", 0)
    with pytest.raises(IndexError):
        s.insert(4, "x", 0.0)
    with pytest.raises(IndexError):
        s.delete(2, 2, 0.0)
    with pytest.raises(IndexError):
        s.set_cursor(0, 9, 0.0)
    assert s.text == "abc" and sent(s) == []


def test_edits_are_paced() -> None:
    s = live_session("", 0, edit_interval=0.5)
    s.insert(0, "a", 0.0)
    s.receive(ack(1, 1), 0.1)
    s.insert(1, "b", 0.1)
    assert [m["type"] for m in sent(s)] == ["edit"]  # the first one only
    assert s.next_deadline() == 0.5
    s.tick(0.5)
    assert [m["payload"]["op"] for m in sent(s)] == [[1, "b"]]


def test_presence_diffs_and_remote_cursors_in_local_positions() -> None:
    s = Session("me")
    s.connection_made(0.0)
    s.receive(hello(0, "hello", presence=[entry("s1", "me"), entry("s2", "bob", {"version": 0, "anchor": 5, "head": 5})]), 0.0)  # fmt: skip
    assert [(p.name, p.is_self, p.cursor) for p in s.participants] == [
        ("me", True, None),
        ("bob", False, (5, 5)),
    ]
    s.events_received()
    s.receive(
        {"type": "presence", "payload": {"joined": [entry("s3", "carol")], "left": ["s2"], "updated": []}},
        0.1,
    )
    (diff,) = s.events_received()
    assert isinstance(diff, PresenceChanged)
    assert [p.name for p in diff.joined] == ["carol"] and [p.name for p in diff.left] == ["bob"]
    # carol's cursor is at version 1, which we have not seen yet: placed once we get there
    s.receive({"type": "cursor", "payload": {"session": "s3", "user": {"name": "carol"}, "version": 1, "anchor": 3, "head": 3}}, 0.2)  # fmt: skip
    assert s.events_received() == []
    s.insert(0, ">", 0.2)  # our pending edit shifts it too
    s.receive(op_msg(1, ["X"]), 0.3)
    moved = [e for e in s.events_received() if isinstance(e, CursorMoved)]
    assert moved == [CursorMoved("s3", "carol", 4, 4, "#000")]  # "Xhe|llo" is "X>he|llo" here
    assert s.text == "X>hello"


def test_own_cursor_is_sent_in_server_positions() -> None:
    s = live_session("hello", 0, cursor_interval=0.0)
    s.insert(0, "ab", 0.0)
    s.set_cursor(4, None, 0.0)  # after "ab" + "he"; the server has not got "ab" yet
    cursor = [m for m in sent(s) if m["type"] == "cursor"]
    assert cursor == [{"type": "cursor", "payload": {"version": 0, "anchor": 2, "head": 2}}]
    s.receive(ack(1, 1), 0.1)  # now exact: sent again
    assert [m["payload"] for m in sent(s) if m["type"] == "cursor"] == [
        {"version": 1, "anchor": 4, "head": 4}
    ]
    s.insert(0, "x", 0.2)
    assert s.cursor == (5, 5)


@given(text_and_op(), st.integers(13, 30))
def test_split_op_pieces_apply_to_the_same_text(case: tuple[str, Op], budget: int) -> None:
    text, op = case
    expected, rest, pieces = apply(text, op), normalize(op), 0
    while rest and pieces < 100:
        first, rest = split_op(rest, budget)
        assert sum(len(c) if isinstance(c, str) else 12 for c in first) <= budget + 12
        text, pieces = apply(text, first), pieces + 1
    assert text == expected and not rest


@given(texts, texts)
def test_fine_diff_turns_old_into_new(old: str, new: str) -> None:
    assert apply(old, fine_diff(old, new)) == new


def test_fine_diff_keeps_every_common_run() -> None:
    assert fine_diff("the cat sat", "the hat sat on it") == [4, "h", -1, 6, " on it"]
    assert fine_diff("a b\nc d\ne f\n", "a B\nc d\ne F\n") == [2, "B", -1, 7, "F", -1]
    assert fine_diff("ab" * 2000, "ba" * 2000) in (["b", 3999, -1], [-1, 3999, "a"])
    rng = random.Random(1)
    old, new = "x" * 3000, "".join(rng.choice("xy") for _ in range(3000))
    op = fine_diff(old, new)  # too many edits: the run between common head and tail is replaced whole
    assert apply(old, op) == new and len(op) <= 4 and sum(isinstance(c, str) for c in op) == 1


def test_replace_keeps_concurrent_edits_to_unchanged_parts() -> None:
    s = live_session("intro\nmiddle\noutro\n", 0)
    s.replace("INTRO\nmiddle\noutro!\n", 0.0)
    assert [m["type"] for m in sent(s)] == ["edit"]
    s.receive(op_msg(1, [6, "the ", 7, "xx"]), 0.1)  # bob edited the middle and the outro
    s.receive(ack(1, 2), 0.2)
    assert s.text == "INTRO\nthe middle\nxxoutro!\n"


def test_a_huge_edit_goes_out_in_frames_under_the_size_limit() -> None:
    s = live_session("", 0, edit_interval=0.0)
    s.limits = {"max_message_bytes": 4096}
    big = "€" * 5000 + "\n" * 5000  # 3 bytes each; a newline is 2 bytes of JSON
    s.insert(0, big, 0.0)
    server, version = "", 0
    for _ in range(100):
        frames = s.data_to_send()
        if not frames:
            break
        (frame,) = frames
        assert len(frame.encode()) <= 4096
        payload = json.loads(frame)["payload"]
        server, version = apply(server, payload["op"]), version + 1
        s.receive(ack(payload["seq"], version), 0.0)
    assert server == s.text == big and s.synced and version > 5


# -- session against an in-memory server, randomly ---------------------------------------------
class FakeServer:
    """PROTOCOL.md's edit/sync/ack/op rules, with per-connection message queues."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.log: list[tuple[Op, str, int]] = []  # (op, client_id, seq); version = index + 1
        self.seen: dict[tuple[str, int], int] = {}
        self.conns: dict[int, tuple[deque[str], deque[dict[str, Any]]]] = {}  # id -> (to server, to client)
        self.next_id = 0

    def connect(self) -> int:
        self.next_id += 1
        self.conns[self.next_id] = (
            deque(),
            deque([hello(len(self.log), self.text, session=str(self.next_id))]),
        )
        return self.next_id

    def process(self, conn: int) -> None:
        frame = json.loads(self.conns[conn][0].popleft())
        kind, p = frame["type"], frame["payload"]
        out = self.conns[conn][1]
        if kind == "sync":
            out.append(ops_msg(*(self._op(v) for v in range(p["version"] + 1, len(self.log) + 1))))
        elif kind == "edit":
            key = (p["client_id"], p["seq"])
            if key in self.seen:
                out.append(ack(p["seq"], self.seen[key], p["client_id"]))
                return
            op = p["op"]
            for v in range(p["version"], len(self.log)):
                _, op = transform(self.log[v][0], op)
            self.text = apply(self.text, op)
            self.log.append((op, *key))
            self.seen[key] = len(self.log)
            for other, (_, queue) in self.conns.items():
                queue.append(
                    ack(p["seq"], len(self.log), p["client_id"]) if other == conn else self._op(len(self.log))
                )

    def _op(self, version: int) -> dict[str, Any]:
        op, client_id, seq = self.log[version - 1]
        return op_msg(version, op, client_id, seq)


@pytest.mark.parametrize("seed", range(40))
def test_random_interleavings_and_disconnects_converge(seed: int) -> None:
    rng = random.Random(seed)
    server = FakeServer("")
    clients = [Session(f"c{i}", ack_timeout=5.0, edit_interval=0.0) for i in range(3)]
    conn: dict[int, int | None] = {}
    typed: list[str] = []
    now = 0.0

    def connect(i: int) -> None:
        conn[i] = server.connect()
        clients[i].connection_made(now)

    def pump(i: int) -> None:
        c = conn[i]
        if c is not None:
            server.conns[c][0].extend(clients[i].data_to_send())

    for i in range(3):
        connect(i)
    for _ in range(600):
        now += 0.01
        i = rng.randrange(3)
        c, s = conn[i], clients[i]
        roll = rng.random()
        if roll < 0.25 and s.ready:
            marker = f"<{i}.{len(typed)}>"
            bounds = [0] + [k + 1 for k, ch in enumerate(s.text) if ch == ">"]
            s.insert(rng.choice(bounds), marker, now)
            typed.append(marker)
        elif roll < 0.55 and c is not None and server.conns[c][1]:
            queue = server.conns[c][1]
            s.receive(queue.popleft(), now)
        elif roll < 0.8 and c is not None and server.conns[c][0]:
            server.process(c)
        elif roll < 0.84 and c is not None:  # the connection drops; in-flight frames are lost
            del server.conns[c]
            s.connection_lost(now)
            conn[i] = None
        elif roll < 0.9 and c is None:
            connect(i)
        else:
            s.tick(now)
        if s.reconnect_reason is not None and conn[i] is not None:
            del server.conns[conn[i]]  # type: ignore[arg-type]
            s.connection_lost(now)
            connect(i)
        pump(i)
    # heal: everyone connected, deliver everything until quiet (the clock stands still)
    for i in range(3):
        if conn[i] is None:
            connect(i)
    for _ in range(10_000):
        busy = False
        for i, s in enumerate(clients):
            if s.reconnect_reason is not None:
                del server.conns[conn[i]]  # type: ignore[arg-type]
                s.connection_lost(now)
                connect(i)
            pump(i)
            c = conn[i]
            assert c is not None
            to_server, to_client = server.conns[c]
            if to_server:
                server.process(c)
                busy = True
            if to_client:
                s.receive(to_client.popleft(), now)
                busy = True
        if not busy:  # quiet, with no timer needed: fresh connections must resume by themselves
            break
    assert [s.text for s in clients] == [server.text] * 3
    assert all(s.synced for s in clients)
    for marker in typed:
        assert server.text.count(marker) == 1, marker
    assert len(server.text) == sum(map(len, typed))
