"""Presence: one contract suite for both registries, then diffs, cursors and the presence room over WebSockets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from collab.conf import collab_settings
from collab.realtime.presence_store import LocalPresence, PresenceRegistry, RedisPresence, registry
from project.asgi import application
from tests.test_consumers import add_member, edit, join, new_doc, token_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(session: str, **extra: Any) -> dict[str, Any]:
    return {
        "session": session, "user": {"id": 1, "name": "a", "color": "#000"}, "role": "editor",
        "status": "active", "meta": {}, "cursor": None, "joined_at": f"2026-01-01T00:00:0{session[-1]}", **extra,
    }  # fmt: skip


@pytest.fixture(params=["local", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[PresenceRegistry, Clock, Any]]:
    clock = Clock()
    if request.param == "local":
        reg: PresenceRegistry = LocalPresence(ttl=30, clock=clock)

        def twin() -> PresenceRegistry:
            return reg

        yield reg, clock, twin
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    reg = RedisPresence(url, ttl=30, clock=clock, prefix=prefix)

    def redis_twin() -> PresenceRegistry:  # a second process sharing the same Redis
        return RedisPresence(url, ttl=30, clock=clock, prefix=prefix)

    yield reg, clock, redis_twin
    reg.clear()


DOC = "doc-1"


def test_join_entries_update_leave(backend: Any) -> None:
    reg, _, _ = backend
    reg.join(DOC, entry("s1"))
    reg.join(DOC, entry("s2"))
    reg.join("other", entry("s3"))
    assert [e["session"] for e in reg.entries(DOC)] == ["s1", "s2"]
    updated = reg.update(DOC, "s2", {"status": "idle", "meta": {"k": 1}})
    assert updated is not None and updated["status"] == "idle" and updated["meta"] == {"k": 1}
    assert reg.entries(DOC)[1]["status"] == "idle"
    assert reg.update(DOC, "nobody", {"status": "idle"}) is None
    assert reg.leave(DOC, "s1") is True
    assert reg.leave(DOC, "s1") is False
    assert [e["session"] for e in reg.entries(DOC)] == ["s2"]
    assert [e["session"] for e in reg.entries("other")] == ["s3"]


def test_leases_expire_and_renewal_keeps_them(backend: Any) -> None:
    reg, clock, _ = backend
    reg.join(DOC, entry("s1"))
    reg.join(DOC, entry("s2"))
    clock.now += 20
    reg.renew(DOC, ["s1"])
    clock.now += 15  # s2's lease (30 s) ran out, s1 was renewed 15 s ago
    assert [e["session"] for e in reg.entries(DOC)] == ["s1"]
    assert reg.sweep(DOC) == ["s2"]
    assert reg.sweep(DOC) == []
    assert reg.update(DOC, "s2", {"status": "idle"}) is None
    reg.leave(DOC, "s2")
    assert reg.renew(DOC, ["s2"]) == []  # renewing a session that left does not bring it back
    assert [e["session"] for e in reg.entries(DOC)] == ["s1"]


def test_renew_recreates_the_entries_the_store_lost(backend: Any) -> None:
    """A lease swept while this process could not renew it, or a store that restarted empty:
    the process's live connections come back, with their latest state, and are returned."""
    reg, clock, twin = backend
    other = twin()  # another process sharing the store (the same registry for process memory)
    shared = other is not reg
    reg.join(DOC, entry("s1"))
    reg.join(DOC, entry("s2"))
    if shared:
        other.join(DOC, entry("s3"))
    reg.update(DOC, "s2", {"status": "idle"})
    clock.now += 31  # nobody renewed: every lease ran out, a sweeper removed them all
    assert sorted(other.sweep(DOC)) == ["s1", "s2", "s3"][: 3 if shared else 2]
    assert reg.entries(DOC) == []
    back = reg.renew(DOC, ["s1", "s2", "s3"])
    assert sorted(e["session"] for e in back) == ["s1", "s2"]  # s3 is the other's to bring back
    assert next(e for e in back if e["session"] == "s2")["status"] == "idle"
    assert [e["session"] for e in reg.entries(DOC)] == ["s1", "s2"]
    if shared:
        assert [e["session"] for e in other.renew(DOC, ["s3"])] == ["s3"]
    assert reg.renew(DOC, ["s1", "s2"]) == []  # present now: only extended
    assert [e["session"] for e in other.entries(DOC)] == ["s1", "s2", "s3"][: 3 if shared else 2]
    clock.now += 20
    assert reg.sweep(DOC) == []  # the re-created leases are fresh


def test_a_lease_is_announced_by_exactly_one_sweeper(backend: Any) -> None:
    reg, clock, twin = backend
    other = twin()
    for i in range(5):
        reg.join(DOC, entry(f"s{i}"))
    clock.now += 31
    gone = reg.sweep(DOC) + other.sweep(DOC) + reg.sweep(DOC)
    assert sorted(gone) == [f"s{i}" for i in range(5)]  # each exactly once


def test_registry_matches_settings(settings: Any) -> None:
    assert isinstance(registry(), LocalPresence)  # no REDIS_URL in the test settings
    ttl, beat = collab_settings["PRESENCE_TTL"], collab_settings["PRESENCE_HEARTBEAT"]
    assert ttl + beat <= 60  # a dead process's sessions leave within 60 s


# -- over WebSockets -----------------------------------------------------------
pytestmark_ws = [pytest.mark.django_db(transaction=True)]


def diff(message: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    p = message["payload"]
    return [e["session"] for e in p["joined"]], p["left"], [e["session"] for e in p["updated"]]


@pytest.mark.django_db(transaction=True)
async def test_join_update_leave_diffs_with_three_clients(alice: User, bob: User, carol: User) -> None:
    doc = await new_doc(alice, public_role="viewer")
    a = await join(doc.pk, alice)
    b = await join(doc.pk, bob)
    sb = b.hello["payload"]["session"]
    assert diff(await a.recv_type("presence")) == ([sb], [], [])
    c = await join(doc.pk, carol)
    sc = c.hello["payload"]["session"]
    assert len(c.hello["payload"]["presence"]) == 3
    for client in (a, b):
        assert diff(await client.recv_type("presence")) == ([sc], [], [])
    await b.send("presence", {"status": "idle", "meta": {"typing": False}})
    for client in (a, c):
        message = await client.recv_type("presence")
        assert diff(message) == ([], [], [sb])
        assert message["payload"]["updated"][0]["status"] == "idle"
        assert message["payload"]["updated"][0]["meta"] == {"typing": False}
    assert (await b.recv_type("presence"))["payload"]["updated"][0]["session"] == sb  # sender sees it too
    await c.close()
    for client in (a, b):
        assert diff(await client.recv_type("presence")) == ([], [sc], [])
    entries = await database_sync_to_async(rest_presence)(doc.pk, alice)
    assert sorted(e["session"] for e in entries) == sorted([a.hello["payload"]["session"], sb])
    assert {e["role"] for e in entries} == {"owner", "viewer"}
    await a.close()
    await b.close()


async def pair_in_room(alice: User, bob: User, content: str) -> tuple[Any, Any, Any]:
    """A public (editor) document with alice and bob in it; alice has seen bob join."""
    doc = await new_doc(alice, content, public_role="editor")
    a = await join(doc.pk, alice)
    b = await join(doc.pk, bob)
    await a.recv_type("presence")
    return doc, a, b


def rest_presence(doc_id: Any, user: User) -> list[dict[str, Any]]:
    from tests.conftest import client_for

    resp = client_for(user).get(f"/api/documents/{doc_id}/presence/")
    assert resp.status_code == 200
    return list(resp.json())


@pytest.mark.django_db(transaction=True)
async def test_meta_over_one_kib_is_refused(alice: User) -> None:
    doc = await new_doc(alice)
    a = await join(doc.pk, alice)
    await a.send("presence", {"status": "active", "meta": {"x": "y" * 1100}})
    err = await a.recv_type("error")
    assert err["payload"]["code"] == "invalid_message" and "meta" in err["payload"]["message"]
    assert registry().entries(str(doc.pk))[0]["meta"] == {}
    await a.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("op", "cursor", "expected"),
    [
        (["ab"], (3, 3), (5, 5)),  # insert before the cursor shifts it
        ([3, "ab"], (3, 3), (3, 3)),  # insert at the cursor (someone else's) leaves it before
        ([1, -4], (3, 3), (1, 1)),  # delete spanning the cursor moves it to the delete start
        ([1, -1], (2, 4), (1, 3)),  # a selection shrinks from the left
        ([4, "xyz"], (2, 6), (2, 9)),  # an insert inside a selection widens it
    ],
)
async def test_cursors_are_transformed_to_the_current_version(
    alice: User, bob: User, op: list[Any], cursor: tuple[int, int], expected: tuple[int, int]
) -> None:
    doc, a, b = await pair_in_room(alice, bob, "0123456789")
    await a.send("edit", edit(0, op, 1))
    await a.recv_type("ack")
    await b.recv_type("op")
    # b's cursor was set at version 0, before a's edit: the server moves it
    await b.send("cursor", {"version": 0, "anchor": cursor[0], "head": cursor[1]})
    shown = await a.recv_type("cursor")
    p = shown["payload"]
    assert (p["version"], p["anchor"], p["head"]) == (1, *expected)
    assert p["session"] == b.hello["payload"]["session"] and p["user"]["id"] == bob.pk
    assert await b.nothing()  # not echoed to the sender
    stored = next(e for e in registry().entries(str(doc.pk)) if e["session"] == p["session"])
    assert stored["cursor"] == {"version": 1, "anchor": expected[0], "head": expected[1]}
    await a.close()
    await b.close()


@pytest.mark.django_db(transaction=True)
async def test_cursor_beyond_the_text_is_clamped_and_hide_works(alice: User, bob: User) -> None:
    _doc, a, b = await pair_in_room(alice, bob, "abc")
    await b.send("cursor", {"version": 0, "anchor": 1, "head": 99})
    p = (await a.recv_type("cursor"))["payload"]
    assert (p["anchor"], p["head"]) == (1, 3)
    await asyncio.sleep(0.06)
    await b.send("cursor", {"version": 0, "anchor": None, "head": None})
    p = (await a.recv_type("cursor"))["payload"]
    assert (p["anchor"], p["head"]) == (None, None)
    await b.send("cursor", {"version": 5, "anchor": 0, "head": 0})
    assert (await b.recv_type("error"))["payload"]["code"] == "version_ahead"
    await a.close()
    await b.close()


@pytest.mark.django_db(transaction=True)
async def test_stored_cursors_are_transformed_on_read_for_later_joiners(alice: User, bob: User) -> None:
    doc = await new_doc(alice, "abcdef", public_role="editor")
    b = await join(doc.pk, bob)
    await b.send("cursor", {"version": 0, "anchor": 4, "head": 4})
    await asyncio.sleep(0.2)
    a = await join(doc.pk, alice)
    await a.send("edit", edit(0, ["XY"], 1))
    await a.recv_type("ack")
    c = await join(doc.pk, alice)  # joins at version 1: b's cursor (stored at 0) is shown at 1
    mine = next(e for e in c.hello["payload"]["presence"] if e["session"] == b.hello["payload"]["session"])
    assert mine["cursor"] == {"version": 1, "anchor": 6, "head": 6}
    for client in (a, b, c):
        await client.close()


@pytest.mark.django_db(transaction=True)
async def test_cursor_broadcasts_are_coalesced(alice: User, bob: User) -> None:
    _doc, a, b = await pair_in_room(alice, bob, "x" * 200)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(100):  # 100 cursor messages over one second
        await b.send("cursor", {"version": 0, "anchor": i, "head": i})
        await asyncio.sleep(0.01)
    received: list[tuple[float, int]] = []
    while not await a.nothing(0.5):
        message = await a.recv()
        if message["type"] == "cursor":
            received.append((loop.time() - started, message["payload"]["anchor"]))
    elapsed = loop.time() - started
    assert received[-1][1] == 99  # the last position arrives
    assert len(received) <= 20 * elapsed + 2, (len(received), elapsed)
    assert len(received) >= 5  # and they do flow while typing, not only at the end
    anchors = [anchor for _, anchor in received]
    assert anchors == sorted(anchors)
    await a.close()
    await b.close()


# -- the presence room ----------------------------------------------------------
async def watch(user: User | None) -> WebsocketCommunicator:
    query = f"?token={await database_sync_to_async(token_of)(user)}" if user else ""
    comm = WebsocketCommunicator(application, f"/ws/presence/{query}")
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


async def next_json(comm: WebsocketCommunicator) -> dict[str, Any]:
    return dict(json.loads(await comm.receive_from(3)))


@pytest.mark.django_db(transaction=True)
async def test_presence_room_subscribe_diffs_and_refusals(alice: User, bob: User, carol: User) -> None:
    readable = await new_doc(alice, title="shared")
    await add_member(readable, carol, "viewer")
    hidden = await new_doc(alice, title="private")
    a = await join(readable.pk, alice)
    w = await watch(carol)
    await w.send_to(
        text_data=json.dumps(
            {"type": "subscribe", "payload": {"documents": [str(readable.pk), str(hidden.pk), "nope"]}}
        )
    )
    error = await next_json(w)
    assert error["payload"]["code"] == "not_found"
    assert sorted(error["payload"]["ref"]["documents"]) == sorted([str(hidden.pk), "nope"])
    current = await next_json(w)
    assert current["type"] == "presence" and current["payload"]["document"] == str(readable.pk)
    assert [e["session"] for e in current["payload"]["joined"]] == [a.hello["payload"]["session"]]
    assert (await next_json(w))["payload"] == {"documents": [str(readable.pk)]}
    b = await join(readable.pk, alice)
    joined = await next_json(w)
    assert joined["payload"]["document"] == str(readable.pk)
    assert [e["session"] for e in joined["payload"]["joined"]] == [b.hello["payload"]["session"]]
    # presence in a document carol cannot read never reaches her
    h = await join(hidden.pk, alice)
    assert await w.receive_nothing(0.3)
    await w.send_to(
        text_data=json.dumps({"type": "unsubscribe", "payload": {"documents": [str(readable.pk)]}})
    )
    assert (await next_json(w))["payload"] == {"documents": []}
    await b.close()
    assert await w.receive_nothing(0.3)
    for client in (a, h):
        await client.close()
    await w.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_presence_room_rejects_bad_messages(alice: User) -> None:
    w = await watch(alice)
    await w.send_to(text_data='{"type": "subscribe", "payload": {"documents": []}}')
    assert (await next_json(w))["payload"]["code"] == "invalid_message"
    await w.send_to(text_data='{"type": "edit", "payload": {}}')
    assert (await next_json(w))["payload"]["code"] == "unknown_type"
    await w.send_to(text_data='{"type": "ping", "payload": {"a": 1}}')
    assert await next_json(w) == {"type": "pong", "payload": {"a": 1}}
    await w.disconnect()


# -- the admin as a live console ------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_admin_shows_who_is_connected_and_closes_a_session(alice: User, bob: User, client: Any) -> None:
    admin = await database_sync_to_async(User.objects.create_superuser)("root", "root@example.com", "root-pw")
    doc = await new_doc(alice, public_role="viewer")
    a = await join(doc.pk, alice)
    b = await join(doc.pk, bob)
    session = b.hello["payload"]["session"]
    await database_sync_to_async(client.force_login)(admin)
    page = await database_sync_to_async(client.get)(f"/admin/collab/document/{doc.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Alice Liddell" in html and "bob" in html and "viewer" in html and "active" in html
    url = f"/admin/collab/document/{doc.pk}/close-session/{session}/"
    confirm = await database_sync_to_async(client.get)(url)
    assert confirm.status_code == 200 and "Close <strong>bob</strong>" in confirm.content.decode()
    done = await database_sync_to_async(client.post)(url)
    assert done.status_code == 302
    error = await b.recv_type("error")
    assert error["payload"]["code"] == "session_closed" and "administrator" in error["payload"]["message"]
    assert await b.comm.receive_output(3) == {"type": "websocket.close", "code": 4001}
    message = await a.recv_type("presence")
    while not message["payload"]["left"]:  # (b's join came first)
        message = await a.recv_type("presence")
    assert message["payload"]["left"] == [session]  # the others are told
    await a.close()


@pytest.mark.django_db(transaction=True)
async def test_own_insert_at_the_cursor_moves_it_after_the_typed_text(alice: User, bob: User) -> None:
    _doc, a, b = await pair_in_room(alice, bob, "0123456789")
    await b.send("edit", edit(0, [3, "ab"], 1, "cb"))  # bob types at his caret...
    await b.recv_type("ack")
    await a.recv_type("op")
    await b.send("cursor", {"version": 0, "anchor": 3, "head": 3})  # ...which he placed at version 0
    p = (await a.recv_type("cursor"))["payload"]
    assert (p["version"], p["anchor"], p["head"]) == (1, 5, 5)
    await a.close()
    await b.close()


# -- a connection's feed of presence diffs ----------------------------------------
async def test_a_feed_sends_the_shared_frame_and_merges_while_behind(settings: Any) -> None:
    from collab.realtime.events import PresenceChanged
    from collab.realtime.outbox import Outbox
    from collab.realtime.presence import PresenceFeed
    from tests.support.fakes import FakeSink

    settings.COLLAB = {**settings.COLLAB, "SLOW_CLIENT_BUFFER_BYTES": 100}
    sink = FakeSink()
    feed = PresenceFeed(Outbox(_unused_send, sink), "d")
    first = PresenceChanged("d", joined=[entry("s1")])
    feed.offer(first)
    assert sink.out == [first.memo["plain"]]  # the frame every subscriber shares
    sink.buffer = 1000  # behind: diffs are merged, not queued one by one
    feed.offer(PresenceChanged("d", joined=[entry("s2")]))
    feed.offer(PresenceChanged("d", updated=[entry("s2", status="idle")]))
    feed.offer(PresenceChanged("d", updated=[entry("s1", status="idle")]))
    for i in range(500):
        feed.offer(PresenceChanged("d", updated=[entry("s1", meta={"i": i})]))
    feed.offer(PresenceChanged("d", joined=[entry("s3")]))
    feed.offer(PresenceChanged("d", left=["s3"]))  # came and went unseen
    feed.offer(PresenceChanged("d", left=["s4"]))
    assert len(sink.out) == 1
    sink.buffer = 0
    await asyncio.sleep(0.1)
    assert len(sink.out) == 2
    merged = json.loads(sink.out[1])["payload"]
    assert [(e["session"], e["status"]) for e in merged["joined"]] == [("s2", "idle")]
    assert [(e["session"], e["meta"]) for e in merged["updated"]] == [("s1", {"i": 499})]
    assert merged["left"] == ["s4"]
    feed.offer(PresenceChanged("d", left=["s2"]))  # caught up: shared frames again
    assert json.loads(sink.out[2])["payload"]["left"] == ["s2"]


async def _unused_send(message: Any) -> None:
    raise AssertionError(message)
