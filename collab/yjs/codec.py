"""Message framing of the y-websocket and Hocuspocus protocols (lib0 encoding), nothing else.

pycrdt holds, diffs and merges Yjs state: every update and state vector inside a
frame is pycrdt's (Yjs update format v1). This module only reads and writes the
envelopes around them, defensively (every length is checked, a short or
malformed frame raises ``FrameError``): the y-protocols sync and awareness
messages (pycrdt's helpers for them work on a ``Doc`` or a stateful
``pycrdt.Awareness`` as they parse, without the checks a server makes before
it applies anything, and know nothing of the sessions that introduced each
awareness client) and the Hocuspocus additions::

    y-websocket frame:  varuint type, then for Sync(0): varuint step, varbytes
                                           for Awareness(1): varbytes
                                           QueryAwareness(3): nothing
    Hocuspocus frame:   varstring document name, then the same, plus
                        Auth(2): varuint 0, varstring token[, varstring provider version]
                        Stateless(5): varstring; CLOSE(7); SyncStatus(8): varint 0/1;
                        Ping(9)/Pong(10) are single bytes with no document name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

from pycrdt import write_var_uint

MAX_VARUINT_BYTES = 8  # 2**53 (a JS safe integer) fits in 8 varuint bytes


class FrameError(ValueError):
    """A frame that does not follow the protocol."""


class Message(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3
    SYNC_REPLY = 4  # Hocuspocus: a sync message that asks for no sync step 1 in return
    STATELESS = 5
    BROADCAST_STATELESS = 6
    CLOSE = 7
    SYNC_STATUS = 8
    PING = 9
    PONG = 10


class Sync(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class Auth(IntEnum):
    TOKEN = 0
    PERMISSION_DENIED = 1
    AUTHENTICATED = 2


class Reader:
    """A cursor over one frame; every read checks the bounds."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def varuint(self) -> int:
        value, shift = 0, 0
        for _ in range(MAX_VARUINT_BYTES):
            if self.pos >= len(self.data):
                raise FrameError("the frame ends inside a number")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
        raise FrameError("a number in the frame is too long")

    def varbytes(self) -> bytes:
        length = self.varuint()
        end = self.pos + length
        if end > len(self.data):
            raise FrameError("the frame ends inside a byte string")
        out = bytes(self.data[self.pos : end])
        self.pos = end
        return out

    def varstring(self) -> str:
        try:
            return self.varbytes().decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("a string in the frame is not UTF-8") from None

    def rest(self) -> bytes:
        out = bytes(self.data[self.pos :])
        self.pos = len(self.data)
        return out


def varbytes(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def varstring(text: str) -> bytes:
    return varbytes(text.encode("utf-8"))


# -- message bodies (after the Hocuspocus name prefix; a whole y-websocket frame) ----
def sync_step1(state_vector: bytes) -> bytes:
    return bytes((Message.SYNC, Sync.STEP1)) + varbytes(state_vector)


def sync_step2(update: bytes) -> bytes:
    return bytes((Message.SYNC, Sync.STEP2)) + varbytes(update)


def sync_update(update: bytes) -> bytes:
    return bytes((Message.SYNC, Sync.UPDATE)) + varbytes(update)


def awareness(update: bytes) -> bytes:
    return bytes((Message.AWARENESS,)) + varbytes(update)


def query_awareness() -> bytes:
    return bytes((Message.QUERY_AWARENESS,))


def authenticated(scope: str) -> bytes:
    return bytes((Message.AUTH, Auth.AUTHENTICATED)) + varstring(scope)


def permission_denied(reason: str) -> bytes:
    return bytes((Message.AUTH, Auth.PERMISSION_DENIED)) + varstring(reason)


def sync_status(applied: bool) -> bytes:
    return bytes((Message.SYNC_STATUS, 1 if applied else 0))  # a varint: 0 and 1 are one byte


def close(reason: str) -> bytes:
    return bytes((Message.CLOSE,)) + varstring(reason)


PING = bytes((Message.PING,))
PONG = bytes((Message.PONG,))


@dataclass(frozen=True, slots=True)
class SyncMessage:
    step: Sync
    payload: bytes  # a state vector (step 1) or an update (step 2, update)


def read_sync(reader: Reader) -> SyncMessage:
    step = reader.varuint()
    if step not in (Sync.STEP1, Sync.STEP2, Sync.UPDATE):
        raise FrameError(f"unknown sync message type {step}")
    return SyncMessage(Sync(step), reader.varbytes())


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    client: int
    clock: int
    state: object  # None when the client left


def read_awareness(update: bytes) -> list[AwarenessEntry]:
    """The entries of an awareness update (y-protocols); raises FrameError when malformed."""
    reader = Reader(update)
    entries = []
    for _ in range(reader.varuint()):
        client, clock = reader.varuint(), reader.varuint()
        raw = reader.varstring()
        try:
            state = json.loads(raw) if raw else None
        except ValueError:
            raise FrameError("an awareness state is not JSON") from None
        entries.append(AwarenessEntry(client, clock, state))
    if not reader.done():
        raise FrameError("the awareness update has trailing bytes")
    return entries


def write_awareness(entries: list[AwarenessEntry]) -> bytes:
    out = [write_var_uint(len(entries))]
    for e in entries:
        out += [write_var_uint(e.client), write_var_uint(e.clock)]
        out.append(varstring(json.dumps(e.state, separators=(",", ":"))))
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class AuthMessage:
    token: str
    provider_version: str | None


def read_auth(reader: Reader) -> AuthMessage:
    kind = reader.varuint()
    if kind != Auth.TOKEN:
        raise FrameError(f"a client sends only token auth messages, not {kind}")
    token = reader.varstring()
    version = reader.varstring() if not reader.done() else None
    return AuthMessage(token, version)
