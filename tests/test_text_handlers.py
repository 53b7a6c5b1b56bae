"""The text kind's handlers driven with a fake connection (no socket, no consumer)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from collab import editing
from collab.exceptions import Forbidden
from collab.protocol import parse
from collab.realtime.hub import hub
from collab.realtime.presence_store import registry
from collab.text.handlers import REGISTRY
from tests.support.fakes import FakeConn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def handle(conn: FakeConn, type_: str, payload: Any) -> None:
    message = parse(json.dumps({"type": type_, "payload": payload}))
    await REGISTRY[message.type](conn, message)


async def frames_until(conn: FakeConn, kind: str, timeout: float = 5) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(f["type"] == kind for f in conn.sent):
        assert asyncio.get_running_loop().time() < deadline, conn.sent
        await asyncio.sleep(0.01)
    return conn.sent


async def in_room(alice: User, role: str = "owner", content: str = "hello") -> FakeConn:
    doc = await database_sync_to_async(editing.create_document)(owner=alice, title="t", content=content)
    conn = FakeConn(document_id=str(doc.pk), user=alice, role=role)
    await hub().join(conn.document_id, conn)
    conn.stream.start(0)
    return conn


async def test_ping_is_answered_with_its_payload(alice: User) -> None:
    conn = await in_room(alice)
    await handle(conn, "ping", {"n": [1, 2]})
    assert conn.sent == [{"type": "pong", "payload": {"n": [1, 2]}}]


async def test_an_edit_is_acked_through_the_stream_and_a_resend_is_acked_again(alice: User) -> None:
    conn = await in_room(alice)
    edit = {"version": 0, "op": [5, "!"], "client_id": "c", "seq": 1}
    await handle(conn, "edit", edit)
    sent = await frames_until(conn, "ack")
    assert sent == [{"type": "ack", "payload": {"client_id": "c", "seq": 1, "version": 1}}]
    await handle(conn, "edit", edit)
    while len(conn.sent) < 2:
        await asyncio.sleep(0.01)
    assert conn.sent[1] == sent[0]  # the original version, not a second commit
    assert conn.stream.last == 1


async def test_a_viewer_cannot_edit(alice: User) -> None:
    conn = await in_room(alice, role="viewer")
    with pytest.raises(Forbidden) as info:
        await handle(conn, "edit", {"version": 0, "op": ["x"], "client_id": "c", "seq": 3})
    assert info.value.ref == {"client_id": "c", "seq": 3} and info.value.code == "forbidden"
    assert conn.sent == []


async def test_an_invalid_op_is_an_error_naming_the_edit(alice: User) -> None:
    conn = await in_room(alice)
    await handle(conn, "edit", {"version": 0, "op": [99], "client_id": "c", "seq": 1})
    (error,) = await frames_until(conn, "error")
    assert error["payload"]["code"] == "invalid_op" and error["payload"]["ref"] == {
        "client_id": "c",
        "seq": 1,
    }


async def test_sync_answers_with_every_op_after_the_version(alice: User) -> None:
    conn = await in_room(alice, content="")
    for seq in (1, 2):
        await database_sync_to_async(editing.commit)(
            editing.EditRequest(conn.document_id, seq - 1, ["x"], client_id="other", seq=seq)
        )
    await handle(conn, "sync", {"version": 0})
    sent = await frames_until(conn, "ops")
    answer = next(f for f in sent if f["type"] == "ops" and len(f["payload"]["ops"]) == 2)
    assert [o["version"] for o in answer["payload"]["ops"]] == [1, 2]


async def test_sync_past_the_byte_limit_is_history_unavailable(alice: User, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "SYNC_MAX_BYTES": 2000}
    conn = await in_room(alice, content="")
    for seq in range(1, 6):
        await database_sync_to_async(editing.commit)(
            editing.EditRequest(conn.document_id, seq - 1, ["y" * 300], client_id="o", seq=seq)
        )
    await handle(conn, "sync", {"version": 0})
    sent = await frames_until(conn, "error")
    error = next(f for f in sent if f["type"] == "error")["payload"]
    assert error["code"] == "history_unavailable" and error["ref"] == "sync"


async def test_presence_updates_the_entry(alice: User) -> None:
    conn = await in_room(alice)
    registry().join(
        conn.document_id, {"session": conn.session, "user": conn.user_info, "status": "active", "meta": {}}
    )
    await handle(conn, "presence", {"status": "idle", "meta": {"typing": True}})
    (entry,) = registry().entries(conn.document_id)
    assert entry["status"] == "idle" and entry["meta"] == {"typing": True}


async def test_a_cursor_ahead_of_the_stream_is_refused(alice: User) -> None:
    conn = await in_room(alice)
    await handle(conn, "cursor", {"version": 3, "anchor": 0, "head": 0})
    assert conn.sent[0]["payload"]["code"] == "version_ahead"
