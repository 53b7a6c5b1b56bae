"""The outbox: webhook events written in the transaction of the change they describe.

Call these inside that transaction (the commit path, the signal receivers in
``collab.webhooks.receivers``); if it rolls back, the event is gone with it,
and once it commits the event is there for the worker, whatever happens to
the process afterwards::

    document_changed(document_id, first=13, last=15)   # in editing's commit transaction

``document.changed`` is debounced per document: while a pending row exists
(not yet dispatched) a commit only widens its version range; a new row is due
``WEBHOOK_DEBOUNCE`` seconds after the previous one, so a receiver hears of a
busy document at most once per that many seconds.

While there is no active subscription at all, nothing is written. Each
process re-checks that at most once a second (at most once a minute while
there are some), so the commit path pays no query in the common case.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from collab.conf import collab_settings
from collab.webhooks.models import EventType, WebhookEvent, WebhookSubscription

_checked_at = -1e9
_any = False
_lock = threading.Lock()
wake_hooks: list[Callable[[], None]] = []  # called after a commit that wrote an event (the local worker)


def forget_subscriptions() -> None:
    """A subscription was saved or deleted here: check again before the next event."""
    global _checked_at
    _checked_at = -1e9


def listening() -> bool:
    """Is any subscription active? (cached per process: 1 s while none, 60 s while some)"""
    global _checked_at, _any
    now = time.monotonic()
    if now - _checked_at < (60.0 if _any else 1.0):
        return _any
    with _lock:
        _any = WebhookSubscription.objects.filter(active=True).exists()
        _checked_at = now
    return _any


def _debounce() -> timedelta:
    return timedelta(seconds=float(collab_settings["WEBHOOK_DEBOUNCE"]))


def _wake() -> None:
    for hook in wake_hooks:
        hook()


def record(event_type: str, document_id: Any, data: dict[str, Any], **fields: Any) -> WebhookEvent | None:
    """Write one event (due at once) in the current transaction."""
    if not listening():
        return None
    event = WebhookEvent.objects.create(
        type=event_type, document_id=document_id, data=data, available_at=timezone.now(), **fields
    )
    transaction.on_commit(_wake)
    return event


def document_changed(document_id: Any, first: int, last: int) -> None:
    """Versions ``first``..``last`` of the document were committed (in this transaction)."""
    if not listening():
        return
    pending = WebhookEvent.objects.filter(
        document_id=document_id, type=EventType.DOCUMENT_CHANGED, dispatched_at__isnull=True
    )
    if pending.update(last_version=last):
        return
    now = timezone.now()
    previous = (
        WebhookEvent.objects.filter(document_id=document_id, type=EventType.DOCUMENT_CHANGED)
        .order_by("-available_at")
        .values_list("available_at", flat=True)
        .first()
    )
    due = max(now, previous + _debounce()) if previous is not None else now
    WebhookEvent.objects.create(
        type=EventType.DOCUMENT_CHANGED,
        document_id=document_id,
        first_version=first,
        last_version=last,
        available_at=due,
    )
    transaction.on_commit(_wake)
