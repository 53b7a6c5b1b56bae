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

import pycrdt
import pytest
import websockets

from collab.yjs import codec
from collab.yjs.codec import AwarenessEntry, Message, Reader
from tests.support.live import LiveServer
from tests.support.rawws import close_code, frames, request_upgrade, reset, send_binary, upgrade
from tests.support.wsclient import Editor
from tests.yjs_client import HocusClient, Mux, SocketLink, YClient, auth_message

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


def _live(request: pytest.FixtureRequest, tmp_path: Path, slow_client_timeout: float) -> LiveServer:
    env = {
        "COLLAB_SLOW_CLIENT_BUFFER_BYTES": str(256 * 1024),
        "COLLAB_SLOW_CLIENT_TIMEOUT": str(slow_client_timeout),
        "COLLAB_RATE_PER_SECOND": "10000",
        "COLLAB_RATE_BURST": "10000",
    }
    live = LiveServer(tmp_path, server=request.param, env=env).start()
    live.tokens = live.create_users("owner", "r1", "r2", "slow")  # type: ignore[attr-defined]
    return live


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server that closes a client 2 s behind with 4408."""
    live = _live(request, tmp_path, 2)
    yield live
    live.stop()


@pytest.fixture(params=SERVERS)
def patient_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server that lets a client stay behind for 30 s."""
    live = _live(request, tmp_path, 30)
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


class HeardLink(SocketLink):
    """A real socket that sets ``heard`` whenever a read returns (a frame, a close, a timeout)."""

    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.heard = asyncio.Event()

    async def recv(self, timeout: float) -> bytes:
        try:
            return await super().recv(timeout)
        finally:
            self.heard.set()


Client = YClient | HocusClient


async def wait_for(client: Client, condition: Callable[[], bool], timeout: float) -> None:
    """Wait until ``condition()`` holds, looking again each time the client's reader hears something."""
    link = client.link
    assert isinstance(link, HeardLink)
    async with asyncio.timeout(timeout):
        while not condition():
            assert client.closed is None, f"closed with {client.closed}"
            link.heard.clear()
            await link.heard.wait()


async def keep_reading(client: Client) -> None:
    while client.closed is None:
        await client.pump(1)


async def connect_client(server: LiveServer, protocol: str, doc_id: str, token: str) -> Client:
    """A synced pycrdt client on ``protocol`` (y-websocket, or Hocuspocus on a socket of its own)."""
    if protocol == "y-websocket":
        ws = await websockets.connect(server.ws_url(f"/ws/yjs/{doc_id}", token), max_size=None)
        client: Client = YClient(HeardLink(ws))
    else:
        ws = await websockets.connect(server.ws_url("/ws/hocuspocus"), max_size=None)
        client = Mux(HeardLink(ws)).add(doc_id, token)
    await client.start()
    await client.until(lambda: client.synced and getattr(client, "unsynced", 0) == 0)
    return client


def stalled_socket(server: LiveServer, protocol: str, doc_ids: list[str], token: str) -> socket.socket:
    """A client that never reads (4 KiB receive buffer), open on ``doc_ids`` (y-websocket: the first);
    returns once the server lists it in every document's presence."""
    if protocol == "y-websocket":
        sock = upgrade(server.port, f"/ws/yjs/{doc_ids[0]}?token={token}", rcvbuf=4096)
        doc_ids = doc_ids[:1]
    else:
        sock = upgrade(server.port, "/ws/hocuspocus", rcvbuf=4096)
        for doc_id in doc_ids:
            prefix = codec.varstring(doc_id)
            send_binary(sock, prefix + auth_message(token))
            send_binary(sock, prefix + codec.sync_step1(bytes(pycrdt.Doc().get_state())))
    deadline = time.monotonic() + 10
    while not all(len(presence_of(server, token, d)) > 0 for d in doc_ids):
        assert time.monotonic() < deadline, "the stalled client never joined"
        time.sleep(0.05)
    return sock


def create_yjs(server: LiveServer, token: str, title: str) -> str:
    status, doc = server.request(
        "POST", "/api/documents/", token=token,
        json_body={"title": title, "kind": "yjs", "public_role": "editor"},
    )  # fmt: skip
    assert status == 201, doc
    return str(doc["id"])


def _holds(client: Client, text: str) -> bool:
    return client.content() == text


def _acknowledged(client: Client) -> bool:
    return getattr(client, "unsynced", 0) == 0  # Hocuspocus: every update answered SyncStatus 1


def _flood_state(i: int, size: int) -> dict[str, Any]:
    return {"note": "m" * size, "i": i}


async def _flood_awareness(client: Client, i: int, every: float = 0.004, size: int = 900) -> None:
    """Awareness updates of ``size`` bytes every ``every`` seconds (by default about 250 a second,
    1 KiB each); the clock counts them."""
    while True:
        await client.set_awareness(_flood_state(i, size))
        await asyncio.sleep(every)


@pytest.mark.parametrize("protocol", ["y-websocket", "hocuspocus"])
async def test_a_stalled_yjs_reader_is_closed_4408_as_a_whole_while_updates_and_awareness_flood(
    server: LiveServer, protocol: str
) -> None:
    """The stalled socket (Hocuspocus: with a second document open on it) is closed 4408, every
    document of it leaves presence; the writer and three awareness flooders on both endpoints keep up."""
    tokens = server.tokens  # type: ignore[attr-defined]
    doc_id, second = (
        create_yjs(server, tokens["owner"], "yflood"),
        create_yjs(server, tokens["owner"], "quiet"),
    )
    stalled = stalled_socket(server, protocol, [doc_id, second], tokens["slow"])
    told = reads_when_told(server, stalled)
    assert server.proc is not None
    await asyncio.sleep(0.5)
    rss_before = rss_kib(server.proc.pid)
    writer = await connect_client(server, protocol, doc_id, tokens["owner"])
    others = [
        await connect_client(server, p, doc_id, tokens[n])
        for p, n in (("y-websocket", "r1"), ("hocuspocus", "r2"), ("y-websocket", "owner"))
    ]
    tasks = [asyncio.create_task(keep_reading(c)) for c in (writer, *others)]
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
            await wait_for(writer, partial(_acknowledged, writer), timeout=10)
            for c in others:
                await wait_for(c, partial(_holds, c, target), timeout=10)
            latencies.append(time.monotonic() - sent)
            await asyncio.sleep(0.05)
            if told.done():
                break
        assert await asyncio.wait_for(told, 30) == 4408, server.log()[-2000:]
        grown = rss_kib(server.proc.pid) - rss_before
        assert all(c.closed is None for c in (writer, *others))
        deadline = time.monotonic() + 10  # closed as a whole: gone from every document it had open
        while any(
            "slow" in {e["user"]["name"] for e in presence_of(server, tokens["owner"], d)}
            for d in (doc_id, second)
        ):
            assert time.monotonic() < deadline, "the stalled socket stayed in presence"
            await asyncio.sleep(0.1)
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
    print(f"{server.server} {protocol}: {len(latencies)} updates, p99 {p99:.3f}s, grew {grown} KiB")
    assert NEVER_RETRIEVED not in server.log()


def awareness_heard(sock: socket.socket, name: str) -> tuple[int, dict[int, AwarenessEntry], int | None]:
    """Read a raw Hocuspocus socket until it goes quiet for 3 s: the awareness frames of ``name``,
    the latest entry per awareness client (y-protocols' clock rule), and the close code if any."""
    count, closed = 0, None
    latest: dict[int, AwarenessEntry] = {}
    for opcode, payload in frames(sock, 60, idle=3):
        if opcode == 0x8:
            closed = int.from_bytes(payload[:2], "big")
            break
        reader = Reader(payload)
        if payload in (codec.PING, codec.PONG) or reader.varstring() != name:
            continue
        if reader.varuint() != Message.AWARENESS:
            continue
        count += 1
        for entry in codec.read_awareness(reader.varbytes()):
            was = latest.get(entry.client)
            if was is None or entry.clock > was.clock or (entry.clock == was.clock and entry.state is None):
                latest[entry.client] = entry
    return count, latest, closed


async def test_awareness_to_a_stalled_hocuspocus_reader_is_coalesced_to_the_latest_state_per_client(
    patient_server: LiveServer,
) -> None:
    """While a Hocuspocus reader is behind (not too long: the server lets it be 30 s), the awareness
    flood of three clients waits for it as one entry per client; when it reads again it gets
    far fewer frames than were sent, ending with each client's latest state; it is not closed."""
    server = patient_server
    tokens = server.tokens  # type: ignore[attr-defined]
    doc_id = create_yjs(server, tokens["owner"], "coalesced")
    stalled = stalled_socket(server, "hocuspocus", [doc_id], tokens["slow"])
    flooders = [
        await connect_client(server, p, doc_id, tokens[n])
        for p, n in (("y-websocket", "r1"), ("hocuspocus", "r2"), ("y-websocket", "owner"))
    ]
    tasks = [asyncio.create_task(keep_reading(c)) for c in flooders]
    # 16 KiB states: the kernel's send buffer for the stalled socket (about 2 MB) holds few of them
    tasks += [
        asyncio.create_task(_flood_awareness(c, i, every=0.015, size=16_000)) for i, c in enumerate(flooders)
    ]
    try:
        await asyncio.sleep(8)  # about 1500 updates, 24 MB
    finally:
        for task in tasks:
            task.cancel()
    sent = sum(c.clock for c in flooders)
    last = {
        c.doc.client_id: AwarenessEntry(c.doc.client_id, c.clock, _flood_state(i, 16_000))
        for i, c in enumerate(flooders)
    }
    try:
        count, latest, closed = await asyncio.get_running_loop().run_in_executor(
            None, awareness_heard, stalled, doc_id
        )
    finally:
        for c in flooders:
            await c.close()
        stalled.close()
    print(f"{server.server}: {sent} awareness updates sent, {count} frames reached the stalled reader")
    assert closed is None, f"closed with {closed}"
    assert {k: latest.get(k) for k in last} == last
    assert count < sent / 3, f"{count} of {sent} awareness updates reached the stalled reader"
    assert NEVER_RETRIEVED not in server.log()
