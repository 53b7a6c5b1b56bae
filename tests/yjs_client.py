"""Test-side Yjs clients on pycrdt: y-websocket and Hocuspocus, over a communicator or a real socket.

They speak the binary protocols the way the stock providers do (sync step 1 on
open, step 2 in answer to the server's step 1, an update message per local
change, awareness), and record what they hear::

    client = YClient(CommunicatorLink(comm))
    await client.start()
    await client.until(lambda: client.synced)
    client.type(0, "hi")              # a local edit, sent as an update message
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pycrdt

from collab.yjs import codec
from collab.yjs.codec import AwarenessEntry, Message, Reader, Sync


class Closed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class CommunicatorLink:
    """Channels' WebsocketCommunicator."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm

    async def send(self, data: bytes) -> None:
        await self.comm.send_to(bytes_data=data)

    async def recv(self, timeout: float) -> bytes:
        # not receive_output: its timeout cancels the application
        if self.comm.future.done():
            self.comm.future.result()  # the application crashed: say how
        message = await asyncio.wait_for(self.comm.output_queue.get(), timeout)
        if message["type"] == "websocket.close":
            raise Closed(message.get("code"))
        if message.get("bytes") is None:
            raise AssertionError(f"a text frame on a binary protocol: {message}")
        return bytes(message["bytes"])

    async def close(self) -> None:
        await self.comm.disconnect()


class SocketLink:
    """A real socket (``websockets``)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, data: bytes) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float) -> bytes:
        import websockets

        try:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.ConnectionClosed as exc:
            raise Closed(exc.rcvd.code if exc.rcvd else None) from None
        assert isinstance(data, bytes), data
        return data

    async def close(self) -> None:
        await self.ws.close()


class BaseClient:
    def __init__(self, link: Any, client_id: int | None = None) -> None:
        self.link = link
        self.doc = pycrdt.Doc(client_id=client_id) if client_id else pycrdt.Doc()
        self.text = self.doc.get("content", type=pycrdt.Text)
        self.synced = False
        self.awareness: dict[int, Any] = {}
        self.awareness_frames = 0
        self.updates_heard = 0
        self.closed: int | None = None
        self.clock = 0
        self._outgoing: list[bytes] = []
        self._sub = self.doc.observe(self._local_update)
        self._applying = False

    def _local_update(self, event: Any) -> None:
        if not self._applying:
            self._outgoing.append(bytes(event.update))

    def content(self) -> str:
        return str(self.text)

    def type(self, index: int, value: str) -> None:
        """Insert at a code-point index (pycrdt counts UTF-8 bytes)."""
        self.text.insert(len(self.content()[:index].encode()), value)

    async def insert(self, index: int, value: str) -> None:
        """``type`` and send it."""
        self.type(index, value)
        await self.flush()

    async def flush(self) -> None:
        """Send the local changes made since the last flush."""
        raise NotImplementedError

    def delete(self, index: int, length: int) -> None:
        current = self.content()
        start = len(current[:index].encode())
        del self.text[start : start + len(current[index : index + length].encode())]

    def apply(self, update: bytes) -> None:
        self._applying = True
        try:
            self.doc.apply_update(update)
        finally:
            self._applying = False

    def awareness_update(self, state: Any) -> bytes:
        self.clock += 1
        return codec.write_awareness([AwarenessEntry(self.doc.client_id, self.clock, state)])

    def take_outgoing(self) -> list[bytes]:
        out, self._outgoing = self._outgoing, []
        return out

    def handle_body(self, reader: Reader) -> list[bytes]:
        """Handle one message body; returns bodies to answer with."""
        kind = reader.varuint()
        if kind == Message.SYNC:
            message = codec.read_sync(reader)
            if message.step == Sync.STEP1:
                return [codec.sync_step2(bytes(self.doc.get_update(message.payload)))]
            self.apply(message.payload)
            self.updates_heard += 1
            if message.step == Sync.STEP2:
                self.synced = True
        elif kind == Message.AWARENESS:
            self.awareness_frames += 1
            for entry in codec.read_awareness(reader.varbytes()):
                if entry.state is None:
                    self.awareness.pop(entry.client, None)
                else:
                    self.awareness[entry.client] = entry.state
        elif kind == Message.QUERY_AWARENESS:
            return []
        else:
            self.other(kind, reader)
        return []

    def other(self, kind: int, reader: Reader) -> None:
        raise AssertionError(f"unexpected message type {kind}")

    async def pump(self, timeout: float = 0.05) -> None:
        """Handle every frame that arrives within ``timeout`` seconds."""
        await pump(self.link, timeout, self.on_frame, self._closed)

    def _closed(self, code: int | None) -> None:
        self.closed = code

    async def on_frame(self, data: bytes) -> None:
        raise NotImplementedError

    async def until(self, condition: Callable[[], bool], timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; content={self.content()!r} closed={self.closed}")
            if self.closed is not None:
                raise AssertionError(f"closed with {self.closed}")
            await self.pump(0.05)

    async def close(self) -> None:
        await self.link.close()


class YClient(BaseClient):
    """The y-websocket protocol."""

    async def start(self) -> None:
        await self.link.send(codec.sync_step1(bytes(self.doc.get_state())))

    async def on_frame(self, data: bytes) -> None:
        for answer in self.handle_body(Reader(data)):
            await self.link.send(answer)

    async def flush(self) -> None:
        for update in self.take_outgoing():
            await self.link.send(codec.sync_update(update))

    async def set_awareness(self, state: Any) -> None:
        await self.link.send(codec.awareness(self.awareness_update(state)))


class HocusClient(BaseClient):
    """The Hocuspocus protocol for one document name (several clients may share one link)."""

    def __init__(self, link: Any, name: str, token: str = "", client_id: int | None = None) -> None:
        super().__init__(link, client_id)
        self.name = name
        self.prefix = codec.varstring(name)
        self.token = token
        self.scope: str | None = None
        self.denied: str | None = None  # the reason of the last PermissionDenied
        self.denials = 0
        self.statuses: list[bool] = []
        self.closes: list[str] = []
        self.unsynced = 0

    async def send(self, body: bytes) -> None:
        await self.link.send(self.prefix + body)

    async def start(self, version: str | None = "4.0.0") -> None:
        await self.send(auth_message(self.token, version))
        self.unsynced = 1  # like the provider: one for the handshake
        await self.send(codec.sync_step1(bytes(self.doc.get_state())))

    async def on_frame(self, data: bytes) -> None:
        reader = Reader(data)
        name = reader.varstring()
        assert name == self.name, (name, self.name)
        for answer in self.handle_body(reader):
            await self.send(answer)

    def other(self, kind: int, reader: Reader) -> None:
        if kind == Message.AUTH:
            sub = reader.varuint()
            if sub == codec.Auth.AUTHENTICATED:
                self.scope = reader.varstring()
            elif sub == codec.Auth.PERMISSION_DENIED:
                self.denied = reader.varstring()
                self.denials += 1
        elif kind == Message.SYNC_STATUS:
            ok = reader.varuint() == 1
            self.statuses.append(ok)
            if ok and self.unsynced > 0:
                self.unsynced -= 1
        elif kind == Message.CLOSE:
            self.closes.append(reader.varstring())
        else:
            raise AssertionError(f"unexpected message type {kind}")

    async def flush(self) -> None:
        for update in self.take_outgoing():
            self.unsynced += 1
            await self.send(codec.sync_update(update))

    async def set_awareness(self, state: Any) -> None:
        await self.send(codec.awareness(self.awareness_update(state)))


class Mux:
    """Several HocusClients on one link: frames go to the client of their document name."""

    def __init__(self, link: Any) -> None:
        self.link = link
        self.clients: dict[str, HocusClient] = {}
        self.pongs = 0
        self.closed: int | None = None

    def add(self, name: str, token: str = "") -> HocusClient:
        client = HocusClient(self.link, name, token)
        client.pump = self.pump  # type: ignore[method-assign]
        self.clients[name] = client
        return client

    async def pump(self, timeout: float = 0.05) -> None:
        await pump(self.link, timeout, self._route, self._closed)

    async def _route(self, data: bytes) -> None:
        if data == codec.PONG:
            self.pongs += 1
            return
        await self.clients[Reader(data).varstring()].on_frame(data)

    def _closed(self, code: int | None) -> None:
        self.closed = code
        for client in self.clients.values():
            client.closed = code


async def pump(
    link: Any,
    timeout: float,
    on_frame: Callable[[bytes], Awaitable[None]],
    on_closed: Callable[[int | None], None],
) -> None:
    """Hand every frame that arrives within ``timeout`` seconds to ``on_frame``; ``on_closed`` at a close."""
    while True:
        try:
            data = await link.recv(timeout)
        except TimeoutError:
            return
        except Closed as exc:
            on_closed(exc.code)
            return
        await on_frame(data)


def auth_message(token: str, version: str | None = "4.0.0") -> bytes:
    """A Hocuspocus provider's auth message body (4.x adds its version; 2.x and 3.x do not)."""
    auth = bytes((Message.AUTH, codec.Auth.TOKEN)) + codec.varstring(token)
    return auth + codec.varstring(version) if version is not None else auth


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
