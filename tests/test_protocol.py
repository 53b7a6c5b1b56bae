"""collab.protocol: every message type parses, every malformed input maps to a code and names the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collab.protocol import ErrorCode, ProtocolError, error_frame, frame, parse, parse_presence_room
from tests.ot.test_purity import find_impurities

ROOT = Path(__file__).resolve().parent.parent


def msg(type_: str, payload: Any = None, **extra: Any) -> str:
    body: dict[str, Any] = {"type": type_, **extra}
    if payload is not None:
        body["payload"] = payload
    return json.dumps(body)


EDIT = {"version": 3, "op": [1, "x"], "client_id": "c1", "seq": 7}


def test_valid_messages_parse() -> None:
    edit = parse(msg("edit", EDIT))
    assert (edit.type, edit.payload.version, edit.payload.op, edit.payload.client_id, edit.payload.seq) == (
        "edit", 3, [1, "x"], "c1", 7,
    )  # fmt: skip
    assert parse(msg("sync", {"version": 0})).payload.version == 0
    cursor = parse(msg("cursor", {"version": 2, "anchor": 1, "head": 4}))
    assert (cursor.payload.anchor, cursor.payload.head) == (1, 4)
    hidden = parse(msg("cursor", {"version": 2, "anchor": None, "head": None}))
    assert hidden.payload.anchor is None and hidden.payload.head is None
    presence = parse(msg("presence", {"status": "idle", "meta": {"tab": "b"}}))
    assert (presence.payload.status, presence.payload.meta) == ("idle", {"tab": "b"})
    assert parse(msg("ping", {"n": [1, 2]})).payload == {"n": [1, 2]}
    assert parse(msg("ping", "anything")).payload == "anything"
    assert parse(msg("ping")).payload == {}


def test_unknown_extra_fields_are_ignored() -> None:
    edit = parse(msg("edit", {**EDIT, "extra": 1}, meta="x"))
    assert edit.payload.seq == 7


def expect(code: str, text: Any, *, mentions: str = "") -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(text)
    assert info.value.code == code, info.value.message
    assert len(info.value.message) > 5
    if mentions:
        assert mentions in info.value.message
    return info.value


def test_not_json_and_not_objects() -> None:
    expect(ErrorCode.INVALID_JSON, "{nope")
    expect(ErrorCode.INVALID_JSON, "")
    expect(ErrorCode.INVALID_MESSAGE, "[1, 2]")
    expect(ErrorCode.INVALID_MESSAGE, '"edit"')
    expect(ErrorCode.INVALID_MESSAGE, "null")
    expect(ErrorCode.INVALID_MESSAGE, b'{"type": "ping"}', mentions="Binary")


def test_type_problems() -> None:
    expect(ErrorCode.INVALID_MESSAGE, json.dumps({"payload": {}}), mentions="type")
    expect(ErrorCode.INVALID_MESSAGE, json.dumps({"type": 5, "payload": {}}), mentions="type")
    err = expect(ErrorCode.UNKNOWN_TYPE, msg("launch", {}), mentions="launch")
    assert err.ref == "launch"
    # server-to-client and presence-room types are not document-room messages
    expect(ErrorCode.UNKNOWN_TYPE, msg("ack", {}))
    expect(ErrorCode.UNKNOWN_TYPE, msg("subscribe", {"documents": ["x"]}))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**EDIT, "version": -1}, "version"),
        ({**EDIT, "version": "3"}, "version"),
        ({**EDIT, "version": 3.0}, "version"),
        ({**EDIT, "version": True}, "version"),
        ({**EDIT, "op": "x"}, "op"),
        ({**EDIT, "op": {"0": 1}}, "op"),
        ({**EDIT, "client_id": ""}, "client_id"),
        ({**EDIT, "client_id": "x" * 65}, "client_id"),
        ({**EDIT, "client_id": 5}, "client_id"),
        ({**EDIT, "seq": "1"}, "seq"),
        ({**EDIT, "seq": -1}, "seq"),
        ({**EDIT, "seq": 2**63}, "seq"),  # beyond the database's 64-bit integer
        ({k: v for k, v in EDIT.items() if k != "op"}, "op"),
        ({k: v for k, v in EDIT.items() if k != "client_id"}, "client_id"),
    ],
)
def test_edit_schema_errors_name_the_field(payload: dict[str, Any], field: str) -> None:
    err = expect(ErrorCode.INVALID_MESSAGE, msg("edit", payload), mentions=field)
    assert f"payload.{field}" in err.message


def test_edit_error_ref_is_client_id_and_seq() -> None:
    err = expect(ErrorCode.INVALID_MESSAGE, msg("edit", {**EDIT, "version": -5}))
    assert err.ref == {"client_id": "c1", "seq": 7}
    err = expect(ErrorCode.INVALID_MESSAGE, msg("sync", {"version": "x"}))
    assert err.ref == "sync"


@pytest.mark.parametrize(
    ("type_", "payload", "field"),
    [
        ("edit", None, "payload"),
        ("edit", [1], "payload"),
        ("sync", {}, "version"),
        ("sync", {"version": -2}, "version"),
        ("cursor", {"version": 1, "anchor": 1}, "head"),
        ("cursor", {"version": 1, "anchor": 1, "head": None}, "both"),
        ("cursor", {"version": 1, "anchor": -1, "head": 0}, "anchor"),
        ("cursor", {"version": 1, "anchor": "1", "head": 0}, "anchor"),
        ("presence", {"status": "away"}, "status"),
        ("presence", {"status": "active", "meta": [1]}, "meta"),
        ("presence", {"status": "active", "meta": {"x": "y" * 2000}}, "meta"),
    ],
)
def test_other_schema_errors(type_: str, payload: Any, field: str) -> None:
    expect(ErrorCode.INVALID_MESSAGE, msg(type_, payload), mentions=field)


def test_meta_limit_is_one_kib_of_json() -> None:
    ok = {"k": "v" * (1024 - len('{"k":""}'))}
    assert parse(msg("presence", {"status": "active", "meta": ok})).payload.meta == ok
    too_big = {"k": "v" * (1025 - len('{"k":""}'))}
    expect(ErrorCode.INVALID_MESSAGE, msg("presence", {"status": "active", "meta": too_big}), mentions="1024")


def test_message_too_large_is_checked_in_bytes() -> None:
    text = msg("ping", {"pad": "é" * 200})  # 2 bytes per é
    assert parse(text, max_bytes=len(text.encode())).type == "ping"
    with pytest.raises(ProtocolError) as info:
        parse(text, max_bytes=len(text.encode()) - 1)
    assert info.value.code == ErrorCode.MESSAGE_TOO_LARGE


def test_deeply_nested_json_is_invalid_json_not_a_crash() -> None:
    expect(ErrorCode.INVALID_JSON, "[" * 100000)


def test_presence_room_messages() -> None:
    sub = parse_presence_room(msg("subscribe", {"documents": ["a", "b"]}))
    assert sub.payload.documents == ["a", "b"]
    with pytest.raises(ProtocolError) as info:
        parse_presence_room(msg("subscribe", {"documents": []}))
    assert info.value.code == ErrorCode.INVALID_MESSAGE
    with pytest.raises(ProtocolError) as info:
        parse_presence_room(msg("edit", EDIT))
    assert info.value.code == ErrorCode.UNKNOWN_TYPE


def test_frames_are_compact_json_with_unicode_kept() -> None:
    text = frame("op", {"op": ["😀"]})
    assert text == '{"type":"op","payload":{"op":["😀"]}}'
    err = json.loads(error_frame(ErrorCode.FORBIDDEN, "No.", {"client_id": "c", "seq": 1}))
    assert err == {
        "type": "error",
        "payload": {"code": "forbidden", "message": "No.", "ref": {"client_id": "c", "seq": 1}},
    }


def test_protocol_module_is_pure() -> None:
    allowed = ("pydantic", "collab.codes", "collab.exceptions")
    assert find_impurities(ROOT / "collab" / "protocol.py", allowed=allowed) == []
