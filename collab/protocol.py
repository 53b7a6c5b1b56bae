"""Wire messages: pydantic schemas discriminated on ``type``. No Django.

Every frame is ``{"type": "<name>", "payload": {...}}``. ``parse`` turns raw
frame text into a typed message or raises ``ProtocolError`` (``collab.exceptions``)
with a code from PROTOCOL.md section 5 and a sentence that names the offending field::

    >>> parse('{"type": "ping", "payload": {"t": 1}}').payload
    {'t': 1}
    >>> parse('{"type": "sync", "payload": {"version": -1}}')
    Traceback (most recent call last):
    collab.exceptions.ProtocolError: payload.version: Input should be greater than or equal to 0

``frame(type, payload)`` serializes a server message once, compactly. The codes
(``ErrorCode``, ``CloseCode``) live in ``collab.codes`` and are re-exported here.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from collab.codes import CloseCode, ErrorCode
from collab.exceptions import ProtocolError

__all__ = [
    "PROTOCOL_VERSION",
    "CloseCode",
    "ErrorCode",
    "MessageType",
    "ProtocolError",
    "dumps",
    "error_frame",
    "frame",
    "parse",
    "parse_presence_room",
]

PROTOCOL_VERSION = 1
META_MAX_BYTES = 1024
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class MessageType(StrEnum):
    EDIT = "edit"
    SYNC = "sync"
    CURSOR = "cursor"
    PRESENCE = "presence"
    PING = "ping"
    # server to client
    HELLO = "hello"
    ACK = "ack"
    OP = "op"
    OPS = "ops"
    ROLE = "role"
    PONG = "pong"
    ERROR = "error"
    # presence room (/ws/presence/)
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    SUBSCRIBED = "subscribed"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


Version = Annotated[StrictInt, Field(ge=0)]
Position = Annotated[StrictInt, Field(ge=0)]


class EditPayload(_Payload):
    version: Version
    op: list[Any]
    client_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    seq: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)]

    @field_validator("client_id")
    @classmethod
    def _storable(cls, value: str) -> str:
        if "\x00" in value or _LONE_SURROGATE.search(value):
            raise ValueError("client_id must be text without NUL characters or lone surrogates")
        return value


class SyncPayload(_Payload):
    version: Version


class CursorPayload(_Payload):
    version: Version
    anchor: Position | None
    head: Position | None

    @model_validator(mode="after")
    def _both_or_neither(self) -> CursorPayload:
        if (self.anchor is None) != (self.head is None):
            raise ValueError("anchor and head must both be integers, or both null to hide")
        return self


class PresencePayload(_Payload):
    status: Literal["active", "idle"] = "active"
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("meta")
    @classmethod
    def _meta_small(cls, meta: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(dumps(meta).encode())
        except UnicodeEncodeError:
            raise ValueError("meta must not contain lone surrogates") from None
        if size > META_MAX_BYTES:
            raise ValueError(f"meta is {size} bytes as JSON; at most {META_MAX_BYTES} are allowed")
        return meta


class DocumentsPayload(_Payload):
    documents: Annotated[list[StrictStr], Field(min_length=1, max_length=100)]


class Edit(BaseModel):
    type: Literal["edit"]
    payload: EditPayload


class Sync(BaseModel):
    type: Literal["sync"]
    payload: SyncPayload


class Cursor(BaseModel):
    type: Literal["cursor"]
    payload: CursorPayload


class Presence(BaseModel):
    type: Literal["presence"]
    payload: PresencePayload


class Ping(BaseModel):
    type: Literal["ping"]
    payload: Any = Field(default_factory=dict)


class Subscribe(BaseModel):
    type: Literal["subscribe"]
    payload: DocumentsPayload


class Unsubscribe(BaseModel):
    type: Literal["unsubscribe"]
    payload: DocumentsPayload


DocumentMessage = Annotated[Edit | Sync | Cursor | Presence | Ping, Field(discriminator="type")]
PresenceRoomMessage = Annotated[Subscribe | Unsubscribe | Ping, Field(discriminator="type")]
_DOCUMENT = TypeAdapter[Any](DocumentMessage)
_PRESENCE_ROOM = TypeAdapter[Any](PresenceRoomMessage)
DOCUMENT_TYPES = frozenset({"edit", "sync", "cursor", "presence", "ping"})
PRESENCE_ROOM_TYPES = frozenset({"subscribe", "unsubscribe", "ping"})


def dumps(value: Any, *, ascii_only: bool = False) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)


def frame(type_: str, payload: Any, *, echo: bool = False) -> str:
    """A server message. ``echo``: it repeats client input, which may hold lone surrogates
    (valid as JSON escapes, not as UTF-8), so it is written with ASCII escapes."""
    return dumps({"type": str(type_), "payload": payload}, ascii_only=echo)


def error_frame(code: str, message: str, ref: Any = None) -> str:
    return frame(MessageType.ERROR, {"code": str(code), "message": message, "ref": ref}, echo=True)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def ref_of(text: str | bytes | None) -> Any:
    """The ``ref`` of a raw frame (for errors about messages that are not parsed, e.g. rate limited)."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return None
    return _ref(data) if isinstance(data, dict) else None


def _ref(data: dict[str, Any]) -> Any:
    payload = data.get("payload")
    if data.get("type") == "edit" and isinstance(payload, dict) and "client_id" in payload:
        return {"client_id": payload.get("client_id"), "seq": payload.get("seq")}
    return data.get("type") if isinstance(data.get("type"), str) else None


def _describe(exc: PydanticValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = [str(p) for p in err["loc"][1:]]  # drop the discriminator tag
        where = ".".join(loc) or "message"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def _parse(
    text: str | bytes | None, *, max_bytes: int, adapter: TypeAdapter[Any], types: frozenset[str]
) -> Any:
    if not isinstance(text, str):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "Binary frames are not supported: send JSON as a text frame."
        )
    if len(text) > max_bytes // 4 and len(text.encode()) > max_bytes:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"The message is {len(text.encode())} bytes; at most {max_bytes} are allowed.",
        )
    try:
        data = json.loads(text, parse_constant=_no_constants)  # NaN/Infinity are not JSON
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.INVALID_JSON, "The message is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, 'A message must be a JSON object with "type" and "payload".'
        )
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, 'type: a message needs a string "type".')
    if kind not in types:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"Unknown message type {kind!r}.", kind)
    try:
        return adapter.validate_python(data)
    except PydanticValidationError as exc:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, _describe(exc), _ref(data)) from None


def parse(text: str | bytes | None, *, max_bytes: int = 262144) -> Any:
    """A document-room message (edit, sync, cursor, presence, ping), or ProtocolError."""
    return _parse(text, max_bytes=max_bytes, adapter=_DOCUMENT, types=DOCUMENT_TYPES)


def parse_presence_room(text: str | bytes | None, *, max_bytes: int = 262144) -> Any:
    """A presence-room message (subscribe, unsubscribe, ping), or ProtocolError."""
    return _parse(text, max_bytes=max_bytes, adapter=_PRESENCE_ROOM, types=PRESENCE_ROOM_TYPES)
