"""A small test-side WebSocket editor: ``OTClient`` over a real socket, with message capture.

It follows PROTOCOL.md the way a careful client author would: one edit in
flight, acks and ops strictly in version order (a gap fails the test), ``ops``
handled as that many ``op`` messages.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from collab.ot import OTClient


class Editor:
    def __init__(self, url: str, client_id: str) -> None:
        self.url = url
        self.client_id = client_id
        self.seq = 0
        self.ws: Any = None
        self.ot: OTClient | None = None
        self.hello: dict[str, Any] = {}
        self.others: list[dict[str, Any]] = []  # non-edit messages seen
        self.errors: list[dict[str, Any]] = []
        self.versions: list[int] = []  # every version seen, in order
        self.reader: asyncio.Task[None] | None = None
        self.inflight_seq: int | None = None

    async def __aenter__(self) -> Editor:
        self.ws = await websockets.connect(self.url, max_size=None)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert hello["type"] == "hello", hello
        self.hello = hello["payload"]
        doc = self.hello["document"]
        self.ot = OTClient(doc["content"], doc["version"])
        self.reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.reader:
            self.reader.cancel()
        await self.ws.close()

    @property
    def text(self) -> str:
        assert self.ot is not None
        return self.ot.text

    async def _read(self) -> None:
        assert self.ot is not None
        async for raw in self.ws:
            message = json.loads(raw)
            kind, payload = message["type"], message["payload"]
            if kind == "ack":
                assert payload["version"] == self.ot.version + 1, (payload, self.ot.version)
                self.ot.ack(payload["version"])
                self.versions.append(payload["version"])
                self.inflight_seq = None
                await self._flush()
            elif kind in ("op", "ops"):
                for op in payload["ops"] if kind == "ops" else [payload]:
                    assert op["version"] == self.ot.version + 1, (op["version"], self.ot.version)
                    self.ot.remote(op["version"], op["op"])
                    self.versions.append(op["version"])
            elif kind == "error":
                self.errors.append(payload)
            else:
                self.others.append(message)

    async def _flush(self) -> None:
        assert self.ot is not None
        out = self.ot.take_outgoing()
        if out is None:
            return
        version, op = out
        self.seq += 1
        self.inflight_seq = self.seq
        await self.ws.send(
            json.dumps(
                {
                    "type": "edit",
                    "payload": {"version": version, "op": op, "client_id": self.client_id, "seq": self.seq},
                }
            )
        )

    async def edit(self, op: list[Any]) -> None:
        assert self.ot is not None
        self.ot.local(op)
        await self._flush()

    async def send(self, type_: str, payload: Any) -> None:
        await self.ws.send(json.dumps({"type": type_, "payload": payload}))

    def synced(self, version: int) -> bool:
        assert self.ot is not None
        return self.ot.state == "synchronized" and self.ot.version == version

    async def wait_synced(self, version: int, timeout: float = 20) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.synced(version):
            if self.reader and self.reader.done():
                self.reader.result()  # re-raise what broke the reader
                raise AssertionError("connection closed before sync")
            assert asyncio.get_running_loop().time() < deadline, (self.client_id, self.ot and self.ot.state)
            await asyncio.sleep(0.02)


async def settle(editors: list[Editor], server_state: Any, timeout: float = 30) -> dict[str, Any]:
    """Wait until every edit is acked, then until everyone holds the server's final version.

    ``server_state()`` returns the document as the REST API shows it; returned too.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while any(e.ot and e.ot.state != "synchronized" for e in editors):
        assert asyncio.get_running_loop().time() < deadline, [e.ot and e.ot.state for e in editors]
        await asyncio.sleep(0.05)
    final: dict[str, Any] = server_state()
    for e in editors:
        await e.wait_synced(final["version"], timeout)  # every version arrives, in order
        assert not e.errors, e.errors
    assert {e.text for e in editors} == {final["content"]}
    return final
