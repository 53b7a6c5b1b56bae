"""Typed room events: frozen dataclasses registered by name, so they cross processes.

The hub hands every event of a room to each member's ``on_event``; members
``match`` on the class. An event crosses processes as a plain, msgpack-safe
dict (``to_message``/``from_message``); only registered classes can be
rebuilt, nested ones included::

    @event_type
    @dataclass(frozen=True, slots=True)
    class DocumentDeleted(Event):
        document_id: str

    match event:
        case DocumentDeleted(document_id=doc):
            ...

``origin`` is the process that created the event (``PROCESS_ID``): the hub
uses it to deliver an event to this process's members exactly once.
A document kind defines its own events in its own package (``collab.text.events``).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "PROCESS_ID",
    "AccessChanged",
    "CredentialsRevoked",
    "DocumentDeleted",
    "Event",
    "PresenceChanged",
    "Resync",
    "SessionClosed",
    "event_type",
    "from_message",
    "to_message",
]

PROCESS_ID = uuid.uuid4().hex
_TAG = "@event"

E = TypeVar("E", bound=type)
_REGISTRY: dict[str, type[Any]] = {}
_TUPLE_FIELDS: dict[str, frozenset[str]] = {}


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every room event. ``origin``: the process that made it."""

    origin: str = field(default=PROCESS_ID, kw_only=True)


def event_type(cls: E) -> E:
    """Register a dataclass (an ``Event`` or a value nested in one) so it can cross processes."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} must be a dataclass")
    name = f"{cls.__module__}.{cls.__qualname__}"
    if _REGISTRY.get(name, cls) is not cls:
        raise TypeError(f"two event types named {name}")
    _REGISTRY[name] = cls
    _TUPLE_FIELDS[name] = frozenset(
        f.name for f in dataclasses.fields(cls) if str(f.type).replace(" ", "").startswith("tuple")
    )
    return cls


def _name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = _name(value)
        if name not in _REGISTRY:
            raise TypeError(f"{name} is not registered with @event_type")
        out = {_TAG: name}
        for f in dataclasses.fields(value):
            if f.init and f.compare:  # caches (compare=False) stay in their process
                out[f.name] = _encode(getattr(value, f.name))
        return out
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        name = value.get(_TAG)
        if name is None:
            return {k: _decode(v) for k, v in value.items()}
        cls = _REGISTRY.get(name)
        if cls is None:
            raise ValueError(f"unknown event type {name!r}")
        tuples = _TUPLE_FIELDS[name]
        kwargs = {}
        for k, v in value.items():
            if k == _TAG:
                continue
            v = _decode(v)
            kwargs[k] = tuple(v) if k in tuples and isinstance(v, list) else v
        return cls(**kwargs)
    return value


def to_message(event: Event) -> dict[str, Any]:
    """The event as a msgpack-safe dict (for the channel layer)."""
    return dict(_encode(event))


def from_message(message: dict[str, Any]) -> Event:
    """Rebuild an event made by ``to_message`` (in any process running the same code)."""
    event = _decode(message)
    if not isinstance(event, Event):
        raise ValueError("not an event")
    return event


# -- events of every document kind ------------------------------------------------
@event_type
@dataclass(frozen=True, slots=True)
class PresenceChanged(Event):
    """Connections joined, left or changed their presence entry (PROTOCOL.md section 5)."""

    document_id: str
    joined: list[dict[str, Any]] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    exclude: str | None = None  # a session that must not get it (the joiner itself)
    memo: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # frames built


@event_type
@dataclass(frozen=True, slots=True)
class AccessChanged(Event):
    """Roles on the document may have changed: every connection re-checks its own."""

    document_id: str


@event_type
@dataclass(frozen=True, slots=True)
class DocumentDeleted(Event):
    """The document is gone: its connections close with 4410."""

    document_id: str


@event_type
@dataclass(frozen=True, slots=True)
class SessionClosed(Event):
    """An administrator closed one connection (4001)."""

    document_id: str
    session: str
    reason: str = "An administrator closed this session."


@event_type
@dataclass(frozen=True, slots=True)
class Resync(Event):
    """This process may have missed events of the room (the channel layer failed or lost its
    groups): members bring their connections up to ``version``, read from the database.
    Made by ``collab.realtime.recovery`` and delivered only to this process's members."""

    document_id: str
    version: int


@event_type
@dataclass(frozen=True, slots=True)
class CredentialsRevoked(Event):
    """Published to a user's room (``collab.realtime.credentials.user_room``): credentials of
    ``user_id`` ended, and the connections they authenticated close with 4401.

    ``what``: ``"session"`` (a logout: ``digest`` names the session), ``"token"`` (a deleted
    token: ``digest`` names it), ``"password"`` (sessions whose stored auth hash no longer
    matches), ``"user"`` (deactivated or deleted: every connection). A digest is a salted HMAC
    of the key, never the key itself."""

    user_id: int
    what: str
    digest: str = ""
