"""``/metrics`` after real traffic: two server processes sharing Redis and one metrics directory.

Both processes (daphne, then uvicorn) write to one ``PROMETHEUS_MULTIPROC_DIR``;
either one's ``/metrics`` answers for both. Real clients open connections on
each, edit, get closed for invalid messages (4400), a flood (4429) and for not
reading (4408), and a commit that was never announced makes the others fill a
gap from the database. Each scrape is compared with the one before: the
numbers must have moved by what the traffic did. The connection log lines are
checked on the way (tests/test_ops_logs.py checks them in depth).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.support.live import LiveServer
from tests.support.rawws import upgrade
from tests.support.wsclient import Editor

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.slow]
TOKEN = "scrape-" + uuid.uuid4().hex


def scrape(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    import urllib.request

    request = urllib.request.Request(
        server.http_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def get(values: dict[Any, float], name: str, **labels: str) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def total(values: dict[Any, float], name: str, **labels: str) -> float:
    """Sum over the label values not given."""
    return sum(
        v
        for (n, ls), v in values.items()
        if n == name and all(dict(ls).get(k) == x for k, x in labels.items())
    )


async def eventually(check: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture(params=["daphne", "uvicorn"])
def pair(request: Any, tmp_path: Path, redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    prom = tmp_path / "prom"
    prom.mkdir()
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
        "COLLAB_METRICS_TOKEN": TOKEN,
        "COLLAB_REDIS_PREFIX": f"m{uuid.uuid4().hex[:8]}",
        "COLLAB_INVALID_LIMIT": "3",
        "COLLAB_RATE_PER_SECOND": "30",
        "COLLAB_RATE_BURST": "60",
        "COLLAB_RATE_ABUSE_LIMIT": "5",
        "COLLAB_SLOW_CLIENT_BUFFER_BYTES": str(64 * 1024),
        "COLLAB_SLOW_CLIENT_TIMEOUT": "1",
    }
    database = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    kind = request.param
    a = LiveServer(tmp_path / "a", database_url=database, redis_url=redis_url, env=env, server=kind).start()
    b = LiveServer(
        tmp_path / "b", database_url=database, redis_url=redis_url, env=env, server=kind, migrate=False
    ).start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


async def closed_with(url: str, frames: list[str]) -> int:
    async with websockets.connect(url) as ws:
        await ws.recv()  # hello
        for text in frames:
            try:
                await ws.send(text)
            except websockets.ConnectionClosed:
                break
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code
    raise AssertionError("not closed")


async def test_metrics_move_with_real_traffic_on_two_processes(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    tokens = a.create_users("alice", "bob", "bad", "flood", "slow")
    doc = a.create_document(tokens["alice"], "metrics", "", public_role="editor")
    path = f"/ws/documents/{doc['id']}/"

    status, _ = a.request("GET", "/metrics")
    assert status == 403  # not public
    before = scrape(a)

    async with (
        Editor(a.ws_url(path, tokens["alice"]), "alice") as alice,
        Editor(b.ws_url(path, tokens["bob"]), "bob") as bob,
    ):
        # open connections, by endpoint and role, summed over both processes
        def both_open() -> None:
            now = scrape(b)
            assert get(now, "collab_connections_open", endpoint="text", role="owner") == 1
            assert get(now, "collab_connections_open", endpoint="text", role="editor") == 1
            assert get(now, "collab_rooms_loaded") == 2  # one room on each process
            assert get(now, "collab_presence_entries") == 2

        await eventually(both_open)

        for i in range(20):
            await alice.edit([i, "x"] if i else ["x"])
            await alice.wait_synced(i + 1)
        await bob.wait_synced(20)

        # a commit nobody announced: the next live edit makes both connections read the gap
        a.manage(
            "shell",
            "-c",
            "from collab import editing; "
            f"editing.commit_unpublished('{doc['id']}', [editing.EditRequest('{doc['id']}', 20, ['!'])])",
        )
        await alice.edit(["y"])
        await alice.wait_synced(22)
        await bob.wait_synced(22)

        def traffic_counted() -> None:
            now = scrape(a)
            assert (
                get(now, "collab_edits_committed_total") - get(before, "collab_edits_committed_total") == 22
            )
            assert get(now, "collab_commit_seconds_count") - get(before, "collab_commit_seconds_count") >= 2
            # 21 live batches to alice (acks) and to bob (ops), the gap read included
            delivered = get(now, "collab_deliveries_total") - get(before, "collab_deliveries_total")
            assert delivered >= 42, delivered
            lags = get(now, "collab_delivery_lag_seconds_count") - get(
                before, "collab_delivery_lag_seconds_count"
            )
            assert lags >= 42, lags
            assert get(now, "collab_delivery_lag_seconds_sum") > get(
                before, "collab_delivery_lag_seconds_sum"
            )
            assert get(now, "collab_gap_fills_total") - get(before, "collab_gap_fills_total") >= 2
            assert get(now, "collab_layer_messages_sent_total") >= 21
            assert get(now, "collab_layer_messages_received_total") >= 21

        await eventually(traffic_counted)

        # 4400: too many invalid messages; 4429: a sustained flood
        assert await closed_with(a.ws_url(path, tokens["bad"]), ["not json"] * 3) == 4400
        ping = json.dumps({"type": "ping", "payload": {}})
        assert await closed_with(b.ws_url(path, tokens["flood"]), [ping] * 200) == 4429

        # 4408: a client that never reads falls behind alice's big edits (on either server)
        slow = upgrade(a.port, f"{path}?token={tokens['slow']}", rcvbuf=4096)
        chunk = "z" * 60_000
        version = 22
        deadline = time.monotonic() + 60
        while get(scrape(a), "collab_connections_closed_total", endpoint="text", code="4408") < 1:
            assert time.monotonic() < deadline, "the silent client was never closed 4408"
            await alice.edit([chunk] if version % 2 == 0 else [-len(chunk)])
            version += 1
            await alice.wait_synced(version)
            await asyncio.sleep(0.05)
        slow.close()

    def closed_counted() -> None:
        now = scrape(a)
        for code in ("4400", "4429", "4408"):
            moved = get(now, "collab_connections_closed_total", endpoint="text", code=code) - get(
                before, "collab_connections_closed_total", endpoint="text", code=code
            )
            assert moved == 1, (code, moved)
        assert total(now, "collab_connections_open") == 0
        assert get(now, "collab_presence_entries") == 0

    await eventually(closed_counted)

    # one open and one close line per connection, without the token
    for server in (a, b):
        log = server.log()
        assert "connection opened endpoint=text" in log and "connection closed endpoint=text" in log
        assert all(token not in log for token in tokens.values())
    assert "code=4400" in a.log() and "code=4429" in b.log()
    assert "code=4408" in a.log() or a.server != "daphne"
