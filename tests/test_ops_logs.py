"""The connection log lines, as JSON (``COLLAB_LOG_FORMAT=json``), from a real server: fields, no secrets."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import LiveServer
from tests.support.wsclient import Editor

pytestmark = [pytest.mark.live, pytest.mark.slow]


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.mark.parametrize("server_kind", ["daphne", "uvicorn"])
async def test_one_json_line_per_connection_open_and_close_without_secrets(
    tmp_path: Path, server_kind: str
) -> None:
    server = LiveServer(tmp_path, server=server_kind, env={"COLLAB_LOG_FORMAT": "json"}).start()
    try:
        token = server.create_users("alice")["alice"]
        doc = server.create_document(token, "logged", "")
        url = server.ws_url(f"/ws/documents/{doc['id']}/", token)
        async with Editor(url, "c") as editor:
            for i in range(3):
                await editor.edit(["x"])
                await editor.wait_synced(i + 1)
        missing = server.ws_url(f"/ws/documents/{uuid.uuid4()}/", token)
        async with websockets.connect(missing) as ws:
            await ws.recv()
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        deadline = time.monotonic() + 10
        while len([x for x in json_lines(server.log()) if x.get("event") == "connection.close"]) < 2:
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(0.1)
        lines = json_lines(server.log())
        (opened,) = [x for x in lines if x.get("event") == "connection.open"]
        closes = [x for x in lines if x.get("event") == "connection.close"]
        edited = next(x for x in closes if x["document"] == doc["id"])
        refused = next(x for x in closes if x["document"] != doc["id"])
        assert opened["logger"] == "collab.connections" and opened["level"] == "INFO"
        assert {k: opened[k] for k in ("endpoint", "document", "role")} == {
            "endpoint": "text", "document": doc["id"], "role": "owner",
        }  # fmt: skip
        assert isinstance(opened["user_id"], int) and opened["user_id"] == edited["user_id"]
        assert (
            edited["code"] == 1000 and edited["frames_in"] == 3 and edited["frames_out"] >= 4
        )  # hello + acks
        assert edited["duration"] > 0 and edited["role"] == "owner"
        assert refused["code"] == 4404 and refused["role"] is None and refused["frames_out"] >= 1
        assert token not in server.log() and "session" not in json.dumps(closes)
    finally:
        server.stop()
