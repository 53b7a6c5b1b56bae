"""Django signals for the host project: what happened to documents, members and presence.

These are the public events (the typed room events between processes are
``collab.realtime.events``). Database events are sent once their transaction
has committed (a rollback sends nothing), presence events when the presence
change is announced; each is sent with ``send_robust``: a failing receiver is
logged and never undoes or fails collab's work. Receivers of database events
run in the thread that committed (for live edits: the server's database
thread), so keep them quick or hand work to a queue::

    from django.dispatch import receiver
    from collab.events import edits_committed

    @receiver(edits_committed)
    def reindex(sender, document, versions, **kwargs):
        search.update(document.pk, document.content)

=====================  =============================================================================
signal                 keyword arguments (``sender`` is the model class, ``Document`` or ``Membership``)
=====================  =============================================================================
document_created       ``document``
edits_committed        ``document`` (as committed), ``versions`` (ascending ``list[int]``), ``kind``
                       (``"text"`` or ``"yjs"``): one per committed batch, live or REST, any process
document_deleted       ``document`` (no longer in the database), ``document_id`` (str)
member_added           ``membership``, ``document_id``, ``user_id``, ``role``
member_changed         ``membership``, ``document_id``, ``user_id``, ``role`` (the new one)
member_removed         ``membership``, ``document_id``, ``user_id``, ``role`` (the one they had); not
                       for the memberships a deleted document takes with it
presence_joined        ``document_id``, ``session``, ``user`` (``{"id", "name", "color"}``), ``role``
presence_left          ``document_id``, ``session`` (match it with its ``presence_joined``)
=====================  =============================================================================

Presence: one connection is one session; a session re-announced after a
presence-store outage is sent as joined again. ``presence_left`` of a process
that died comes from the survivor that swept its lease, once.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

__all__ = [
    "document_created",
    "document_deleted",
    "edits_committed",
    "member_added",
    "member_changed",
    "member_removed",
    "presence_joined",
    "presence_left",
]

document_created = Signal()
edits_committed = Signal()
document_deleted = Signal()
member_added = Signal()
member_changed = Signal()
member_removed = Signal()
presence_joined = Signal()
presence_left = Signal()

_tasks: set[asyncio.Task[Any]] = set()  # presence sends in flight (kept from garbage collection)


def _send(signal: Signal, sender: Any, kwargs: dict[str, Any]) -> None:
    for receiver, outcome in signal.send_robust(sender=sender, **kwargs):
        if isinstance(outcome, Exception):
            log.error("collab event receiver %r failed", receiver, exc_info=outcome)


def after_commit(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (at once outside one); nothing without receivers."""
    if signal.has_listeners(sender):
        transaction.on_commit(partial(_send, signal, sender, kwargs))


def _send_unless_document_gone(signal: Signal, sender: Any, kwargs: dict[str, Any]) -> None:
    from collab.models import Document

    if Document.objects.filter(pk=kwargs["document_id"]).exists():
        _send(signal, sender, kwargs)


def member_removed_after_commit(sender: Any, **kwargs: Any) -> None:
    """``member_removed`` after commit, unless the membership went with its document."""
    if member_removed.has_listeners(sender):
        transaction.on_commit(partial(_send_unless_document_gone, member_removed, sender, kwargs))


def _send_edits(document_id: Any, versions: list[int], kind: str) -> None:
    from collab.models import Document

    document = Document.objects.filter(pk=document_id).first()
    if document is not None:  # deleted meanwhile: document_deleted says so
        _send(edits_committed, Document, {"document": document, "versions": versions, "kind": kind})


def edits_were_committed(document_id: Any, versions: list[int], kind: str) -> None:
    """Called by the commit paths (text and yjs) inside the transaction that stored ``versions``."""
    if edits_committed.has_listeners():
        transaction.on_commit(partial(_send_edits, document_id, versions, kind))


async def _send_async(signal: Signal, kwargs: dict[str, Any]) -> None:
    for receiver, outcome in await signal.asend_robust(sender=None, **kwargs):
        if isinstance(outcome, Exception):
            log.error("collab event receiver %r failed", receiver, exc_info=outcome)


def presence_announced(
    document_id: str, joined: list[dict[str, Any]] | None = None, left: list[str] | None = None
) -> None:
    """Called (on the event loop) where presence changes are announced to a room."""
    sends = [
        (presence_joined, {"session": e["session"], "user": e.get("user"), "role": e.get("role")})
        for e in joined or ()
        if presence_joined.has_listeners()
    ] + [(presence_left, {"session": session}) for session in left or () if presence_left.has_listeners()]
    if not sends:
        return

    async def send_in_order() -> None:
        for signal, kwargs in sends:
            await _send_async(signal, {"document_id": document_id, **kwargs})

    task = asyncio.get_running_loop().create_task(send_in_order())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
