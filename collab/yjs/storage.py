"""Durable state of yjs documents: the update log, snapshots, compaction. Synchronous (database) code.

A yjs document's state is its latest ``YjsSnapshot`` (one merged update) plus
every ``YjsUpdate`` after it. ``append`` stores updates in one transaction,
each with the next version (``Document.version`` counts stored updates and
only grows). ``compact`` merges the updates into a new snapshot with pycrdt;
it keeps the previous generation (updates after the previous snapshot), so a
reader that picked the older snapshot a moment before still finds every
update after it::

    loaded = load(doc_id)               # Parts(version, [snapshot, update, ...])
    done = append(doc_id, [Incoming(update_bytes, user, session)], known=loaded.version)
    compact(doc_id)                     # the state is unchanged, the log is shorter
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pycrdt
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.db.models.functions import Length
from django.utils import timezone

from collab import events, versions
from collab.conf import collab_settings
from collab.exceptions import NotFound
from collab.models import Document, Kind, YjsSnapshot, YjsUpdate
from collab.webhooks import outbox as webhook_outbox

log = logging.getLogger(__name__)

CONTENT = "content"  # the root Y.Text whose text REST serves as ``content``
EMPTY_UPDATE = b"\x00\x00"
LOAD_RETRIES = 5

# pycrdt's Doc is generic in the type of its roots (and Doc.get returns that type, not the one asked
# for): a document's roots are of several types (Y.Text, Y.XmlFragment), so it is a Doc[Any].
YDoc: TypeAlias = pycrdt.Doc[Any]


def doc_of(updates: Iterable[bytes] = ()) -> YDoc:
    """A new document with ``updates`` applied in order (none: an empty document)."""
    doc: YDoc = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return doc


@dataclass(frozen=True, slots=True)
class Parts:
    """What to apply, in order, to reach ``version``: a snapshot state and/or updates."""

    version: int
    parts: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Incoming:
    data: bytes
    user: Any = None
    session: str = ""


@dataclass(frozen=True, slots=True)
class Appended:
    first: int  # version of the first stored update
    last: int  # version of the last one (= the document's version now)
    missed: Parts | None = None  # updates between what the caller knew and ``first``, if any
    since_snapshot: int = 0  # updates stored after the latest snapshot
    created_at: Any = field(default=None, compare=False)


def limits() -> dict[str, int]:
    cfg = collab_settings
    return {
        "max_message_bytes": int(cfg["MAX_MESSAGE_BYTES"]),
        "max_document_bytes": int(cfg["MAX_DOCUMENT_BYTES"]),
    }


def _latest_snapshot(document_id: Any) -> tuple[int, bytes]:
    row = (
        YjsSnapshot.objects.filter(document_id=document_id)
        .order_by("-version")
        .values_list("version", "state")
        .first()
    )
    return (0, EMPTY_UPDATE) if row is None else (row[0], bytes(row[1]))


def _updates_after(document_id: Any, version: int) -> list[tuple[int, bytes]]:
    rows = (
        YjsUpdate.objects.filter(document_id=document_id, version__gt=version)
        .order_by("version")
        .values_list("version", "data")
    )
    return [(v, bytes(d)) for v, d in rows]


def _contiguous(start: int, rows: Sequence[tuple[int, bytes]]) -> bool:
    return all(v == start + i + 1 for i, (v, _) in enumerate(rows))


def since(document_id: Any, known: int) -> Parts:
    """What a copy at version ``known`` lacks: the updates after it, or (compacted away) the latest
    snapshot and the updates after that. Applying a part twice is harmless (Yjs updates are idempotent)."""
    for _ in range(LOAD_RETRIES):
        current = Document.objects.filter(pk=document_id).values_list("version", flat=True).first()
        if current is None:
            raise NotFound("No such document.")
        if known >= current:
            return Parts(current, ())
        rows = _updates_after(document_id, known)
        if rows and rows[0][0] == known + 1 and _contiguous(known, rows) and rows[-1][0] >= current:
            return Parts(rows[-1][0], tuple(d for _, d in rows))
        snap_version, state = _latest_snapshot(document_id)
        rows = _updates_after(document_id, snap_version)
        if _contiguous(snap_version, rows) and max(snap_version, rows[-1][0] if rows else 0) >= current:
            return Parts(rows[-1][0] if rows else snap_version, (state, *(d for _, d in rows)))
        log.debug("yjs log of %s moved while reading; retrying", document_id)
    raise RuntimeError(f"could not read a consistent state of {document_id}")


def load(document_id: Any) -> Parts:
    """The whole stored state of a document: its latest snapshot and the updates after it."""
    return since(document_id, -1)


def merged(parts: Parts) -> bytes:
    """The state as one compact update (deleted content garbage-collected)."""
    return bytes(doc_of(parts.parts).get_update())


def text_of(parts: Parts | Iterable[bytes]) -> str:
    """The text of the root ``Y.Text`` named ``content`` ("" when there is none or it is another type)."""
    doc = doc_of(parts.parts if isinstance(parts, Parts) else parts)
    return str(doc.get(CONTENT, type=pycrdt.Text))


def _locked_yjs_document(document_id: Any) -> Document:
    qs = Document.objects.order_by().only("id", "version", "kind", "updated_at")
    if connection.features.has_select_for_update:
        qs = qs.select_for_update()
    document = qs.filter(pk=document_id).first()
    if document is None:
        raise NotFound("No such document.")
    return document


def append(document_id: Any, updates: Sequence[Incoming], *, known: int | None = None) -> Appended:
    """Store updates in one transaction, each with its own version.

    ``known``: the version the caller's copy has; the updates stored since then
    by others (other processes) come back in ``missed``, so the caller catches up.
    """
    if not updates:
        raise ValueError("nothing to append")
    now = timezone.now()
    with transaction.atomic():
        document = _locked_yjs_document(document_id)
        base = document.version
        if versions.paused(document.updated_at, now):  # the first update after a pause
            versions.pin_automatic(document.pk, base, state=merged(load(document_id)))
        missed = None
        if known is not None and known < base:
            missed = since(document_id, known)
        rows = [
            YjsUpdate(
                document_id=document.pk,
                version=base + i + 1,
                data=u.data,
                session=u.session,
                user=u.user if getattr(u.user, "is_authenticated", False) else None,
                created_at=now,
            )
            for i, u in enumerate(updates)
        ]
        YjsUpdate.objects.bulk_create(rows)
        last = base + len(rows)
        updated = Document.objects.filter(pk=document.pk, version=base).update(version=last, updated_at=now)
        if updated != 1:
            raise IntegrityError("document version moved during append")
        webhook_outbox.document_changed(document.pk, base + 1, last)
        events.edits_were_committed(document.pk, list(range(base + 1, last + 1)), "yjs")
        snap_version = (
            YjsSnapshot.objects.filter(document_id=document.pk)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
            or 0
        )
    return Appended(base + 1, last, missed, last - snap_version, now)


def current_version(document_id: Any) -> int | None:
    return Document.objects.filter(pk=document_id).values_list("version", flat=True).first()


def bytes_since_snapshot(document_id: Any) -> int:
    snap_version = (
        YjsSnapshot.objects.filter(document_id=document_id)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
        or 0
    )
    total = (
        YjsUpdate.objects.filter(document_id=document_id, version__gt=snap_version)
        .aggregate(n=Sum(Length("data")))
        .get("n")
    )
    return int(total or 0)


def compact(document_id: Any) -> int | None:
    """Merge the snapshot and the updates after it into a new snapshot at the current version.

    Keeps the updates after the previous snapshot (one generation) and drops
    everything older. Returns the new snapshot's version, or None when there
    was nothing to compact (or another process did it at the same moment).
    """
    parts = load(document_id)
    snap_version, _ = _latest_snapshot(document_id)
    if parts.version <= snap_version:
        return None
    state = merged(parts)
    try:
        with transaction.atomic():
            YjsSnapshot.objects.create(document_id=document_id, version=parts.version, state=state)
            YjsUpdate.objects.filter(document_id=document_id, version__lte=snap_version).delete()
            YjsSnapshot.objects.filter(document_id=document_id, version__lt=snap_version).delete()
    except IntegrityError:
        return None
    return parts.version


def should_compact(since_snapshot: int, bytes_since: int) -> bool:
    cfg = collab_settings
    return since_snapshot >= int(cfg["YJS_COMPACT_EVERY"]) or bytes_since >= int(cfg["YJS_COMPACT_BYTES"])


def is_yjs(document: Document) -> bool:
    return bool(document.kind == Kind.YJS)


def check_update(data: bytes) -> None:
    """Raise ValueError unless ``data`` decodes as a Yjs update (v1)."""
    doc_of([data])
