"""What the benchmark's writer says, per protocol, and how it knows an edit landed.

- ``TextSpeaker``: collab's text protocol (``edit`` frames; the ``ack`` settles one).
- ``RelaySpeaker``: the bare relay (the same frames; its echo of the writer's own frame settles one).
- ``YjsSpeaker``: the Hocuspocus protocol on ``/ws/hocuspocus``: each edit is a Yjs update (pycrdt)
  inserting the stamp at the start of the ``Y.Text`` "content"; the server's ``SyncStatus`` 1, sent
  once the update is stored, settles the oldest unsettled edit (they come in order).

Subscribers of a yjs document listen on ``/ws/yjs/{id}`` as stock y-websocket clients do:
``yjs_stamps`` finds the stamps in a sync frame (Yjs keeps inserted strings as UTF-8 in its v1
updates, so no decoding is needed to find them).
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import pycrdt
from websockets.asyncio.client import ClientConnection

SYNC, AUTH, SYNC_STATUS = 0, 2, 8  # Hocuspocus message types (y-websocket: SYNC alone)
SYNC_STEP2, SYNC_UPDATE = 1, 2
AUTH_TOKEN, AUTH_DENIED, AUTH_OK = 0, 1, 2
STAMP = re.compile(rb"~([0-9a-f]+);")


def stamp(now: float) -> str:
    return f"~{int(now * 1_000_000):x};"


def edit_frame(version: int, op: list[Any], client_id: str, seq: int) -> str:
    payload = {"version": version, "op": op, "client_id": client_id, "seq": seq}
    return json.dumps({"type": "edit", "payload": payload}, separators=(",", ":"))


def varstring(text: str) -> bytes:
    data = text.encode()
    return pycrdt.write_var_uint(len(data)) + data


def read_varuint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def yjs_stamps(frame: bytes) -> list[float]:
    """The send times stamped into a y-websocket sync step 2 or update frame (else none)."""
    if len(frame) < 2 or frame[0] != SYNC or frame[1] not in (SYNC_STEP2, SYNC_UPDATE):
        return []
    return [int(m.group(1), 16) / 1_000_000 for m in STAMP.finditer(frame)]


class TextSpeaker:
    """collab's text protocol: ``edit`` frames, acked by ``ack`` (or refused by an ``error``)."""

    collab = True

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.known = 0
        self.errors = 0
        self.first_error = ""

    def opened(self, version: int) -> None:
        self.known = version

    async def handshake(self, ws: ClientConnection) -> None:
        return None

    def edit(self, seq: int, now: float) -> str:
        return edit_frame(self.known, [stamp(now)], self.client_id, seq)

    def settled(self, raw: str | bytes) -> list[int]:
        message = json.loads(raw)
        kind, payload = message.get("type"), message.get("payload") or {}
        if kind == "ack":
            self.known = max(self.known, payload["version"])
            return [payload["seq"]]
        if kind == "error":
            self.errors += 1
            self.first_error = self.first_error or json.dumps(payload)
            ref = payload.get("ref")
            if isinstance(ref, dict) and "seq" in ref:
                return [ref["seq"]]
        return []


class RelaySpeaker(TextSpeaker):
    """The relay: the same frames; its echo of the writer's own frame stands for the ack."""

    collab = False

    def settled(self, raw: str | bytes) -> list[int]:
        message = json.loads(raw)
        payload = message.get("payload") or {}
        if message.get("type") == "edit" and payload.get("client_id") == self.client_id:
            return [payload["seq"]]
        return []


class YjsSpeaker:
    """A Hocuspocus client of one document: Yjs updates out, ``SyncStatus`` back."""

    collab = False

    def __init__(self, document_id: str, token: str) -> None:
        self.prefix = varstring(document_id)
        self.token = token
        self.doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
        self.text = self.doc.get("content", type=pycrdt.Text)
        self.unsettled: deque[int] = deque()
        self.errors = 0
        self.first_error = ""

    def opened(self, version: int) -> None:
        return None

    async def handshake(self, ws: ClientConnection) -> None:
        """Authenticate (the token message), and wait for ``Authenticated``."""
        await ws.send(self.prefix + bytes([AUTH, AUTH_TOKEN]) + varstring(self.token))
        while True:
            frame = await ws.recv()
            assert isinstance(frame, bytes), frame
            length, at = read_varuint(frame, 0)
            at += length  # past the document name
            if frame[at] == AUTH and frame[at + 1] == AUTH_OK:
                return
            if frame[at] == AUTH and frame[at + 1] == AUTH_DENIED:
                raise RuntimeError(f"Hocuspocus denied the writer: {frame!r}")

    def edit(self, seq: int, now: float) -> bytes:
        before = self.doc.get_state()
        self.text.insert(0, stamp(now))
        self.unsettled.append(seq)
        return self.prefix + pycrdt.create_update_message(self.doc.get_update(before))

    def settled(self, raw: str | bytes) -> list[int]:
        if not isinstance(raw, bytes):
            return []
        at = len(self.prefix)
        if raw[: len(self.prefix)] != self.prefix or len(raw) < at + 2 or raw[at] != SYNC_STATUS:
            return []
        if raw[at + 1] != 1:
            self.errors += 1
            self.first_error = self.first_error or f"SyncStatus 0 ({raw!r})"
        return [self.unsettled.popleft()] if self.unsettled else []
