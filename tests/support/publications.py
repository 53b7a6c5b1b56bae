"""What ``editing.ops_committed`` sent, recorded by a receiver beside the real one (the hub's)::

    with recording() as seen:
        editing.commit(EditRequest(doc.pk, 0, ["x"]))
    assert [p.versions for p in seen] == [[1]]

The signal is sent from ``transaction.on_commit``: a test that expects it must
commit, so it needs ``django_db(transaction=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from collab.editing import CommittedOp, ops_committed


@dataclass(frozen=True)
class Publication:
    """One ``ops_committed`` as a receiver saw it."""

    document_id: str
    ops: list[CommittedOp]
    in_transaction: bool  # was a transaction still open when it was sent

    @property
    def versions(self) -> list[int]:
        return [op.version for op in self.ops]


@contextmanager
def recording() -> Iterator[list[Publication]]:
    seen: list[Publication] = []

    def record(sender: Any, document_id: str, ops: list[CommittedOp], **kwargs: Any) -> None:
        seen.append(Publication(document_id, list(ops), transaction.get_connection().in_atomic_block))

    ops_committed.connect(record, weak=False)
    try:
        yield seen
    finally:
        ops_committed.disconnect(record)
