"""The text kind's delivery: acks for one's own ops, others' runs as one ``op`` or ``ops`` frame
built once, ``sync`` answers split by size."""

from __future__ import annotations

import json
from typing import Any

from collab.realtime.outbox import Outbox
from collab.text.delivery import OpStream, frames_for, split_ops
from collab.text.events import OpItem, OpsCommitted
from tests.support.fakes import FakeSink


def item(version: int, session: str) -> OpItem:
    payload = json.dumps(
        {"version": version, "op": ["x"], "client_id": session, "seq": version, "session": session}
    )
    return OpItem(version, session, session, version, payload)


BATCH = (item(1, "a"), item(2, "b"), item(3, "me"), item(4, "a"))


def kinds(frames: list[str]) -> list[tuple[str, list[int]]]:
    out = []
    for text in frames:
        message = json.loads(text)
        p = message["payload"]
        versions = [o["version"] for o in p["ops"]] if message["type"] == "ops" else [p["version"]]
        out.append((message["type"], versions))
    return out


def test_the_sender_gets_an_ack_between_the_others_runs() -> None:
    assert kinds(frames_for(BATCH, "me", 0)) == [("ops", [1, 2]), ("ack", [3]), ("op", [4])]


def test_others_get_one_ops_frame_and_a_single_op_stays_an_op() -> None:
    assert kinds(frames_for(BATCH, "zed", 0)) == [("ops", [1, 2, 3, 4])]
    assert kinds(frames_for(BATCH[:1], "zed", 0)) == [("op", [1])]


def test_versions_already_sent_are_skipped() -> None:
    assert kinds(frames_for(BATCH, "me", 2)) == [("ack", [3]), ("op", [4])]
    assert frames_for(BATCH, "me", 4) == []


def test_ack_frames_carry_client_id_seq_and_version() -> None:
    (ack,) = [json.loads(f) for f in frames_for(BATCH[2:3], "me", 0)]
    assert ack == {"type": "ack", "payload": {"client_id": "me", "seq": 3, "version": 3}}


async def never(message: Any) -> None:
    raise AssertionError("not expected")


async def test_subscribers_share_the_frames_built_for_a_batch() -> None:
    sinks = [FakeSink() for _ in range(3)]
    outboxes = [
        OpStream(document_id="doc", session=f"s{i}", outbox=Outbox(never, sink))
        for i, sink in enumerate(sinks)
    ]
    for outbox in outboxes:
        outbox.start(0)
    batch = OpsCommitted("doc", BATCH)
    for outbox in outboxes:
        outbox.deliver(batch)
    assert list(batch.memo) == [(0, None)]  # built once for all three
    assert sinks[0].out == sinks[1].out == sinks[2].out and sinks[0].out[0] is sinks[1].out[0]
    assert kinds(sinks[0].out) == [("ops", [1, 2, 3, 4])]
    assert all(o.last == 4 for o in outboxes)
    assert OpsCommitted("doc", BATCH) == batch  # the memo is not part of a batch's value


def test_sync_answers_are_split_by_size_and_never_empty() -> None:
    payloads = [json.dumps({"v": i, "pad": "x" * 40}) for i in range(10)]
    frames = split_ops(payloads, 200)
    assert len(frames) > 1 and all(len(f) < 200 + 60 for f in frames)
    got = [o["v"] for f in frames for o in json.loads(f)["payload"]["ops"]]
    assert got == list(range(10))
    assert split_ops([], 200) == ['{"type":"ops","payload":{"ops":[]}}']
    (alone,) = split_ops([json.dumps({"big": "y" * 500})], 200)  # larger than a frame: alone in one
    assert len(json.loads(alone)["payload"]["ops"]) == 1
