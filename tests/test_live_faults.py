"""Production faults on both servers (daphne and uvicorn): aborted handshakes, sockets that die
while being written to, clients that stop reading. Each promise of PROTOCOL.md sections 5 and 7
is checked from outside, on a real server process.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import LiveServer
from tests.support.rawws import close_code, request_upgrade, reset, upgrade
from tests.support.wsclient import Editor
from tests.yjs_client import SocketLink, YClient

pytestmark = [pytest.mark.live, pytest.mark.slow]
SERVERS = ["daphne", "uvicorn"]
NEVER_RETRIEVED = "Task exception was never retrieved"


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


def presence_of(server: LiveServer, token: str, doc_id: str) -> list[dict[str, Any]]:
    status, entries = server.request("GET", f"/api/documents/{doc_id}/presence/", token=token)
    assert status == 200, entries
    return list(entries)


def reads_when_told(server: LiveServer, sock: socket.socket) -> asyncio.Future[int | None]:
    """A stalled client that starts reading as soon as the server says it is too slow: the close
    code it finds after what was buffered for it (in a thread: the test's loop stays free)."""

    def watch() -> int | None:
        deadline = time.monotonic() + 60
        while "too slow to keep up" not in server.log():
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)
        return close_code(sock, timeout=10)

    return asyncio.get_running_loop().run_in_executor(None, watch)


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    env = {
        "COLLAB_SLOW_CLIENT_BUFFER_BYTES": str(256 * 1024),
        "COLLAB_SLOW_CLIENT_TIMEOUT": "2",
        "COLLAB_RATE_PER_SECOND": "10000",
        "COLLAB_RATE_BURST": "10000",
    }
    live = LiveServer(tmp_path, server=request.param, env=env).start()
    live.tokens = live.create_users("owner", "r1", "r2", "slow")  # type: ignore[attr-defined]
    yield live
    live.stop()


async def test_handshakes_reset_right_after_the_upgrade_leave_no_presence(server: LiveServer) -> None:
    tokens = server.tokens  # type: ignore[attr-defined]
    doc = server.create_document(tokens["owner"], "ghosts", "x", public_role="viewer")
    path = f"/ws/documents/{doc['id']}/?token={tokens['r1']}"
    for i in range(120):
        # a third reset before the 101 arrives, the others as soon as it has
        sock = request_upgrade(server.port, path) if i % 3 == 0 else upgrade(server.port, path)
        reset(sock)
    deadline = time.monotonic() + 10  # well inside the 30 s lease: only cleanup can empty it this fast
    entries = presence_of(server, tokens["owner"], doc["id"])
    while entries and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        entries = presence_of(server, tokens["owner"], doc["id"])
    assert entries == [], f"{len(entries)} ghosts"
    async with websockets.connect(server.ws_url(f"/ws/documents/{doc['id']}/", tokens["r2"])) as ws:
        hello = json.loads(await ws.recv())
        assert [e["session"] for e in hello["payload"]["presence"]] == [hello["payload"]["session"]]
    assert NEVER_RETRIEVED not in server.log()


async def test_sockets_that_die_while_written_to_are_normal_not_errors(server: LiveServer) -> None:
    tokens = server.tokens  # type: ignore[attr-defined]
    doc = server.create_document(tokens["owner"], "dying", "", public_role="viewer")
    path = f"/ws/documents/{doc['id']}/"
    async with Editor(server.ws_url(path, tokens["owner"]), "w") as writer:
        for _round in range(3):
            socks = [upgrade(server.port, f"{path}?token={tokens['r1']}", rcvbuf=4096) for _ in range(20)]
            await asyncio.sleep(0.3)
            for i in range(30):  # frames in flight to every socket while they die
                await writer.edit(["z" * 2000] if i % 2 == 0 else [-2000])
                if i == 10:
                    for sock in socks:
                        reset(sock)
            deadline = time.monotonic() + 20
            while writer.ot is not None and writer.ot.state != "synchronized":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    assert NEVER_RETRIEVED not in server.log()
    assert presence_of(server, tokens["owner"], doc["id"]) == []


async def test_a_slow_client_never_delays_the_others_and_is_told_4408(server: LiveServer) -> None:
    tokens = server.tokens  # type: ignore[attr-defined]
    doc = server.create_document(tokens["owner"], "slow", "", public_role="editor")
    slow = upgrade(server.port, f"/ws/documents/{doc['id']}/?token={tokens['slow']}", rcvbuf=4096)
    told = reads_when_told(server, slow)
    assert server.proc is not None
    rss_before = rss_kib(server.proc.pid)
    readers = [Editor(server.ws_url(f"/ws/documents/{doc['id']}/", tokens[n]), n) for n in ("r1", "r2")]
    for r in readers:
        await r.__aenter__()
    latencies: list[float] = []
    chunk = "y" * 60_000
    async with Editor(server.ws_url(f"/ws/documents/{doc['id']}/", tokens["owner"]), "w") as writer:
        # 8 MB of op frames in 7 s: more than the kernel buffers of the silent socket
        for i in range(140):
            sent = time.monotonic()
            await writer.edit([chunk] if i % 2 == 0 else [-len(chunk)])
            await writer.wait_synced(i + 1, timeout=10)
            for r in readers:
                await r.wait_synced(i + 1, timeout=10)
            latencies.append(time.monotonic() - sent)
            await asyncio.sleep(0.05)
            if told.done():
                break
        # the silent client is told once it is 2 s behind; it reads again then and gets the 4408
        deadline = time.monotonic() + 20
        while not told.done():
            assert time.monotonic() < deadline, server.log()[-2000:]
            await writer.edit(["y"] if writer.text == "" else [-1])
            await asyncio.sleep(0.1)
        assert await told == 4408
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert p99 < 0.5, f"others were delayed: p99 {p99:.3f}s"
    assert all(not r.errors for r in readers)
    # memory stayed bounded: the server kept the versions it owes, not the frames
    assert rss_kib(server.proc.pid) - rss_before < 48 * 1024
    await asyncio.sleep(0.5)
    entries = presence_of(server, tokens["owner"], doc["id"])
    assert sorted(e["user"]["name"] for e in entries) == ["r1", "r2"]
    for r in readers:
        await r.__aexit__(None, None, None)
    slow.close()
    assert NEVER_RETRIEVED not in server.log()


async def test_presence_floods_to_a_stalled_reader_stay_bounded_and_it_is_closed_4408(
    server: LiveServer,
) -> None:
    tokens = server.tokens  # type: ignore[attr-defined]
    doc = server.create_document(tokens["owner"], "flood", "", public_role="editor")
    url = server.ws_url(f"/ws/documents/{doc['id']}/", tokens["r1"])
    stalled = upgrade(server.port, f"/ws/documents/{doc['id']}/?token={tokens['slow']}", rcvbuf=4096)
    told = reads_when_told(server, stalled)
    assert server.proc is not None
    await asyncio.sleep(0.5)
    rss_before = rss_kib(server.proc.pid)
    senders = [await websockets.connect(url, max_size=None) for _ in range(3)]
    draining = [asyncio.create_task(_drain(ws)) for ws in senders]
    meta = {"note": "m" * 900}
    started = time.monotonic()
    told_at = None
    grown = 0
    while time.monotonic() - started < 10:
        for i, ws in enumerate(senders):
            await ws.send(
                json.dumps({"type": "presence", "payload": {"status": "active", "meta": {**meta, "i": i}}})
            )
        await asyncio.sleep(0.004)  # about 750 presence updates a second, 1 KiB each
        if told_at is None and told.done():
            told_at = time.monotonic() - started
        grown = max(grown, rss_kib(server.proc.pid) - rss_before)
    assert told_at is not None, server.log()[-2000:]  # kernel buffers fill first, then 2 s
    assert await told == 4408
    assert grown < 16 * 1024, f"server grew {grown} KiB"
    for task in draining:
        task.cancel()
    for ws in senders:
        await ws.close()
    stalled.close()
    assert NEVER_RETRIEVED not in server.log()


async def _drain(ws: Any) -> None:
    async for _ in ws:
        pass


class _Heard(YClient):
    """A y-websocket client read by a background task; ``heard`` is set on every frame."""

    def __init__(self, link: SocketLink) -> None:
        super().__init__(link)
        self.heard = asyncio.Event()

    async def on_frame(self, data: bytes) -> None:
        await super().on_frame(data)
        self.heard.set()

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                assert self.closed is None, f"closed with {self.closed}"
                self.heard.clear()
                await self.heard.wait()

    async def keep_reading(self) -> None:
        while self.closed is None:
            await self.pump(1)


async def _ywebsocket(server: LiveServer, path: str, token: str) -> _Heard:
    client = _Heard(SocketLink(await websockets.connect(server.ws_url(path, token), max_size=None)))
    await client.start()
    await client.until(lambda: client.synced)
    return client


def _holds(client: YClient, text: str) -> bool:
    return client.content() == text


async def _flood_awareness(client: YClient, i: int) -> None:
    while True:
        await client.set_awareness({"note": "m" * 900, "i": i})
        await asyncio.sleep(0.004)  # about 250 awareness updates a second, 1 KiB each


async def test_a_stalled_ywebsocket_reader_is_closed_4408_while_updates_and_awareness_flood(
    server: LiveServer,
) -> None:
    tokens = server.tokens  # type: ignore[attr-defined]
    status, doc = server.request(
        "POST", "/api/documents/", token=tokens["owner"],
        json_body={"title": "yflood", "kind": "yjs", "public_role": "editor"},
    )  # fmt: skip
    assert status == 201, doc
    path = f"/ws/yjs/{doc['id']}"
    stalled = upgrade(server.port, f"{path}?token={tokens['slow']}", rcvbuf=4096)
    told = reads_when_told(server, stalled)
    assert server.proc is not None
    await asyncio.sleep(0.5)
    rss_before = rss_kib(server.proc.pid)
    writer = await _ywebsocket(server, path, tokens["owner"])
    others = [await _ywebsocket(server, path, tokens[n]) for n in ("r1", "r2", "owner")]
    tasks = [asyncio.create_task(c.keep_reading()) for c in (writer, *others)]
    tasks += [asyncio.create_task(_flood_awareness(c, i)) for i, c in enumerate(others)]
    latencies: list[float] = []
    chunk = "y" * 60_000
    try:
        for i in range(200):  # 6 MB of updates, besides 750 awareness updates a second
            sent = time.monotonic()
            if i % 2 == 0:
                writer.type(0, chunk)
            else:
                writer.delete(0, len(chunk))
            await writer.flush()
            target = writer.content()
            for c in others:
                await c.wait_for(partial(_holds, c, target), timeout=10)
            latencies.append(time.monotonic() - sent)
            await asyncio.sleep(0.05)
            if told.done():
                break
        assert await asyncio.wait_for(told, 30) == 4408, server.log()[-2000:]
        grown = rss_kib(server.proc.pid) - rss_before
        assert all(c.closed is None for c in (writer, *others))
    finally:
        for task in tasks:
            task.cancel()
        for c in (writer, *others):
            await c.close()
        stalled.close()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert p99 < 0.5, f"others were delayed: p99 {p99:.3f}s"
    assert grown < 48 * 1024, f"server grew {grown} KiB"
    print(f"{server.server}: p99 {p99:.3f}s, grew {grown} KiB")
    assert NEVER_RETRIEVED not in server.log()
