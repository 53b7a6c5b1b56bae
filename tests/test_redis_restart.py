"""Redis goes away and comes back (empty): no connection stays silently behind (PROTOCOL.md section 7).

Two server processes share a Redis of the test's own and a PostgreSQL scratch
database. Redis is stopped for about ten seconds while a client on process A
keeps editing, then started again, empty (group memberships and presence
leases are gone). Afterwards:

- the client on process B has received every op, in order, with no gap;
- ``GET presence/`` on both processes lists both connections again, and a new
  connection's ``hello`` lists everyone;
- ``/readyz`` said 503 naming Redis while it was down, 200 again after;
  ``/healthz`` said 200 throughout.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import LiveServer, server_pair
from tests.support.redis_server import RedisServer
from tests.support.wsclient import Editor
from tests.test_multiprocess import scratch_database  # noqa: F401 - a fixture

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

OUTAGE = 10.0  # seconds without Redis
RECOVERY_BOUND = 10.0  # seconds after Redis is back until presence and delivery are whole again


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis").start()
    yield redis
    redis.stop()


@pytest.fixture(params=["daphne", "uvicorn"])
def pair(
    request: Any,
    tmp_path: Path,
    scratch_database: str,  # noqa: F811 - the fixture imported above
    own_redis: RedisServer,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {
        "COLLAB_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}",
        "COLLAB_PRESENCE_TTL": "4",
        "COLLAB_PRESENCE_HEARTBEAT": "1",
        "COLLAB_HEALTH_INTERVAL": "0.5",
    }
    a, b = server_pair(
        tmp_path, database_url=scratch_database, redis_url=own_redis.url, env=env, server=request.param
    )
    a.tokens = a.create_users("alice", "bob", "carol")  # type: ignore[attr-defined]
    yield a, b
    a.stop()
    b.stop()


def presence_sessions(server: LiveServer, token: str, doc_id: str) -> set[str]:
    status, entries = server.request("GET", f"/api/documents/{doc_id}/presence/", token=token, timeout=5)
    return {e["session"] for e in entries} if status == 200 else set()


def ready(server: LiveServer) -> tuple[int, Any]:
    return server.request("GET", "/readyz", timeout=10)


async def eventually(check: Any, bound: float, what: str) -> float:
    """Poll ``check()`` until it is true; the seconds it took (fails past ``bound``)."""
    started = time.monotonic()
    while not await asyncio.to_thread(check):
        assert time.monotonic() - started < bound, f"{what}: not within {bound}s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_a_redis_restart_leaves_no_connection_behind(
    pair: tuple[LiveServer, LiveServer], own_redis: RedisServer
) -> None:
    a, b = pair
    tokens = a.tokens  # type: ignore[attr-defined]
    doc = a.create_document(tokens["alice"], "outage", "", public_role="editor")
    path = f"/ws/documents/{doc['id']}/"
    assert ready(a)[0] == 200 and ready(b)[0] == 200
    async with (
        Editor(a.ws_url(path, tokens["alice"]), "writer") as writer,
        Editor(b.ws_url(path, tokens["bob"]), "reader") as reader,
    ):
        both = {writer.hello["session"], reader.hello["session"]}
        assert presence_sessions(a, tokens["alice"], doc["id"]) == both

        async def type_for(seconds: float) -> None:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                await writer.edit([len(writer.text), "x"] if writer.text else ["x"])
                await asyncio.sleep(0.05)

        await type_for(1)
        before = writer.ot.version if writer.ot else 0
        own_redis.stop()
        await type_for(OUTAGE / 2)
        # while Redis is away the reader is not left behind either: it catches up from the database
        mid = writer.ot.version if writer.ot else 0
        lag = await eventually(lambda: reader.ot is not None and reader.ot.version >= mid, 5, "degraded")
        status, body = ready(a)
        assert status == 503 and "redis" in str(body), (status, body)
        assert a.request("GET", "/healthz")[0] == 200
        await type_for(OUTAGE / 2)
        own_redis.start()
        # presence is whole again on both processes
        whole = 0.0
        for server in (a, b):
            whole += await eventually(
                lambda s=server: presence_sessions(s, tokens["alice"], doc["id"]) == both,
                RECOVERY_BOUND - whole,
                f"presence on {server.port}",
            )
        await type_for(3)
        await eventually(lambda: writer.ot is not None and writer.ot.state == "synchronized", 10, "last ack")
        status, final = a.request("GET", f"/api/documents/{doc['id']}/", token=tokens["alice"])
        assert status == 200 and final["version"] > before + 50  # edits kept committing throughout
        # the reader on process B gets every op, in order (Editor fails on a gap), within the bound
        await writer.wait_synced(final["version"], RECOVERY_BOUND)
        await reader.wait_synced(final["version"], RECOVERY_BOUND)
        assert reader.text == final["content"] and not reader.errors
        await eventually(lambda: ready(a)[0] == 200 and ready(b)[0] == 200, RECOVERY_BOUND, "readyz")
        print(f"reader lag while degraded {lag:.2f}s; presence whole {whole:.2f}s after the restart")
        # a new connection, on either process, is told about everyone
        for server in (a, b):
            async with Editor(server.ws_url(path, tokens["carol"]), "late") as late:
                seen = {e["session"] for e in late.hello["presence"]}
                assert seen == both | {late.hello["session"]}
