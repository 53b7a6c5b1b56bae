"""DocumentConsumer through Channels' WebsocketCommunicator: lifecycle, dispatch, every error code.

Each test drives the real ASGI application (origin check, token/session auth,
routing) in-process. Every bad input is followed by a check that the document
and the connection are as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from collab import editing
from collab.models import Document, Membership, Operation
from collab.realtime.events import PresenceChanged
from collab.realtime.hub import hub
from collab.text.events import OpItem, OpsCommitted
from project.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def token_of(user: User) -> str:
    return str(Token.objects.get_or_create(user=user)[0].key)


class Client:
    """A communicator plus the hello it got."""

    def __init__(self, comm: WebsocketCommunicator, hello: dict[str, Any]) -> None:
        self.comm = comm
        self.hello = hello

    async def send(self, type_: str, payload: Any) -> None:
        await self.comm.send_to(text_data=json.dumps({"type": type_, "payload": payload}))

    async def recv(self, timeout: float = 3) -> dict[str, Any]:
        return dict(json.loads(await self.comm.receive_from(timeout)))

    async def recv_type(self, *types: str, timeout: float = 3) -> dict[str, Any]:
        """The next message of one of ``types``, skipping presence/cursor chatter."""
        while True:
            message = await self.recv(timeout)
            if message["type"] in types:
                return message
            assert message["type"] in ("presence", "cursor"), message

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.comm.receive_nothing(timeout)

    async def close(self) -> None:
        await self.comm.disconnect()


async def open_ws(
    doc_id: Any, user: User | None = None, *, token: str | None = None, headers: Any = None
) -> WebsocketCommunicator:
    if user is not None:
        token = await database_sync_to_async(token_of)(user)
    query = f"?token={token}" if token else ""
    comm = WebsocketCommunicator(application, f"/ws/documents/{doc_id}/{query}", headers=headers or [])
    return comm


async def join(doc_id: Any, user: User | None = None, **kw: Any) -> Client:
    comm = await open_ws(doc_id, user, **kw)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    hello = json.loads(await comm.receive_from(5))
    assert hello["type"] == "hello", hello
    return Client(comm, hello)


async def refused(doc_id: Any, user: User | None = None, **kw: Any) -> tuple[dict[str, Any], int]:
    comm = await open_ws(doc_id, user, **kw)
    connected, _ = await comm.connect(timeout=5)
    assert connected  # accepted, then told why, then closed
    error = json.loads(await comm.receive_from(5))
    close = await comm.receive_output(5)
    assert close["type"] == "websocket.close"
    return error, close["code"]


@database_sync_to_async
def new_doc(owner: User, content: str = "hello", public_role: str = "none", title: str = "Doc") -> Document:
    return editing.create_document(owner=owner, title=title, content=content, public_role=public_role)


@database_sync_to_async
def state(doc: Document) -> tuple[str, int, int]:
    doc.refresh_from_db()
    return doc.content, doc.version, Operation.objects.filter(document=doc).count()


@database_sync_to_async
def add_member(doc: Document, user: User, role: str) -> None:
    Membership.objects.update_or_create(document=doc, user=user, defaults={"role": role})


@database_sync_to_async
def commit_unpublished(request: editing.EditRequest) -> editing.CommittedOp:
    """Commit without telling the room (as if the channel layer lost the publish)."""
    (done,) = editing.commit_unpublished(request.document_id, [request])
    assert isinstance(done, editing.CommittedOp)
    return done


def edit(version: int, op: list[Any], seq: int, client_id: str = "c1") -> dict[str, Any]:
    return {"version": version, "op": op, "client_id": client_id, "seq": seq}


# -- connecting ------------------------------------------------------------------
async def test_hello_comes_first_with_everything(alice: User) -> None:
    doc = await new_doc(alice, "héllo 😀")
    a = await join(doc.pk, alice)
    p = a.hello["payload"]
    assert p["protocol"] == 1
    assert p["role"] == "owner"
    assert p["user"]["id"] == alice.pk and p["user"]["name"] == "Alice Liddell"
    assert p["user"]["color"].startswith("#")
    assert p["document"] == {"id": str(doc.pk), "title": "Doc", "version": 0, "content": "héllo 😀"}
    assert p["limits"] == {
        "max_message_bytes": 262144,
        "max_document_chars": 1000000,
        "max_sync_ops": 10000,
        "max_sync_bytes": 4 * 1024 * 1024,
    }
    assert [e["session"] for e in p["presence"]] == [p["session"]]
    entry = p["presence"][0]
    assert entry["role"] == "owner" and entry["status"] == "active" and entry["cursor"] is None
    assert entry["meta"] == {} and entry["joined_at"]
    await a.close()


async def test_two_tabs_are_two_entries_and_joiners_are_announced(alice: User) -> None:
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    b = await join(doc.pk, alice)
    assert len(b.hello["payload"]["presence"]) == 2
    joined = await a.recv_type("presence")
    assert [e["session"] for e in joined["payload"]["joined"]] == [b.hello["payload"]["session"]]
    await b.close()
    left = await a.recv_type("presence")
    assert left["payload"]["left"] == [b.hello["payload"]["session"]]
    await a.close()


async def test_anonymous_user_gets_a_generated_name(alice: User) -> None:
    doc = await new_doc(alice, public_role="viewer")
    a = await join(doc.pk)
    user = a.hello["payload"]["user"]
    assert user["id"] is None and user["name"] and a.hello["payload"]["role"] == "viewer"
    await a.close()


@pytest.mark.parametrize("public_role", ["none"])
async def test_refusals_4401_and_4404(alice: User, bob: User, public_role: str) -> None:
    doc = await new_doc(alice, public_role=public_role)
    error, code = await refused(doc.pk)
    assert (error["type"], error["payload"]["code"], code) == ("error", "unauthorized", 4401)
    error, code = await refused("00000000-0000-0000-0000-000000000000")
    assert code == 4401  # anonymous: whether or not it exists
    error, code = await refused(doc.pk, bob)
    assert (error["payload"]["code"], code) == ("not_found", 4404)
    _, code = await refused("00000000-0000-0000-0000-000000000000", bob)
    assert code == 4404
    _, code = await refused("not-a-uuid", bob)
    assert code == 4404


async def test_invalid_token_is_anonymous(alice: User) -> None:
    private = await new_doc(alice)
    _, code = await refused(private.pk, token="nope")
    assert code == 4401
    public = await new_doc(alice, public_role="editor")
    a = await join(public.pk, token="nope")
    assert a.hello["payload"]["role"] == "editor" and a.hello["payload"]["user"]["id"] is None
    await a.close()


async def test_origin_check(alice: User) -> None:
    doc = await new_doc(alice, public_role="viewer")
    evil = await open_ws(doc.pk, alice, headers=[(b"origin", b"https://evil.example")])
    connected, _ = await evil.connect(timeout=5)
    assert not connected
    good = await join(doc.pk, alice, headers=[(b"origin", b"http://localhost:8000")])
    assert good.hello["payload"]["role"] == "owner"
    await good.close()


async def test_session_cookie_authenticates(alice: User, client: Any) -> None:
    doc = await new_doc(alice)
    await database_sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    a = await join(doc.pk, headers=[(b"cookie", cookie)])
    assert a.hello["payload"]["role"] == "owner"
    await a.close()


# -- editing ---------------------------------------------------------------------
async def test_edit_acks_sender_and_broadcasts_to_others(alice: User, bob: User) -> None:
    doc = await new_doc(alice, "hello", public_role="editor")
    a = await join(doc.pk, alice)
    b = await join(doc.pk, bob)
    await a.send("edit", edit(0, [5, " world"], 1))
    ack = await a.recv_type("ack", "op")
    assert ack == {"type": "ack", "payload": {"client_id": "c1", "seq": 1, "version": 1}}
    op = await b.recv_type("ack", "op")
    assert op["type"] == "op"
    p = op["payload"]
    assert (p["version"], p["op"], p["client_id"], p["seq"]) == (1, [5, " world"], "c1", 1)
    assert p["session"] == a.hello["payload"]["session"] and p["user"]["id"] == alice.pk
    assert await state(doc) == ("hello world", 1, 1)
    assert await a.nothing()  # never an op for its own edit
    await a.close()
    await b.close()


async def test_concurrent_edits_transform_first_committed_left(alice: User, bob: User) -> None:
    doc = await new_doc(alice, "ab", public_role="editor")
    a = await join(doc.pk, alice)
    b = await join(doc.pk, bob)
    await a.send("edit", edit(0, [1, "X"], 1, "ca"))
    assert (await a.recv_type("ack"))["payload"]["version"] == 1
    await b.send("edit", edit(0, [1, "Y"], 1, "cb"))  # stale base: transformed
    assert (await b.recv_type("op", "ack"))["type"] == "op"
    assert (await b.recv_type("ack"))["payload"]["version"] == 2
    other = await a.recv_type("op")
    assert other["payload"]["op"] == [2, "Y"]
    assert (await state(doc))[0] == "aXYb"
    await a.close()
    await b.close()


async def test_resend_is_acked_again_with_original_version(alice: User) -> None:
    doc = await new_doc(alice, "")
    a = await join(doc.pk, alice)
    await a.send("edit", edit(0, ["x"], 1))
    assert (await a.recv_type("ack"))["payload"]["version"] == 1
    await a.send("edit", edit(0, ["y"], 2))
    assert (await a.recv_type("ack"))["payload"]["version"] == 2
    await a.send("edit", edit(0, ["x"], 1))
    assert (await a.recv_type("ack"))["payload"] == {"client_id": "c1", "seq": 1, "version": 1}
    assert await state(doc) == ("xy", 2, 2)  # y at stale base 0 goes right of x
    await a.close()


async def test_sync_sends_everything_after_v_including_own(alice: User, bob: User) -> None:
    doc = await new_doc(alice, "", public_role="editor")
    a = await join(doc.pk, alice)
    b = await join(doc.pk, bob)
    await a.send("edit", edit(0, ["a"], 1, "ca"))
    await a.recv_type("ack")
    await b.recv_type("op")
    await b.send("edit", edit(1, [1, "b"], 1, "cb"))
    await b.recv_type("ack")
    await a.recv_type("op")
    await a.send("sync", {"version": 0})
    ops = await a.recv_type("ops")
    assert [(o["version"], o["client_id"]) for o in ops["payload"]["ops"]] == [(1, "ca"), (2, "cb")]
    await a.send("sync", {"version": 2})
    assert (await a.recv_type("ops"))["payload"]["ops"] == []
    await a.send("sync", {"version": 9})
    err = await a.recv_type("error")
    assert err["payload"]["code"] == "version_ahead"
    await a.close()
    await b.close()


async def test_viewer_cannot_edit_but_can_read(alice: User, bob: User) -> None:
    doc = await new_doc(alice, "text")
    await add_member(doc, bob, "viewer")
    b = await join(doc.pk, bob)
    assert b.hello["payload"]["role"] == "viewer"
    await b.send("edit", edit(0, ["x"], 1, "cb"))
    err = await b.recv_type("error")
    assert err["payload"]["code"] == "forbidden"
    assert err["payload"]["ref"] == {"client_id": "cb", "seq": 1}
    assert await state(doc) == ("text", 0, 0)
    await b.send("ping", {"still": "open"})
    assert (await b.recv_type("pong"))["payload"] == {"still": "open"}
    await b.close()


# -- errors leave everything as it was -------------------------------------------
async def assert_unchanged_and_open(client: Client, doc: Document, expected: tuple[str, int, int]) -> None:
    assert await state(doc) == expected
    await client.send("ping", {"n": 1})
    assert (await client.recv_type("pong"))["payload"] == {"n": 1}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ('{"type": "edit"}', "invalid_message"),
        (
            '{"type": "edit", "payload": {"version": 0, "op": "x", "client_id": "c", "seq": 1}}',
            "invalid_message",
        ),
        ('{"type": "teleport", "payload": {}}', "unknown_type"),
        ('["edit"]', "invalid_message"),
        ('{"type": "cursor", "payload": {"version": 0, "anchor": 1}}', "invalid_message"),
        ('{"type": "presence", "payload": {"status": "asleep"}}', "invalid_message"),
        ('{"type": "edit", "payload": {"version": 0, "op": [99], "client_id": "c", "seq": 1}}', "invalid_op"),
        (
            '{"type": "edit", "payload": {"version": 0, "op": [-99], "client_id": "c", "seq": 1}}',
            "invalid_op",
        ),
        (
            '{"type": "edit", "payload": {"version": 0, "op": [0, 1.5], "client_id": "c", "seq": 1}}',
            "invalid_op",
        ),
        (
            '{"type": "edit", "payload": {"version": 0, "op": [true], "client_id": "c", "seq": 1}}',
            "invalid_op",
        ),
        (
            '{"type": "edit", "payload": {"version": 7, "op": ["x"], "client_id": "c", "seq": 1}}',
            "version_ahead",
        ),
    ],
)
async def test_bad_input_gets_a_coded_error_and_changes_nothing(alice: User, frame: str, code: str) -> None:
    doc = await new_doc(alice, "hello")
    a = await join(doc.pk, alice)
    await a.comm.send_to(text_data=frame)
    err = await a.recv_type("error")
    assert err["payload"]["code"] == code
    assert isinstance(err["payload"]["message"], str) and len(err["payload"]["message"]) > 10
    await assert_unchanged_and_open(a, doc, ("hello", 0, 0))
    await a.close()


async def test_binary_frames_and_oversized_messages(alice: User) -> None:
    doc = await new_doc(alice, "hello")
    a = await join(doc.pk, alice)
    await a.comm.send_to(bytes_data=b'{"type": "ping", "payload": {}}')
    assert (await a.recv_type("error"))["payload"]["code"] == "invalid_message"
    big = json.dumps({"type": "edit", "payload": edit(0, ["x" * 300_000], 1)})
    await a.comm.send_to(text_data=big)
    assert (await a.recv_type("error"))["payload"]["code"] == "message_too_large"
    await assert_unchanged_and_open(a, doc, ("hello", 0, 0))
    await a.close()


async def test_document_too_large(alice: User, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "MAX_DOCUMENT_CHARS": 10}
    doc = await new_doc(alice, "hello")
    a = await join(doc.pk, alice)
    assert a.hello["payload"]["limits"]["max_document_chars"] == 10
    await a.send("edit", edit(0, [5, " world!"], 1))
    err = await a.recv_type("error")
    assert err["payload"]["code"] == "document_too_large"
    assert err["payload"]["ref"] == {"client_id": "c1", "seq": 1}
    await assert_unchanged_and_open(a, doc, ("hello", 0, 0))
    await a.close()


async def test_rate_limit_then_4429(alice: User, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "RATE_BURST": 5, "RATE_PER_SECOND": 1, "RATE_ABUSE_LIMIT": 10}
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    for i in range(5):
        await a.send("ping", {"i": i})
    for i in range(5):
        assert (await a.recv_type("pong"))["payload"] == {"i": i}
    await a.send("ping", {"i": 99})
    assert (await a.recv_type("error"))["payload"]["code"] == "rate_limited"
    for _ in range(12):
        await a.send("ping", {})
    codes = []
    while True:
        out = await a.comm.receive_output(3)
        if out["type"] == "websocket.close":
            break
        codes.append(json.loads(out["text"])["payload"]["code"])
    assert out["code"] == 4429 and "rate_limited" in codes


async def test_repeated_invalid_messages_close_4400(alice: User, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "INVALID_LIMIT": 5}
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    for _ in range(4):
        await a.comm.send_to(text_data="{")
        assert (await a.recv_type("error"))["payload"]["code"] == "invalid_json"
    await a.send("ping", {})
    assert (await a.recv_type("pong"))["type"] == "pong"  # still open below the limit
    await a.comm.send_to(text_data="{")
    assert (await a.recv_type("error"))["payload"]["code"] == "invalid_json"
    out = await a.comm.receive_output(3)
    while out["type"] != "websocket.close":
        out = await a.comm.receive_output(3)
    assert out["code"] == 4400


# -- live effects of REST writes, role changes and deletion --------------------
@database_sync_to_async
def rest_patch_content(doc: Document, user: User, content: str) -> None:
    from tests.conftest import client_for

    resp = client_for(user).patch(f"/api/documents/{doc.pk}/", {"content": content}, format="json")
    assert resp.status_code == 200, resp.content


async def test_rest_writes_reach_live_clients(alice: User) -> None:
    doc = await new_doc(alice, "hello")
    a = await join(doc.pk, alice)
    await rest_patch_content(doc, alice, "hello there")
    op = await a.recv_type("op")
    assert op["payload"]["version"] == 1 and op["payload"]["op"] == [5, " there"]
    await a.close()


async def test_member_removed_closes_4403_and_downgrade_sends_role(
    alice: User, bob: User, carol: User
) -> None:
    doc = await new_doc(alice, "x")
    await add_member(doc, bob, "editor")
    await add_member(doc, carol, "editor")
    b = await join(doc.pk, bob)
    c = await join(doc.pk, carol)
    await add_member(doc, carol, "viewer")
    role = await c.recv_type("role")
    assert role["payload"] == {"role": "viewer"}
    await c.send("edit", edit(0, ["no"], 1, "cc"))
    assert (await c.recv_type("error"))["payload"]["code"] == "forbidden"
    await database_sync_to_async(Membership.objects.filter(document=doc, user=bob).delete)()
    err = await b.recv_type("error")
    assert err["payload"]["code"] == "access_revoked"
    out = await b.comm.receive_output(3)
    assert out == {"type": "websocket.close", "code": 4403}
    await c.close()


async def test_a_downgrade_takes_effect_at_once(alice: User, bob: User) -> None:
    """An edit sent right after the role change committed (before the connection's re-check could
    finish) is refused by the new role, not committed with the old one."""
    doc = await new_doc(alice, "x")
    await add_member(doc, bob, "editor")
    b = await join(doc.pk, bob)
    await add_member(doc, bob, "viewer")
    await b.send("edit", edit(0, ["no"], 1, "bb"))
    assert (await b.recv_type("role"))["payload"] == {"role": "viewer"}
    assert (await b.recv_type("error"))["payload"]["code"] == "forbidden"
    assert (await database_sync_to_async(Document.objects.get)(pk=doc.pk)).version == 0
    await b.close()


async def test_document_deleted_closes_4410(alice: User, bob: User) -> None:
    doc = await new_doc(alice, "x", public_role="viewer")
    a = await join(doc.pk, alice)
    b = await join(doc.pk, bob)
    await database_sync_to_async(Document.objects.filter(pk=doc.pk).delete)()
    for client in (a, b):
        assert (await client.recv_type("error"))["payload"]["code"] == "document_deleted"
        out = await client.comm.receive_output(3)
        assert out == {"type": "websocket.close", "code": 4410}


# -- REST and admin writes reach the room after they commit --------------------------------
class Abort(Exception):
    pass


@database_sync_to_async
def commit_then_roll_back(request: editing.EditRequest) -> int:
    """``editing.commit`` inside an outer transaction that then rolls back: the version it got."""
    with contextlib.suppress(Abort), transaction.atomic():
        version = editing.commit(request).version
        raise Abort
    return version


async def test_an_edit_whose_transaction_rolls_back_never_reaches_the_room(alice: User) -> None:
    doc = await new_doc(alice, "")
    a = await join(doc.pk, alice)
    assert await commit_then_roll_back(editing.EditRequest(doc.pk, 0, ["lost"], user=alice)) == 1
    assert await a.nothing(0.5)
    assert await state(doc) == ("", 0, 0)
    await database_sync_to_async(editing.commit)(editing.EditRequest(doc.pk, 0, ["kept"], user=alice))
    message = await a.recv_type("op")
    assert (message["payload"]["version"], message["payload"]["op"]) == (1, ["kept"])
    assert await a.nothing()
    await a.close()


# -- ordering when deliveries are lost ----------------------------------------------
async def test_a_dropped_batch_is_filled_from_the_database(alice: User, bob: User) -> None:
    """Simulate the channel layer losing v1: the connection reads it back before sending v2."""
    doc = await new_doc(alice, "", public_role="editor")
    b = await join(doc.pk, bob)
    first = await commit_unpublished(editing.EditRequest(doc.pk, 0, ["a"], user=alice, client_id="x", seq=1))
    second = await commit_unpublished(
        editing.EditRequest(doc.pk, 1, [1, "b"], user=alice, client_id="x", seq=2)
    )
    hub().deliver_local(str(doc.pk), OpsCommitted(str(doc.pk), (OpItem.of(second),)))  # v1 was "dropped"
    got = []
    while len(got) < 2:
        message = await b.recv_type("op", "ops")
        got += message["payload"]["ops"] if message["type"] == "ops" else [message["payload"]]
    assert [o["version"] for o in got] == [first.version, second.version]
    hub().deliver_local(
        str(doc.pk), OpsCommitted(str(doc.pk), (OpItem.of(first),))
    )  # late duplicate: ignored
    assert await b.nothing()
    await b.close()


async def test_op_committed_between_snapshot_and_join_is_not_lost(alice: User) -> None:
    doc = await new_doc(alice, "")
    a = await join(doc.pk, alice)
    # commit without publishing, then publish only a later op: the gap is filled
    await commit_unpublished(editing.EditRequest(doc.pk, 0, ["1"], user=alice))
    later = await commit_unpublished(editing.EditRequest(doc.pk, 1, [1, "2"], user=alice))
    await hub().publish(str(doc.pk), OpsCommitted.of(str(doc.pk), [later]))
    msgs = [await a.recv_type("op", "ops")]
    versions = [
        o["version"] for m in msgs for o in (m["payload"]["ops"] if m["type"] == "ops" else [m["payload"]])
    ]
    if versions == [1]:
        nxt = await a.recv_type("op", "ops")
        versions += [
            o["version"] for o in (nxt["payload"]["ops"] if nxt["type"] == "ops" else [nxt["payload"]])
        ]
    assert versions == [1, 2]
    await a.close()


async def test_group_commit_gives_each_edit_its_own_version(alice: User) -> None:
    doc = await new_doc(alice, "", public_role="editor")
    clients = [await join(doc.pk, alice) for _ in range(5)]
    for i, c in enumerate(clients):
        await c.send("edit", edit(0, [str(i)], 1, f"c{i}"))
    versions = []
    for c in clients:
        message = await c.recv_type("ack", "op", "ops")
        while message["type"] != "ack":
            message = await c.recv_type("ack", "op", "ops")
        versions.append(message["payload"]["version"])
    assert sorted(versions) == [1, 2, 3, 4, 5]
    content, version, count = await state(doc)
    assert version == 5 and count == 5 and sorted(content) == list("01234")
    for c in clients:
        await c.close()


async def test_ping_pong_any_payload(alice: User) -> None:
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    await a.comm.send_to(text_data='{"type": "ping"}')
    assert (await a.recv_type("pong"))["payload"] == {}
    await a.send("ping", [1, "two"])
    assert (await a.recv_type("pong"))["payload"] == [1, "two"]
    await a.close()


async def test_disconnect_leaves_room_and_presence(alice: User) -> None:
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    assert len(hub().members(str(doc.pk))) == 1
    await a.close()
    await asyncio.sleep(0.05)
    assert hub().members(str(doc.pk)) == []
    from collab.realtime.presence_store import registry

    assert registry().entries(str(doc.pk)) == []


async def test_history_unavailable_when_too_far_behind(alice: User, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "SYNC_MAX_OPS": 2}
    doc = await new_doc(alice, "")
    a = await join(doc.pk, alice)
    for seq in range(1, 4):
        await a.send("edit", edit(seq - 1, ["x"], seq))
        await a.recv_type("ack")
    await a.send("sync", {"version": 0})
    err = await a.recv_type("error")
    assert err["payload"]["code"] == "history_unavailable" and err["payload"]["ref"] == "sync"
    await a.send("sync", {"version": 1})
    assert len((await a.recv_type("ops"))["payload"]["ops"]) == 2
    await a.close()


async def test_a_handler_crash_is_a_server_error_and_the_connection_stays(
    alice: User, monkeypatch: Any
) -> None:
    from collab.text import handlers

    async def broken(conn: Any, message: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(handlers.REGISTRY, "presence", broken)
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    await a.send("presence", {"status": "idle"})
    err = await a.recv_type("error")
    assert err["payload"]["code"] == "server_error" and "boom" not in err["payload"]["message"]
    await assert_unchanged_and_open(a, doc, ("hello", 0, 0))
    await a.close()


async def test_public_role_and_owner_changes_reach_live_connections(alice: User, bob: User) -> None:
    doc = await new_doc(alice, "x", public_role="editor")
    b = await join(doc.pk, bob)
    assert b.hello["payload"]["role"] == "editor"
    doc.public_role = "viewer"
    await database_sync_to_async(doc.save)()
    assert (await b.recv_type("role"))["payload"] == {"role": "viewer"}
    doc.owner = bob
    await database_sync_to_async(doc.save)()
    assert (await b.recv_type("role"))["payload"] == {"role": "owner"}
    await b.close()


async def test_room_events_before_hello_are_held_and_the_connection_stays_responsive(
    alice: User, monkeypatch: Any
) -> None:
    """A presence diff that lands while a connection is still joining comes after hello (unless
    the presence hello shows was read after it), and neither it nor anything else makes the
    connection ignore what the client sends."""
    from collab.text import consumer as consumers

    doc = await new_doc(alice, "")
    join_presence, call = consumers.join_presence, consumers.call

    async def join_then_a_diff(document_id: str, entry: Any) -> Any:
        stored = await join_presence(document_id, entry)
        hub().deliver_local(document_id, PresenceChanged(document_id, left=["before-the-snapshot"]))
        return stored

    async def snapshot_then_a_diff(fn: Any, *args: Any) -> Any:
        out = await call(fn, *args)
        if fn.__name__ == "entries":  # the presence hello shows
            hub().deliver_local(args[0], PresenceChanged(args[0], left=["after-the-snapshot"]))
        return out

    monkeypatch.setattr(consumers, "join_presence", join_then_a_diff)
    monkeypatch.setattr(consumers, "call", snapshot_then_a_diff)
    a = await join(doc.pk, alice)  # join() asserts hello comes first
    assert (await a.recv_type("presence"))["payload"]["left"] == ["after-the-snapshot"]
    await a.send("edit", edit(0, ["ok"], 1))
    assert (await a.recv_type("ack"))["payload"]["version"] == 1
    await a.close()


async def test_an_op_committed_while_a_client_joins_is_delivered_after_hello(
    alice: User, monkeypatch: Any
) -> None:
    from collab import access

    doc = await new_doc(alice, "")
    original = access.resolve_documents  # the read behind every hello

    def snapshot_then_someone_commits(requests: Any) -> Any:
        state = original(requests)  # hello will show version 0...
        editing.commit(editing.EditRequest(str(doc.pk), 0, ["x"], user=alice))  # ...v1 lands now
        return state

    monkeypatch.setattr(access, "resolve_documents", snapshot_then_someone_commits)
    a = await join(doc.pk, alice)
    assert a.hello["payload"]["document"]["version"] == 0
    op = await a.recv_type("op", "ops")
    versions = [o["version"] for o in (op["payload"]["ops"] if op["type"] == "ops" else [op["payload"]])]
    assert versions == [1]
    await a.close()


async def test_a_failure_while_joining_closes_1011_and_leaves_no_ghost(alice: User, monkeypatch: Any) -> None:
    from collab.text import consumer as consumers

    async def broken(document_id: str, entry: Any) -> None:
        raise ConnectionError("presence store down")

    monkeypatch.setattr(consumers, "join_presence", broken)
    doc = await new_doc(alice)
    comm = await open_ws(doc.pk, alice)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    error = json.loads(await comm.receive_from(5))
    assert error["payload"]["code"] == "server_error"
    assert await comm.receive_output(5) == {"type": "websocket.close", "code": 1011}
    assert hub().members(str(doc.pk)) == []


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "ping", "payload": {"x": NaN}}', "invalid_json"),
        ('{"type": "ping", "payload": {"x": Infinity}}', "invalid_json"),
        (
            '{"type": "edit", "payload": {"version": 0, "op": ["a\\u0000"], "client_id": "c", "seq": 1}}',
            "invalid_op",
        ),
        (
            '{"type": "edit", "payload": {"version": 0, "op": ["a"], "client_id": "\\ud800", "seq": 1}}',
            "invalid_message",
        ),
        ('{"type": "presence", "payload": {"meta": {"k": "\\udc00"}}}', "invalid_message"),
    ],
)
async def test_input_that_cannot_be_stored_or_echoed_is_refused(alice: User, frame: str, code: str) -> None:
    doc = await new_doc(alice, "hello")
    a = await join(doc.pk, alice)
    await a.comm.send_to(text_data=frame)
    assert (await a.recv_type("error"))["payload"]["code"] == code
    await assert_unchanged_and_open(a, doc, ("hello", 0, 0))
    await a.close()


async def test_a_ping_with_a_lone_surrogate_is_still_answered(alice: User) -> None:
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    await a.comm.send_to(text_data='{"type": "ping", "payload": {"s": "\\ud800"}}')
    raw = await a.comm.receive_from(3)
    assert raw.isascii() and json.loads(raw) == {"type": "pong", "payload": {"s": "\ud800"}}
    await a.close()


async def test_rate_limited_errors_name_the_dropped_edit(alice: User, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "RATE_BURST": 1, "RATE_PER_SECOND": 0.01}
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    await a.send("ping", {})
    await a.recv_type("pong")
    await a.send("edit", edit(0, ["x"], 9, "dropped"))
    error = await a.recv_type("error")
    assert error["payload"]["code"] == "rate_limited"
    assert error["payload"]["ref"] == {"client_id": "dropped", "seq": 9}
    await a.close()
