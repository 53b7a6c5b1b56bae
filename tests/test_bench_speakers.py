"""The benchmark's yjs writer and subscriber framing (bench/speakers.py), without a server."""

from __future__ import annotations

import pycrdt

from bench.speakers import SYNC_STATUS, YjsSpeaker, read_varuint, varstring, yjs_stamps


def test_the_yjs_writers_updates_carry_stamps_a_subscriber_finds_and_a_doc_applies() -> None:
    speaker = YjsSpeaker("3f1c-doc", "token")
    doc = pycrdt.Doc()
    for seq, now in ((1, 12.5), (2, 12.75)):
        frame = speaker.edit(seq, now)
        length, at = read_varuint(frame, 0)
        assert frame[at : at + length] == b"3f1c-doc"  # the Hocuspocus document name
        body = frame[at + length :]  # sync, update, the update: what y-websocket subscribers get
        assert body[:2] == b"\x00\x02" and yjs_stamps(body) == [now]
        size, start = read_varuint(body, 2)
        doc.apply_update(body[start : start + size])
    assert str(doc.get("content", type=pycrdt.Text)) == "~c28cb0;~bebc20;"  # 12.75 s, then 12.5 s
    assert yjs_stamps(b"\x01\x05~abc;") == []  # an awareness frame is no delivery


def test_sync_status_settles_the_oldest_edit_and_a_refusal_counts_as_an_error() -> None:
    speaker = YjsSpeaker("d", "t")
    for seq in (1, 2, 3):
        speaker.edit(seq, 1.0)
    prefix = varstring("d")
    assert speaker.settled(prefix + bytes([SYNC_STATUS, 1])) == [1]
    assert speaker.settled(prefix + bytes([SYNC_STATUS, 0])) == [2] and speaker.errors == 1
    assert speaker.settled(varstring("other") + bytes([SYNC_STATUS, 1])) == []
    assert speaker.settled("text frame") == []
    assert speaker.settled(prefix + bytes([SYNC_STATUS, 1])) == [3]
