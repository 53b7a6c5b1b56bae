"""Live daphne, real sockets: convergence under random concurrent editing, resend, bad input, shutdown
(faults and slow clients on both servers: ``test_live_faults``).

Every loop here is bounded in count and time and talks only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import LiveServer
from tests.support.rawws import reset, upgrade
from tests.support.wsclient import Editor, settle

pytestmark = [pytest.mark.live]

EMOJI = ["😀", "🎉", "👍🏽", "e\u0301", "日本", "x", "ab", " "]


def doc_state(server: LiveServer, token: str, doc_id: str) -> dict[str, Any]:
    status, body = server.request("GET", f"/api/documents/{doc_id}/", token=token)
    assert status == 200, body
    return dict(body)


def random_op(rng: random.Random, text: str) -> list[Any]:
    n = len(text)
    pos = rng.randint(0, n)
    if n and rng.random() < 0.4:
        length = rng.randint(1, min(4, n - pos)) if pos < n else 0
        if length:
            return [pos, -length] if pos else [-length]
    piece = rng.choice(EMOJI)
    return [pos, piece] if pos else [piece]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_concurrent_editing_converges(live: LiveServer, seed: int) -> None:
    tokens = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "race", "start 😀 text", public_role="editor")
    rng = random.Random(seed)
    names = ["alice", "bob", "carol", "dave", "alice"]  # two tabs of alice: five clients
    editors = [
        Editor(live.ws_url(f"/ws/documents/{doc['id']}/", tokens[n]), f"{n}-{i}-{seed}")
        for i, n in enumerate(names)
    ]
    for e in editors:
        await e.__aenter__()
    try:

        async def type_randomly(e: Editor, r: random.Random) -> None:
            for _ in range(25):
                await e.edit(random_op(r, e.text))
                await asyncio.sleep(r.uniform(0, 0.03))

        await asyncio.wait_for(
            asyncio.gather(*(type_randomly(e, random.Random(rng.random())) for e in editors)), 60
        )
        server = await settle(editors, lambda: doc_state(live, tokens["alice"], doc["id"]))
        # every edit committed exactly once: 5 clients x 25 edits (composed locally while in flight)
        assert server["version"] <= 125
        status, ops = live.request(
            "GET", f"/api/documents/{doc['id']}/ops/?limit=1000", token=tokens["alice"]
        )
        assert status == 200
        assert [o["version"] for o in ops] == list(range(1, server["version"] + 1))  # gapless
        keys = [(o["client_id"], o["seq"]) for o in ops]
        assert len(keys) == len(set(keys))
        for e in editors:
            assert e.versions == sorted(e.versions) and len(e.versions) == len(set(e.versions))
            assert not e.errors, e.errors
    finally:
        for e in editors:
            await e.__aexit__(None, None, None)


async def test_idempotent_resend_over_a_real_socket(live: LiveServer) -> None:
    token = live.tokens["alice"]  # type: ignore[attr-defined]
    doc = live.create_document(token, "resend", "abc")
    async with websockets.connect(live.ws_url(f"/ws/documents/{doc['id']}/", token)) as ws:
        json.loads(await ws.recv())
        edit = {"type": "edit", "payload": {"version": 0, "op": [3, "!"], "client_id": "r1", "seq": 1}}
        await ws.send(json.dumps(edit))
        assert json.loads(await ws.recv())["payload"]["version"] == 1
        for _ in range(3):
            await ws.send(json.dumps(edit))
            ack = json.loads(await ws.recv())
            assert ack == {"type": "ack", "payload": {"client_id": "r1", "seq": 1, "version": 1}}
    state = doc_state(live, token, doc["id"])
    assert (state["content"], state["version"]) == ("abc!", 1)


BAD_FRAMES: list[tuple[Any, str]] = [
    ("{not json", "invalid_json"),
    ('{"type": "edit", "payload": {"version": 0, "op": [50], "client_id": "b", "seq": 1}}', "invalid_op"),
    ('{"type": "edit", "payload": {"version": 0, "op": [-50], "client_id": "b", "seq": 1}}', "invalid_op"),
    ('{"type": "edit", "payload": {"version": 0, "op": [0, 9], "client_id": "b", "seq": 1}}', "invalid_op"),
    ('{"type": "edit", "payload": {"version": 0, "op": [false], "client_id": "b", "seq": 1}}', "invalid_op"),
    ('{"type": "edit", "payload": {"version": 9, "op": ["x"], "client_id": "b", "seq": 1}}', "version_ahead"),
    (
        '{"type": "edit", "payload": {"version": 0, "op": ["x"], "client_id": "", "seq": 1}}',
        "invalid_message",
    ),
    ('{"type": "edit", "payload": {"version": 0, "op": ["x"], "client_id": "b"}}', "invalid_message"),
    ('{"type": "sync", "payload": {"version": -1}}', "invalid_message"),
    ('{"type": "sync", "payload": {"version": 99}}', "version_ahead"),
    ('{"type": "cursor", "payload": {"version": 0, "anchor": 1}}', "invalid_message"),
    ('{"type": "presence", "payload": {"status": "active", "meta": "x"}}', "invalid_message"),
    ('{"type": "nope", "payload": {}}', "unknown_type"),
    ("[]", "invalid_message"),
    (b"\x00\x01binary", "invalid_message"),
    (json.dumps({"type": "ping", "payload": {"pad": "x" * 300_000}}), "message_too_large"),
]


async def test_every_bad_input_leaves_document_and_connection_as_they_were(live: LiveServer) -> None:
    token = live.tokens["bob"]  # type: ignore[attr-defined]
    doc = live.create_document(token, "bad", "hello")
    async with websockets.connect(live.ws_url(f"/ws/documents/{doc['id']}/", token), max_size=None) as ws:
        json.loads(await ws.recv())
        for frame, code in BAD_FRAMES:
            await ws.send(frame)
            error = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert error["type"] == "error" and error["payload"]["code"] == code, (frame[:60], error)
            assert error["payload"]["message"]
            await ws.send('{"type": "ping", "payload": {"ok": 1}}')
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong", "payload": {"ok": 1}}
    state = doc_state(live, token, doc["id"])
    assert (state["content"], state["version"]) == ("hello", 0)


async def test_unnormalized_ops_are_accepted_and_stored_normalized(live: LiveServer) -> None:
    token = live.tokens["bob"]  # type: ignore[attr-defined]
    doc = live.create_document(token, "norm", "abcdef")
    async with websockets.connect(live.ws_url(f"/ws/documents/{doc['id']}/", token)) as ws:
        json.loads(await ws.recv())
        sent = [0, 1, 1, "", -1, "X", 0, 2, 1]  # zeros, empties, split retains, delete before insert
        await ws.send(
            json.dumps({"type": "edit", "payload": {"version": 0, "op": sent, "client_id": "n", "seq": 1}})
        )
        assert json.loads(await ws.recv())["payload"]["version"] == 1
    _, ops = live.request("GET", f"/api/documents/{doc['id']}/ops/", token=token)
    assert ops[0]["op"] == [2, "X", -1]
    assert doc_state(live, token, doc["id"])["content"] == "abXdef"


async def test_token_is_never_logged(live: LiveServer) -> None:
    token = live.tokens["carol"]  # type: ignore[attr-defined]
    doc = live.create_document(token, "secret")
    async with websockets.connect(live.ws_url(f"/ws/documents/{doc['id']}/", token)) as ws:
        await ws.recv()
    async with websockets.connect(live.ws_url(f"/ws/documents/{doc['id']}/", "invalid-" + token[:8])) as ws:
        await ws.recv()
    await asyncio.sleep(0.3)
    log = live.log()
    assert doc["id"] in log  # the access log is there...
    assert token not in log and token[:8] not in log  # ...without the token


async def test_server_shutdown_closes_sockets_with_1001(tmp_path: Path) -> None:
    server = LiveServer(tmp_path).start()
    try:
        token = server.create_users("z")["z"]
        doc = server.create_document(token, "bye")
        async with websockets.connect(server.ws_url(f"/ws/documents/{doc['id']}/", token)) as ws:
            await ws.recv()
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as info:
                for _ in range(10):
                    await asyncio.wait_for(ws.recv(), 10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    finally:
        server.stop()


async def test_a_connection_dropped_without_a_close_frame_leaves_presence(live: LiveServer) -> None:
    token = live.tokens["dave"]  # type: ignore[attr-defined]
    doc = live.create_document(token, "drop", "x")
    async with websockets.connect(live.ws_url(f"/ws/documents/{doc['id']}/", token)) as watcher:
        await watcher.recv()
        raw = upgrade(live.port, f"/ws/documents/{doc['id']}/?token={token}", rcvbuf=4096)
        joined = json.loads(await asyncio.wait_for(watcher.recv(), 5))
        session = joined["payload"]["joined"][0]["session"]
        reset(raw)  # RST, no close frame
        started = time.monotonic()
        left = json.loads(await asyncio.wait_for(watcher.recv(), 60))
        assert left["payload"]["left"] == [session]
        assert time.monotonic() - started < 5  # noticed eagerly, not at the lease's end
