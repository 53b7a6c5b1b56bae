"""The text kind's room events: committed ops (a batch of consecutive versions) and cursor moves.

``OpsCommitted`` carries each op's ``op`` payload already serialized, so JSON is
encoded once per op, never per subscriber; ``memo`` (never sent between
processes) keeps the frames built for a (last version sent, sender) pair, so
most subscribers of a batch share the same frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collab.editing import CommittedOp
from collab.protocol import dumps
from collab.realtime.events import Event, event_type


@event_type
@dataclass(frozen=True, slots=True)
class OpItem:
    version: int
    session: str
    client_id: str
    seq: int | None
    payload: str  # the ``op`` message payload, serialized once
    committed_at: float = 0.0  # epoch seconds (delivery lag metric); 0: unknown

    @classmethod
    def of(cls, op: CommittedOp) -> OpItem:
        return cls(
            op.version, op.session, op.client_id, op.seq, dumps(op.payload()), op.created_at.timestamp()
        )


@event_type
@dataclass(frozen=True, slots=True)
class OpsCommitted(Event):
    """Consecutive committed ops of one document, ascending."""

    document_id: str
    items: tuple[OpItem, ...]
    memo: dict[tuple[int, str | None], list[str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def first(self) -> int:
        return self.items[0].version

    @property
    def last(self) -> int:
        return self.items[-1].version

    @classmethod
    def of(cls, document_id: str, ops: Sequence[CommittedOp]) -> OpsCommitted:
        return cls(document_id, tuple(OpItem.of(op) for op in sorted(ops, key=lambda o: o.version)))


@event_type
@dataclass(frozen=True, slots=True)
class CursorMoved(Event):
    """A connection's cursor, transformed to ``version`` (anchor and head None: hidden)."""

    document_id: str
    session: str
    user: dict[str, Any]
    version: int
    anchor: int | None
    head: int | None
    memo: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # frames built
