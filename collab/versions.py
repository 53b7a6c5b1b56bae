"""Automatic versions: the state a document was left in before a pause in editing.

No process watches the clock. The write paths (``editing`` for text,
``yjs.storage.append`` for yjs documents) hold the document's row locked and
know when it last changed (``updated_at``); when an edit arrives after at
least ``COLLAB_HISTORY_IDLE`` seconds of quiet, they call ``pin_automatic``
for the version the document was at, before writing the new edit. The
compaction command (``manage.py collab_compact``) pins idle documents too, so
the latest state shows up without waiting for the next edit::

    if versions.paused(document.updated_at, now):
        versions.pin_automatic(document.pk, document.version)

A text document's automatic version is one row (its text comes from the op
log); a yjs document's carries its state (the log is compacted into snapshots
quickly). At most ``COLLAB_HISTORY_AUTOMATIC_MAX`` automatic versions are kept
per document, the newest; named versions are never removed automatically.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collab.conf import collab_settings
from collab.models import DocumentVersion


def idle_seconds() -> float:
    """Quiet time after which the next edit pins an automatic version (0: never)."""
    return float(collab_settings["HISTORY_IDLE"])


def automatic_max() -> int:
    return int(collab_settings["HISTORY_AUTOMATIC_MAX"])


def paused(last_change: datetime | None, now: datetime) -> bool:
    """True if a document last changed at ``last_change`` has been quiet long enough by ``now``."""
    idle = idle_seconds()
    return idle > 0 and last_change is not None and (now - last_change).total_seconds() >= idle


def pin_automatic(document_id: Any, version: int, *, state: bytes | None = None) -> DocumentVersion | None:
    """Keep ``version`` as an automatic version (None if some version is already kept there).

    Call it with the document's row locked (the write paths do), so two
    writers cannot pin the same version twice.
    """
    if DocumentVersion.objects.filter(document_id=document_id, version=version).exists():
        return None
    pinned = DocumentVersion.objects.create(
        document_id=document_id, version=version, automatic=True, state=state
    )
    stale = list(
        DocumentVersion.objects.filter(document_id=document_id, automatic=True)
        .order_by("-version", "-id")
        .values_list("id", flat=True)[automatic_max() :]
    )
    if stale:
        DocumentVersion.objects.filter(id__in=stale).delete()
    return pinned
