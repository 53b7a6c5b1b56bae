"""Signal receivers: keep live rooms in step with the database.

- A new document gets its version-0 snapshot.
- A membership, ``public_role`` or owner change tells the room to re-check roles
  (removed readers are closed with 4403, changed roles get a ``role`` message).
- A deleted document closes its connections with 4410.
- Ops committed by a synchronous writer (REST, admin: ``editing.commit``) reach
  the document's live room once their transaction has committed
  (``editing.ops_committed`` is sent from ``transaction.on_commit``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from collab.editing import CommittedOp, ops_committed
from collab.models import Document, Membership, Snapshot
from collab.realtime.events import AccessChanged, DocumentDeleted, Event
from collab.realtime.hub import hub
from collab.text.events import OpsCommitted


def _after_commit(event: Event, document_id: str) -> None:
    transaction.on_commit(lambda: hub().publish_from_sync(document_id, event))


@receiver(pre_save, sender=Document)
def _remember_access(sender: Any, instance: Document, **kwargs: Any) -> None:
    if instance.pk and not instance._state.adding:
        instance._old_access = (  # type: ignore[attr-defined]
            Document.objects.filter(pk=instance.pk).values_list("public_role", "owner_id").first()
        )


@receiver(post_save, sender=Document)
def _document_saved(sender: Any, instance: Document, created: bool, **kwargs: Any) -> None:
    old = getattr(instance, "_old_access", None)
    if not created and old is not None and old != (instance.public_role, instance.owner_id):
        _after_commit(AccessChanged(str(instance.pk)), str(instance.pk))


@receiver(post_save, sender=Document)
def _first_snapshot(sender: Any, instance: Document, created: bool, **kwargs: Any) -> None:
    if created:
        Snapshot.objects.get_or_create(document=instance, version=0, defaults={"content": instance.content})


@receiver(post_delete, sender=Document)
def _document_deleted(sender: Any, instance: Document, **kwargs: Any) -> None:
    _after_commit(DocumentDeleted(str(instance.pk)), str(instance.pk))


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def _membership_changed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    _after_commit(AccessChanged(str(instance.document_id)), str(instance.document_id))


@receiver(ops_committed)
def _ops_committed(sender: Any, document_id: str, ops: list[CommittedOp], **kwargs: Any) -> None:
    hub().publish_from_sync(document_id, OpsCommitted.of(document_id, ops))
