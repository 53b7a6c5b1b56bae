"""Retention: older history composed into snapshots, so storage stays bounded.

``manage.py collab_compact`` runs ``compact_all``. For each text document,
the ops older than ``COLLAB_HISTORY_RETENTION`` seconds (up to version C, the
newest of them) are folded into the snapshot at C, and who wrote each part of
the text at C is kept beside it (``CompactedHistory``), so blame still works.
Then the ops up to C, the snapshots before C and the automatic versions before
C are deleted. Named versions keep their own text and are never deleted.

Safe while clients are connected: nothing at or after C changes, the
document row is not locked, and readers that meet a compacted stretch answer
``history_unavailable`` (WebSocket ``sync``, ``GET ops/``: HTTP 410) instead
of wrong text. A yjs document's update log is merged the way its live rooms
do it (``yjs.storage.compact``) and its automatic versions older than the
retention are dropped. Documents quiet for ``COLLAB_HISTORY_IDLE`` get an
automatic version of their current state first::

    report = compact_document(document, now=timezone.now())
    report.ops_deleted
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from collab import editing, history, versions
from collab.conf import collab_settings
from collab.models import CompactedHistory, Document, DocumentVersion, Kind, Operation, Snapshot, YjsUpdate
from collab.yjs import storage as yjs_storage

log = logging.getLogger(__name__)


def retention_seconds() -> float:
    """How long individual ops are kept (``COLLAB_HISTORY_RETENTION``, seconds; 0: forever)."""
    return float(collab_settings["HISTORY_RETENTION"])


@dataclass(frozen=True)
class Report:
    document_id: str
    floor: int | None = None  # where the op log starts now (text documents, when it moved)
    ops_deleted: int = 0
    snapshots_deleted: int = 0
    automatic_deleted: int = 0
    pinned: int | None = None  # the version kept as automatic because the document was idle
    yjs_snapshot: int | None = None  # the version of a new yjs snapshot

    @property
    def changed(self) -> bool:
        moved = (self.floor, self.pinned, self.yjs_snapshot)
        return any(x is not None for x in moved) or self.ops_deleted + self.automatic_deleted > 0


CHUNK = 10_000  # ops read at a time while compacting


def _pin_if_idle(document: Document, now: datetime) -> int | None:
    if not versions.paused(document.updated_at, now):
        return None
    with transaction.atomic():
        locked = Document.objects.order_by()
        if connection.features.has_select_for_update:
            locked = locked.select_for_update()  # as the write paths do: one pin per version
        row = locked.filter(pk=document.pk).values_list("version", "updated_at").first()
        if row is None or not versions.paused(row[1], now):
            return None
        state = yjs_storage.merged(yjs_storage.load(document.pk)) if document.kind == Kind.YJS else None
        pinned = versions.pin_automatic(document.pk, row[0], state=state)
    return None if pinned is None else row[0]


def _compact_text(document: Document, cutoff: datetime) -> tuple[int | None, int, int, int]:
    """Fold the ops older than ``cutoff`` into a snapshot: (new floor, ops, snapshots, automatic deleted)."""
    newest_old = Operation.objects.filter(document=document, created_at__lt=cutoff).aggregate(
        v=Max("version")
    )["v"]
    start = history.floor(document)
    if newest_old is None or start is None or newest_old <= start[0]:
        return None, 0, 0, 0
    begin, authors = start
    for low in range(begin, newest_old, CHUNK):
        ops = history.ops_between(document.pk, low, min(low + CHUNK, newest_old))
        if ops is None:
            log.info("history of %s moved while compacting; skipped", document.pk)
            return None, 0, 0, 0
        authors.replay(ops)
    _, text = editing.snapshot_at(document, newest_old)
    try:
        with transaction.atomic():
            Snapshot.objects.get_or_create(document=document, version=newest_old, defaults={"content": text})
            CompactedHistory.objects.update_or_create(
                document=document, defaults={"version": newest_old, "authors": authors.runs}
            )
            ops_deleted, _ = Operation.objects.filter(document=document, version__lte=newest_old).delete()
            snaps_deleted, _ = Snapshot.objects.filter(document=document, version__lt=newest_old).delete()
            autos_deleted, _ = DocumentVersion.objects.filter(
                document=document, automatic=True, version__lt=newest_old
            ).delete()
    except IntegrityError:
        log.info("another compaction of %s ran at the same time; skipped", document.pk)
        return None, 0, 0, 0
    return newest_old, ops_deleted, snaps_deleted, autos_deleted


def _compact_yjs(document: Document, cutoff: datetime) -> tuple[int | None, int]:
    snapshot = None
    if YjsUpdate.objects.filter(document=document).exists():
        snapshot = yjs_storage.compact(document.pk)
    autos_deleted, _ = DocumentVersion.objects.filter(
        document=document, automatic=True, created_at__lt=cutoff
    ).delete()
    return snapshot, autos_deleted


def compact_document(
    document: Document, *, now: datetime | None = None, retention: float | None = None
) -> Report:
    """Compact one document's history (see the module docstring)."""
    now = now or timezone.now()
    retention = retention_seconds() if retention is None else retention
    pinned = _pin_if_idle(document, now)
    if retention <= 0:
        return Report(str(document.pk), pinned=pinned)
    cutoff = now - timedelta(seconds=retention)
    if document.kind == Kind.YJS:
        snapshot, autos = _compact_yjs(document, cutoff)
        return Report(str(document.pk), automatic_deleted=autos, pinned=pinned, yjs_snapshot=snapshot)
    floor, ops, snaps, autos = _compact_text(document, cutoff)
    return Report(str(document.pk), floor, ops, snaps, autos, pinned)


def compact_all(
    *, now: datetime | None = None, retention: float | None = None, ids: list[str] | None = None
) -> list[Report]:
    """``compact_document`` for every document (or those in ``ids``); the reports of those that changed."""
    now = now or timezone.now()
    documents = Document.objects.order_by("created_at").only("id", "kind", "version", "updated_at")
    if ids:
        documents = documents.filter(pk__in=ids)
    reports = []
    for document in documents.iterator(chunk_size=100):
        report = compact_document(document, now=now, retention=retention)
        if report.changed:
            reports.append(report)
    return reports
