"""The stock Yjs providers against a live server (daphne and uvicorn): PROTOCOL.md section 8.

Real ``WebsocketProvider`` (y-websocket) and ``HocuspocusProvider`` (@hocuspocus/provider 2.x, 3.x
and 4.x) processes co-edit one document over both endpoints; the tests check what a user of those
stock clients would see: convergence with the REST ``content``, durability once ``unsyncedChanges``
is 0 (``kill -9`` of the server), awareness across endpoints and its removal, viewers, access
changes and the close codes and denials of section 8.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live import LiveServer
from tests.yjs.drivers import Driver, hocuspocus, ywebsocket

pytestmark = [pytest.mark.live, pytest.mark.slow]

ALPHABET = "abc xyz\né😀🎉👍🏽"  # 👍🏽 is two code points: a position may fall between them


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server for the module, per ASGI server, with users alice, bob, carol, dave."""
    live = LiveServer(tmp_path_factory.mktemp(f"yjs-{request.param}"), server=request.param).start()
    live.tokens = live.create_users("alice", "bob", "carol", "dave")  # type: ignore[attr-defined]
    yield live
    live.stop()


def tokens(server: LiveServer) -> dict[str, str]:
    return server.tokens  # type: ignore[attr-defined,no-any-return]


def create(
    server: LiveServer, owner: str, *, kind: str = "yjs", public_role: str = "none", title: str = "y"
) -> str:
    status, doc = server.request(
        "POST", "/api/documents/", token=tokens(server)[owner],
        json_body={"title": title, "kind": kind, "public_role": public_role},
    )  # fmt: skip
    assert status == 201, doc
    assert doc["kind"] == kind, doc
    return str(doc["id"])


def rest(server: LiveServer, doc_id: str, user: str = "alice") -> dict[str, Any]:
    status, doc = server.request("GET", f"/api/documents/{doc_id}/", token=tokens(server)[user])
    assert status == 200, doc
    return dict(doc)


def converge(server: LiveServer, doc_id: str, clients: list[Driver], timeout: float = 30) -> str:
    """Wait until every client holds REST's ``content``; return it."""
    deadline = time.monotonic() + timeout
    while True:
        expected = rest(server, doc_id)["content"]
        texts = [c.text() for c in clients]
        if all(t == expected for t in texts):
            return str(expected)
        if time.monotonic() > deadline:
            raise AssertionError(f"clients did not converge on REST's {expected!r}: {texts!r}")
        time.sleep(0.1)


def random_edit(rng: random.Random, client: Driver, length: int) -> int:
    """One random insert or delete (by code point, cut to the text's length as it is when the edit
    is made: others' edits keep arriving); the new length of the client's text."""
    if length and rng.random() < 0.35:
        at = rng.randrange(length)
        text = client.call("delete", index=at, length=rng.randint(1, 3), clamp=True)["text"]
    else:
        piece = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 4)))
        text = client.call("insert", index=rng.randint(0, length), text=piece, clamp=True)["text"]
    return len(text)


# -- convergence and durability ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_random_editing_with_emoji_converges_across_both_endpoints_and_equals_rest(
    server: LiveServer, seed: int
) -> None:
    t = tokens(server)
    doc_id = create(server, "alice", public_role="editor")
    rng = random.Random(seed)
    with (
        ywebsocket(server, doc_id, t["alice"]) as a,
        ywebsocket(server, doc_id) as b,  # anonymous: public_role editor
        hocuspocus(server, [doc_id], t["bob"], version="4") as c,
        hocuspocus(server, [doc_id], t["carol"], version="3") as d,
        hocuspocus(server, [doc_id], t["dave"], version="2") as e,
    ):
        clients = [a, b, c, d, e]
        for client in clients:
            client.call("wait_synced")
        lengths = [0] * len(clients)
        for _ in range(25):  # rounds: every client edits without waiting for the others
            for i, client in enumerate(clients):
                lengths[i] = random_edit(rng, client, lengths[i])
            if rng.random() < 0.3:
                time.sleep(0.02)
        for client in (c, d, e):
            client.call("wait_saved", timeout=20)
        final = converge(server, doc_id, clients)
        assert final and any(ch in final for ch in "😀🎉👍🏽é"), final
        # every client holds the same Yjs state, not only the same text: their updates apply as no-ops
        state = a.call("state")["state"]
        for client in clients[1:]:
            assert client.call("apply", update=state)["text"] == final
    assert rest(server, doc_id)["version"] >= 1


def test_kill_9_after_unsynced_changes_reached_zero_loses_nothing(server: LiveServer) -> None:
    t = tokens(server)
    doc_id = create(server, "alice")
    expected = ""
    for burst in range(3):
        with hocuspocus(server, [doc_id], t["alice"]) as writer:
            writer.call("wait_synced", timeout=30)
            assert writer.text() == expected  # what was acknowledged before the last kill is there
            for i in range(20):
                expected = writer.call("insert", index=len(expected), text=f"{burst}.{i}😀 ")["text"]
            writer.call("wait_saved")
            server.kill()  # SIGKILL at once: only what was stored before SyncStatus 1 survives
        server.start()
    with ywebsocket(server, doc_id, t["alice"]) as reader:
        reader.call("wait_synced", timeout=30)
        assert reader.text() == expected
    assert rest(server, doc_id)["content"] == expected


# -- awareness ------------------------------------------------------------------------------------


def test_awareness_is_seen_across_both_endpoints_and_removed_after_close_or_crash(server: LiveServer) -> None:
    t = tokens(server)
    doc_id = create(server, "alice", public_role="editor")
    a = ywebsocket(server, doc_id, t["alice"], awareness={"user": {"name": "alice"}})
    b = hocuspocus(server, [{"name": doc_id, "awareness": {"user": {"name": "bob"}}}], t["bob"])
    try:
        a.call("wait_synced")
        b.call("wait_synced")
        a_id = a.call("awareness_get")["client_id"]
        b_id = b.call("awareness_get")["client_id"]

        def sees(client: Driver, other: int, state: Any) -> bool:
            return client.call("awareness_get")["states"].get(str(other)) == state

        a.wait_for(lambda: sees(a, b_id, {"user": {"name": "bob"}}), what="alice to see bob")
        b.wait_for(lambda: sees(b, a_id, {"user": {"name": "alice"}}), what="bob to see alice")
        a.call("awareness_set", field="cursor", value={"anchor": 1, "head": 2})
        b.wait_for(lambda: sees(b, a_id, {"user": {"name": "alice"}, "cursor": {"anchor": 1, "head": 2}}))
        status, presence = server.request("GET", f"/api/documents/{doc_id}/presence/", token=t["alice"])
        assert status == 200 and len(presence) == 2, presence

        # a newcomer gets everyone's state at once (y-websocket and Hocuspocus clients alike)
        with hocuspocus(server, [doc_id], t["carol"], version="2") as c:
            c.call("wait_synced")
            c.wait_for(lambda: sees(c, a_id, {"user": {"name": "alice"}, "cursor": {"anchor": 1, "head": 2}}))
            c.wait_for(lambda: sees(c, b_id, {"user": {"name": "bob"}}))

        # a clean close: bob's provider is destroyed; alice is told his client is gone
        b.close()
        a.wait_event("awareness", removed=[b_id], timeout=60)
        assert str(b_id) not in a.call("awareness_get")["states"]

        # a crash: the process dies without a close frame; the others are told within 60 s
        with hocuspocus(server, [doc_id], t["dave"]) as d:
            d.call("wait_synced")
            d.wait_for(lambda: sees(d, a_id, {"user": {"name": "alice"}, "cursor": {"anchor": 1, "head": 2}}))
            a.kill()
            d.wait_event("awareness", removed=[a_id], timeout=60)
            assert str(a_id) not in d.call("awareness_get")["states"]
            server_presence = server.request("GET", f"/api/documents/{doc_id}/presence/", token=t["alice"])[1]
            assert len(server_presence) == 1, server_presence  # dave alone
    finally:
        a.close()
        b.close()


# -- roles ----------------------------------------------------------------------------------------


def test_a_viewers_edits_are_not_applied_on_either_endpoint(server: LiveServer) -> None:
    t = tokens(server)
    doc_id = create(server, "alice", public_role="viewer")
    with (
        ywebsocket(server, doc_id, t["alice"]) as owner,
        ywebsocket(server, doc_id, t["carol"]) as viewer_ws,
        hocuspocus(server, [doc_id], t["dave"]) as viewer_hp,
    ):
        for client in (owner, viewer_ws, viewer_hp):
            client.call("wait_synced")
        assert viewer_hp.wait_event("authenticated")["scope"] == "readonly"
        owner.call("insert", index=0, text="owner's 😀")
        viewer_ws.wait_for(lambda: viewer_ws.text() == "owner's 😀")
        viewer_hp.wait_for(lambda: viewer_hp.text() == "owner's 😀")

        viewer_ws.call("insert", index=0, text="WS-VIEWER ")
        viewer_hp.call("insert", index=0, text="HP-VIEWER ")
        # answered SyncStatus 0: the Hocuspocus viewer's change stays unsynced
        time.sleep(1.5)
        assert viewer_hp.call("info")["unsynced"] >= 1
        owner.call("insert", index=len("owner's 😀"), text="!")  # later edits still flow
        viewer_ws.wait_for(lambda: viewer_ws.text().endswith("owner's 😀!"))
        assert owner.text() == "owner's 😀!"
        assert rest(server, doc_id)["content"] == "owner's 😀!"
        with hocuspocus(server, [doc_id], t["alice"]) as fresh:
            fresh.call("wait_synced")
            assert fresh.text() == "owner's 😀!"  # nothing of the viewers' edits was stored


def test_revocation_downgrade_and_delete_take_effect_live(server: LiveServer) -> None:
    t = tokens(server)
    doc_id = create(server, "alice")
    for name, role in (("bob", "editor"), ("carol", "editor")):
        status, body = server.request(
            "POST",
            f"/api/documents/{doc_id}/members/",
            token=t["alice"],
            json_body={"username": name, "role": role},
        )
        assert status == 201, body
    owner = ywebsocket(server, doc_id, t["alice"])
    bob_ws = ywebsocket(server, doc_id, t["bob"])
    bob_hp = hocuspocus(server, [doc_id], t["bob"])
    carol = ywebsocket(server, doc_id, t["carol"])
    carol_hp = hocuspocus(server, [doc_id], t["carol"])
    clients = (owner, bob_ws, bob_hp, carol, carol_hp)
    try:
        for client in clients:
            client.call("wait_synced")
        carol.call("insert", index=0, text="carol ")
        owner.wait_for(lambda: owner.text() == "carol ")
        carol_hp.wait_for(lambda: carol_hp.text() == "carol ")

        # carol is downgraded to viewer: her later updates are ignored on both endpoints (Hocuspocus
        # tells her provider the new scope and answers SyncStatus 0), she stays connected
        status, _ = server.request(
            "PATCH", f"/api/documents/{doc_id}/members/carol/", token=t["alice"], json_body={"role": "viewer"}
        )
        assert status == 200
        carol_hp.wait_event("authenticated", scope="readonly", timeout=10)

        def carol_is_a_viewer_everywhere() -> bool:  # each connection rechecks her role on its own
            entries = server.request("GET", f"/api/documents/{doc_id}/presence/", token=t["alice"])[1]
            roles = [e["role"] for e in entries if e["user"]["name"] == "carol"]
            return len(roles) == 2 and set(roles) == {"viewer"}

        owner.wait_for(carol_is_a_viewer_everywhere, what="carol's connections to see her new role")
        carol.call("insert", index=0, text="IGNORED ")
        carol_hp.call("insert", index=0, text="HP-IGNORED ")
        owner.call("insert", index=len("carol "), text="owner")
        carol.wait_for(lambda: carol.text().endswith("carol owner"))
        carol_hp.wait_for(lambda: carol_hp.text().endswith("carol owner"))
        assert owner.text() == "carol owner"
        assert carol_hp.call("info")["unsynced"] >= 1  # answered SyncStatus 0

        # bob is removed: cut off on both endpoints
        status, _ = server.request("DELETE", f"/api/documents/{doc_id}/members/bob/", token=t["alice"])
        assert status == 204
        assert bob_ws.wait_event("closed", timeout=10)["code"] == 4403
        bob_hp.wait_event("authenticationFailed", timeout=10)
        assert rest(server, doc_id)["content"] == "carol owner"

        # the document is deleted: 4410
        status, _ = server.request("DELETE", f"/api/documents/{doc_id}/", token=t["alice"])
        assert status == 204
        assert owner.wait_event("closed", timeout=10)["code"] == 4410
        assert carol.wait_event("closed", timeout=10)["code"] == 4410
        carol_hp.wait_event("authenticationFailed", timeout=10)
    finally:
        for client in clients:
            client.close()


def test_delete_denies_the_document_on_hocuspocus_sockets_and_others_go_on(server: LiveServer) -> None:
    t = tokens(server)
    doomed = create(server, "alice")
    other = create(server, "alice")
    with hocuspocus(server, [doomed, other], t["alice"]) as hp:
        hp.call("wait_synced", doc=doomed)
        hp.call("wait_synced", doc=other)
        assert server.request("DELETE", f"/api/documents/{doomed}/", token=t["alice"])[0] == 204
        hp.wait_event("authenticationFailed", doc=doomed, timeout=10)
        hp.call("insert", doc=other, index=0, text="still here")
        hp.call("wait_saved", doc=other)
        assert rest(server, other)["content"] == "still here"
        assert not hp.find_events("socket-close")


# -- close codes and denials ----------------------------------------------------------------------


def test_who_cannot_read_is_closed_4401_or_4404_and_a_text_document_4415(server: LiveServer) -> None:
    t = tokens(server)
    private = create(server, "alice")
    text_doc = create(server, "alice", kind="text", public_role="editor")
    missing = "00000000-0000-4000-8000-000000000000"
    cases = [
        (private, None, 4401),  # anonymous
        (missing, None, 4401),
        (private, t["bob"], 4404),  # signed in, not a reader
        (missing, t["bob"], 4404),
        (text_doc, t["alice"], 4415),
    ]
    clients = [(ywebsocket(server, doc_id, token), code) for doc_id, token, code in cases]
    try:
        for client, code in clients:
            closed = client.wait_event("closed", timeout=10)
            assert closed["code"] == code, (closed, client.label)
            assert not client.find_events("synced"), "no sync before the close"
            assert client.call("info")["should_connect"] is False  # the stock provider gave up
    finally:
        for client, _ in clients:
            client.close()


def test_hocuspocus_denials_leave_the_socket_open_for_the_other_documents(server: LiveServer) -> None:
    t = tokens(server)
    private = create(server, "alice")
    mine = create(server, "bob")
    text_doc = create(server, "bob", kind="text")
    missing = "00000000-0000-4000-8000-000000000000"
    with hocuspocus(server, [private, missing, text_doc, mine], t["bob"]) as hp:
        for name in (private, missing):
            hp.wait_event("authenticationFailed", doc=name, timeout=10)
        assert hp.wait_event("authenticationFailed", doc=text_doc, timeout=10)["reason"] == "wrong_kind"
        assert hp.wait_event("authenticated", doc=mine)["scope"] == "read-write"
        hp.call("wait_synced", doc=mine)
        hp.call("insert", doc=private, index=0, text="not applied")  # denied: nothing is sent or applied
        hp.call("insert", doc=mine, index=0, text="mine")
        hp.call("wait_saved", doc=mine)
        assert rest(server, mine, "bob")["content"] == "mine"
        assert rest(server, private)["content"] == ""
        assert not hp.find_events("synced", doc=private)
        assert not hp.find_events("socket-close")
    with hocuspocus(server, [private]) as anonymous:
        anonymous.wait_event("authenticationFailed", timeout=10)


def too_large_text(server: LiveServer) -> str:
    limit = int(rest(server, create(server, "alice"))["limits"]["max_message_bytes"])
    return "x" * (limit + 1024)


def test_an_update_past_the_limits_is_refused_and_nothing_of_it_stored(server: LiveServer) -> None:
    t = tokens(server)
    big = too_large_text(server)
    doc_id = create(server, "alice")
    with ywebsocket(server, doc_id, t["alice"]) as ws:
        ws.call("wait_synced")
        ws.call("insert", index=0, text="kept ")
        ws.wait_for(lambda: rest(server, doc_id)["content"] == "kept ")
        ws.call("insert", index=5, text=big)
        assert ws.wait_event("closed", timeout=15)["code"] == 4413
        assert ws.call("info")["should_connect"] is False  # the stock provider gave up
    assert rest(server, doc_id)["content"] == "kept "

    other = create(server, "alice")
    with hocuspocus(server, [doc_id, other], t["alice"]) as hp:
        hp.call("wait_synced", doc=doc_id)
        hp.call("wait_synced", doc=other)
        hp.call("insert", doc=doc_id, index=0, text=big)
        closed = hp.wait_event("close", doc=doc_id, timeout=15)
        assert closed["reason"] in ("message_too_large", "document_too_large"), closed
        assert hp.call("info", doc=doc_id)["unsynced"] >= 1  # SyncStatus 0: not stored
        hp.call("insert", doc=other, index=0, text="fine")  # the socket stays open for the others
        hp.call("wait_saved", doc=other)
        assert not hp.find_events("socket-close")
    assert rest(server, doc_id)["content"] == "kept "
    assert rest(server, other)["content"] == "fine"
