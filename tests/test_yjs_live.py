"""The yjs endpoints on real servers (daphne and uvicorn), with real sockets.

pycrdt clients over ``websockets`` check the wire on both servers; the stock
JavaScript providers (y-websocket, @hocuspocus/provider 2.x, 3.x and 4.x, run
by the Node drivers of tests/yjs/) edit one document together and converge on
what REST serves; a server killed right after a provider's ``unsyncedChanges``
reached 0 loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import websockets

from tests.support.live import LiveServer
from tests.yjs.drivers import hocuspocus, ywebsocket
from tests.yjs_client import Mux, SocketLink, YClient

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp(f"yjs-{request.param}"), server=request.param).start()
    live.tokens = live.create_users("alice", "bob", "carol")  # type: ignore[attr-defined]
    yield live
    live.stop()


def make_doc(server: LiveServer, content: str = "", public_role: str = "editor") -> str:
    status, doc = server.request(
        "POST", "/api/documents/", token=server.tokens["alice"],  # type: ignore[attr-defined]
        json_body={"title": "y", "kind": "yjs", "content": content, "public_role": public_role},
    )  # fmt: skip
    assert status == 201, doc
    return str(doc["id"])


def rest_text(server: LiveServer, doc_id: str) -> str:
    status, doc = server.request("GET", f"/api/documents/{doc_id}/", token=server.tokens["alice"])  # type: ignore[attr-defined]
    assert status == 200, doc
    return str(doc["content"])


async def test_python_clients_on_both_endpoints(server: LiveServer) -> None:
    tokens = server.tokens  # type: ignore[attr-defined]
    doc_id = make_doc(server, "start 😀")
    async with (
        websockets.connect(server.ws_url(f"/ws/yjs/{doc_id}", tokens["alice"]), max_size=None) as ws1,
        websockets.connect(server.ws_url("/ws/hocuspocus"), max_size=None) as ws2,
    ):
        y = YClient(SocketLink(ws1))
        await y.start()
        mux = Mux(SocketLink(ws2))
        h = mux.add(doc_id, tokens["bob"])
        await h.start()
        await y.until(lambda: y.synced and y.content() == "start 😀")
        await h.until(lambda: h.scope == "read-write" and h.synced and h.unsynced == 0)
        await y.insert(8, " y")
        await h.insert(0, "h ")
        await h.until(lambda: "start 😀 y" in h.content() and h.unsynced == 0)
        await y.until(lambda: y.content() == h.content())
        await y.set_awareness({"user": "alice"})
        await h.until(lambda: y.doc.client_id in h.awareness)
        await y.until(lambda: y.doc.client_id in y.awareness)
    assert rest_text(server, doc_id) == "h start 😀 y"


async def test_python_client_too_large_frame_closes_4413(server: LiveServer) -> None:
    doc_id = make_doc(server)
    async with websockets.connect(
        server.ws_url(f"/ws/yjs/{doc_id}", server.tokens["alice"]), max_size=None
    ) as ws:  # type: ignore[attr-defined]
        y = YClient(SocketLink(ws))
        await y.start()
        await y.until(lambda: y.synced)
        await y.insert(0, "x" * 300_000)  # past max_message_bytes (256 KiB)
        await y.pump(2)
        assert y.closed == 4413
    assert rest_text(server, doc_id) == ""


def test_stock_providers_converge_with_emoji(server: LiveServer) -> None:
    tokens = server.tokens  # type: ignore[attr-defined]
    doc_id = make_doc(server, "😀")
    with (
        ywebsocket(server, doc_id, tokens["alice"]) as yws,
        hocuspocus(server, [doc_id], tokens["bob"], version="4") as h4,
        hocuspocus(server, [doc_id], tokens["carol"], version="3") as h3,
        hocuspocus(server, [doc_id], tokens["alice"], version="2") as h2,
    ):
        drivers = [yws, h4, h3, h2]
        for d in drivers:
            d.call("wait_synced")
        for round_ in range(5):
            for i, d in enumerate(drivers):
                d.call("insert", index=0 if (round_ + i) % 2 else len(d.text()), text=f"{i}🎉")
        for d in drivers:
            d.wait_for(lambda d=d: len(d.text()) == 1 + 2 * 20, what="every insert arrived")
        texts = {d.text() for d in drivers}
        assert len(texts) == 1
        for d in (h4, h3, h2):
            d.call("wait_saved")
        assert rest_text(server, doc_id) == texts.pop()
        # awareness crosses the two protocols
        h4.call("awareness_set", field="user", value={"name": "bob"})
        yws.wait_for(lambda: {"user": {"name": "bob"}} in yws.call("awareness_get")["states"].values())


def test_kill_after_saved_loses_nothing(server: LiveServer) -> None:
    doc_id = make_doc(server, "")
    with hocuspocus(server, [doc_id], server.tokens["alice"], version="4") as h:  # type: ignore[attr-defined]
        h.call("wait_synced")
        h.call("insert", index=0, text="durable 😀")
        h.call("wait_saved")
        server.kill()
    server.start()
    assert rest_text(server, doc_id) == "durable 😀"


def test_stock_providers_see_denials_and_wrong_kind(server: LiveServer) -> None:
    tokens = server.tokens  # type: ignore[attr-defined]
    private = make_doc(server, "secret", public_role="none")
    status, text_doc = server.request(
        "POST", "/api/documents/", token=tokens["alice"], json_body={"title": "t", "public_role": "viewer"}
    )
    assert status == 201
    with hocuspocus(server, [private, text_doc["id"]], tokens["bob"], version="4") as h:
        h.wait_event("authenticationFailed", doc=private)
        assert h.wait_event("authenticationFailed", doc=text_doc["id"])["reason"] == "wrong_kind"
    with ywebsocket(server, private, tokens["bob"]) as y:
        y.wait_event("connection-close", code=4404)


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_stock_hocuspocus_without_a_token_is_anonymous(server: LiveServer, version: str) -> None:
    """2.x sends no auth message without a token, 3.x and 4.x send an empty one: both are anonymous here."""
    doc_id = make_doc(server, "open", public_role="editor")
    with hocuspocus(server, [doc_id], None, version=version) as h:
        h.call("wait_synced")
        h.call("insert", index=4, text=" 😀")
        if version != "2":
            h.call("wait_saved")
        h.wait_for(lambda: rest_text(server, doc_id) == "open 😀", what="the anonymous edit stored")
