"""Yjs documents on two server processes sharing Redis and PostgreSQL.

- the stock providers on both processes (y-websocket on one, Hocuspocus on the
  other) edit concurrently and converge on what REST serves on either process,
  even when the channel layer drops messages (capacity 1);
- a process killed with SIGKILL: the awareness clients of its connections are
  removed for the survivors' clients within 60 s, with the presence leases as shipped.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from tests.support.live import LiveServer, server_pair
from tests.test_multiprocess import scratch_database  # noqa: F401 (a fixture)
from tests.yjs.drivers import hocuspocus, ywebsocket
from tests.yjs_client import SocketLink, YClient

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pair(
    tmp_path: Path,
    scratch_database: str,  # noqa: F811
    redis_url: str,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {
        "COLLAB_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "COLLAB_LAYER_CAPACITY": "1",  # the layer drops what does not fit: rooms catch up from the database
        # presence leases as shipped (30 s, renewed and swept every 10 s): the crash bound is checked as is
        "COLLAB_YJS_RESYNC_INTERVAL": "1",
    }
    a, b = server_pair(tmp_path, database_url=scratch_database, redis_url=redis_url, env=env)
    a.tokens = a.create_users("alice", "bob")  # type: ignore[attr-defined]
    yield a, b
    a.stop()
    b.stop()


def make_doc(server: LiveServer, content: str) -> str:
    status, doc = server.request(
        "POST", "/api/documents/", token=server.tokens["alice"],  # type: ignore[attr-defined]
        json_body={"title": "mp", "kind": "yjs", "content": content, "public_role": "editor"},
    )  # fmt: skip
    assert status == 201, doc
    return str(doc["id"])


def test_stock_providers_on_two_processes_converge(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    tokens = a.tokens  # type: ignore[attr-defined]
    doc_id = make_doc(a, "shared 😀 ")
    rng = random.Random(7)
    with (
        ywebsocket(a, doc_id, tokens["alice"]) as on_a,
        hocuspocus(b, [doc_id], tokens["bob"], version="4") as on_b,
        ywebsocket(b, doc_id, tokens["bob"]) as also_b,
    ):
        drivers = [on_a, on_b, also_b]
        for d in drivers:
            d.call("wait_synced")
        inserted = 0
        for _ in range(30):
            d = rng.choice(drivers)
            text = d.text()
            if text and rng.random() < 0.3:
                d.call("delete", index=rng.randrange(len(text)), length=1)
                inserted -= 1
            else:
                d.call("insert", index=rng.randint(0, len(text)), text=rng.choice(["x", "🎉", "yz"]))
                inserted += 1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len({d.text() for d in drivers}) > 1:
            time.sleep(0.2)
        texts = {d.text() for d in drivers}
        assert len(texts) == 1, texts
        on_b.call("wait_saved")
        final = texts.pop()
        time.sleep(1.5)  # the y-websocket providers have no "saved": give their last updates time
        for server in (a, b):
            status, doc = server.request("GET", f"/api/documents/{doc_id}/", token=tokens["alice"])
            assert status == 200 and doc["content"] == final


async def test_a_killed_process_loses_its_awareness_clients(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    tokens = a.tokens  # type: ignore[attr-defined]
    doc_id = make_doc(a, "")
    async with websockets.connect(a.ws_url(f"/ws/yjs/{doc_id}", tokens["alice"]), max_size=None) as wa:
        watcher = YClient(SocketLink(wa))
        await watcher.start()
        await watcher.until(lambda: watcher.synced)
        wb = await websockets.connect(b.ws_url(f"/ws/yjs/{doc_id}", tokens["bob"]), max_size=None)
        doomed = YClient(SocketLink(wb))
        await doomed.start()
        await doomed.until(lambda: doomed.synced)
        await doomed.set_awareness({"user": "bob"})
        await watcher.until(lambda: doomed.doc.client_id in watcher.awareness, timeout=10)
        b.kill()
        started = time.monotonic()
        await watcher.until(lambda: doomed.doc.client_id not in watcher.awareness, timeout=60)
        took = time.monotonic() - started
        print(f"the killed process's awareness client was removed after {took:.1f} s")
        assert took < 60
        status, entries = a.request("GET", f"/api/documents/{doc_id}/presence/", token=tokens["alice"])
        assert status == 200 and len(entries) == 1
