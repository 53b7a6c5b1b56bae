"""Two daphne processes sharing Redis and PostgreSQL: the scale-out path, for real.

- edits through both processes converge, in order, even when the Redis
  channel layer drops messages (capacity 1);
- a REST write on one process reaches sockets on the other;
- a process killed with SIGKILL: the survivors' clients are told every one of
  its sessions left, within the lease bound.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import websockets

from tests.support.live import LiveServer, server_pair
from tests.support.wsclient import Editor, settle
from tests.test_live_rooms import doc_state, random_op

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def scratch_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the test, dropped afterwards."""
    import psycopg

    name = f"collab_mp_{uuid.uuid4().hex[:10]}"
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pair(tmp_path: Path, scratch_database: str, redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {
        "COLLAB_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "COLLAB_LAYER_CAPACITY": "1",  # the layer drops what does not fit: gaps must be filled
        "COLLAB_PRESENCE_TTL": "4",
        "COLLAB_PRESENCE_HEARTBEAT": "1",
        "COLLAB_RATE_PER_SECOND": "1000",
        "COLLAB_RATE_BURST": "1000",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = LiveServer(tmp_path / "a", database_url=scratch_database, redis_url=redis_url, env=env).start()
    b = LiveServer(tmp_path / "b", database_url=scratch_database, redis_url=redis_url, env=env, migrate=False)
    b.start()
    a.tokens = a.create_users("alice", "bob", "carol", "dave")  # type: ignore[attr-defined]
    yield a, b
    a.stop()
    b.stop()


def test_the_database_is_postgresql(scratch_database: str) -> None:
    assert urlparse(scratch_database).scheme.startswith("postgres")


async def test_edits_through_two_processes_converge_despite_layer_drops(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    tokens = a.tokens  # type: ignore[attr-defined]
    doc = a.create_document(tokens["alice"], "mp", "shared 😀 text", public_role="editor")
    path = f"/ws/documents/{doc['id']}/"
    servers = [a, b, a, b, b]
    names = ["alice", "bob", "carol", "dave", "alice"]
    editors = [
        Editor(s.ws_url(path, tokens[n]), f"mp-{i}")
        for i, (s, n) in enumerate(zip(servers, names, strict=True))
    ]
    for e in editors:
        await e.__aenter__()
    try:
        rng = random.Random(7)

        async def burst(e: Editor, r: random.Random) -> None:
            for _ in range(30):
                await e.edit(random_op(r, e.text))
                await asyncio.sleep(r.uniform(0, 0.01))

        # Drops depend on timing: run bursts until the layer has dropped at least once
        # (bounded: three rounds), checking convergence and order after each.
        for _round in range(3):
            await asyncio.wait_for(
                asyncio.gather(*(burst(e, random.Random(rng.random())) for e in editors)), 60
            )
            final = await settle(editors, lambda: doc_state(a, tokens["alice"], doc["id"]))
            seen_by_b = doc_state(b, tokens["bob"], doc["id"])
            assert (seen_by_b["content"], seen_by_b["version"]) == (final["content"], final["version"])
            if "filling from the database" in a.log() + b.log():
                break
    finally:
        for e in editors:
            await e.__aexit__(None, None, None)
    # the layer really did drop messages, and the gaps were filled from the database
    assert "filling from the database" in a.log() + b.log()


async def test_rest_write_on_one_process_reaches_sockets_on_the_other(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    tokens = a.tokens  # type: ignore[attr-defined]
    doc = a.create_document(tokens["alice"], "rest", "abc")
    async with websockets.connect(b.ws_url(f"/ws/documents/{doc['id']}/", tokens["alice"])) as ws:
        await ws.recv()
        status, _ = a.request(
            "PATCH", f"/api/documents/{doc['id']}/", token=tokens["alice"], json_body={"content": "abcd"}
        )
        assert status == 200
        message = await next_of(ws, "op")
        assert message["payload"]["op"] == [3, "d"] and message["payload"]["version"] == 1
        # and a member removed on process A is closed on process B
        a.request(
            "POST",
            f"/api/documents/{doc['id']}/members/",
            token=tokens["alice"],
            json_body={"username": "bob", "role": "viewer"},
        )
        async with websockets.connect(b.ws_url(f"/ws/documents/{doc['id']}/", tokens["bob"])) as bob_ws:
            await bob_ws.recv()
            a.request("DELETE", f"/api/documents/{doc['id']}/members/bob/", token=tokens["alice"])
            with pytest.raises(websockets.ConnectionClosed) as info:
                while True:
                    await asyncio.wait_for(bob_ws.recv(), 10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 4403


async def next_of(ws: Any, kind: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if message["type"] == kind:
            return dict(message)


async def test_sigkilled_process_sessions_leave_within_the_bound(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    tokens = a.tokens  # type: ignore[attr-defined]
    doc = a.create_document(tokens["alice"], "kill", "x", public_role="viewer")
    path = f"/ws/documents/{doc['id']}/"
    on_a = [await websockets.connect(a.ws_url(path, tokens[n])) for n in ("bob", "carol")]
    dead = [json.loads(await ws.recv())["payload"]["session"] for ws in on_a]
    async with websockets.connect(b.ws_url(path, tokens["dave"])) as survivor:
        hello = json.loads(await survivor.recv())
        assert set(dead) <= {e["session"] for e in hello["payload"]["presence"]}
        a.kill()  # SIGKILL: no disconnect handler runs anywhere on A
        killed_at = time.monotonic()
        left: set[str] = set()
        while not set(dead) <= left:
            message = await next_of(survivor, "presence", timeout=60 - (time.monotonic() - killed_at))
            left |= set(message["payload"]["left"])
        elapsed = time.monotonic() - killed_at
        assert elapsed < 60
        assert elapsed < 4 + 1 + 3  # TTL + heartbeat (+ slack) with this test's settings
        status, entries = b.request("GET", f"/api/documents/{doc['id']}/presence/", token=tokens["alice"])
        assert status == 200 and [e["session"] for e in entries] == [hello["payload"]["session"]]
    for ws in on_a:
        await ws.close()


@pytest.fixture(params=["daphne", "uvicorn"])
def steady_pair(
    request: pytest.FixtureRequest, tmp_path: Path, scratch_database: str, redis_url: str
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two processes on a layer that does not drop (its default capacity)."""
    env = {"COLLAB_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}"}
    a, b = server_pair(
        tmp_path, database_url=scratch_database, redis_url=redis_url, env=env, server=request.param
    )
    a.tokens = a.create_users("alice", "bob", "carol")  # type: ignore[attr-defined]
    yield a, b
    a.stop()
    b.stop()


async def closed_code(ws: Any, timeout: float = 10) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return info.value.rcvd.code if info.value.rcvd is not None else None


async def test_delete_closes_every_socket_with_4410_on_every_process(
    steady_pair: tuple[LiveServer, LiveServer],
) -> None:
    """The deletion's own membership changes make every connection re-check its role; whichever
    comes first, every socket of the document is told 4410 (not 4403), on both processes."""
    a, b = steady_pair
    tokens = a.tokens  # type: ignore[attr-defined]
    for _ in range(3):
        doc = a.create_document(tokens["alice"], "doomed", "x", public_role="viewer")
        path = f"/ws/documents/{doc['id']}/"
        status, _ = a.request(
            "POST",
            f"/api/documents/{doc['id']}/members/",
            token=tokens["alice"],
            json_body={"username": "bob", "role": "editor"},
        )
        assert status == 201
        sockets = []
        for server in (a, b):
            for name in ("alice", "bob", "carol"):  # owner, member, public viewer
                ws = await websockets.connect(server.ws_url(path, tokens[name]))
                assert json.loads(await ws.recv())["type"] == "hello"
                sockets.append(ws)
        status, _ = a.request("DELETE", f"/api/documents/{doc['id']}/", token=tokens["alice"])
        assert status == 204
        codes = [await closed_code(ws) for ws in sockets]
        assert codes == [4410] * 6, codes
