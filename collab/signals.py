"""Signal receivers: keep live rooms in step with the database.

- A new document gets its version-0 snapshot.
- A membership, ``public_role`` or owner change tells the room to re-check roles
  (removed readers are closed with 4403, changed roles get a ``role`` message).
- A deleted document closes its connections with 4410.
- Ops committed by a synchronous writer (REST, admin: ``editing.commit``) reach
  the document's live room once their transaction has committed
  (``editing.ops_committed`` is sent from ``transaction.on_commit``).
- The host's signals (``collab.events``) are sent after commit.
- Handshake caches forget what changed: a document's owner and ``public_role``
  and a membership (``collab.access``), a user, a token and a session (logout or
  its row deleted; ``collab.user_cache``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from collab import access, events, user_cache
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


# -- events for the host (collab.events), after commit ------------------------------
@receiver(post_save, sender=Document)
def _announce_document_saved(sender: Any, instance: Document, created: bool, **kwargs: Any) -> None:
    if created:
        events.after_commit(events.document_created, Document, document=instance)


@receiver(post_delete, sender=Document)
def _announce_document_deleted(sender: Any, instance: Document, **kwargs: Any) -> None:
    events.after_commit(events.document_deleted, Document, document=instance, document_id=str(instance.pk))


def _member(instance: Membership) -> dict[str, Any]:
    return {
        "membership": instance,
        "document_id": str(instance.document_id),
        "user_id": instance.user_id,
        "role": str(instance.role),
    }


@receiver(post_save, sender=Membership)
def _announce_member_saved(sender: Any, instance: Membership, created: bool, **kwargs: Any) -> None:
    signal = events.member_added if created else events.member_changed
    events.after_commit(signal, Membership, **_member(instance))


@receiver(post_delete, sender=Membership)
def _announce_member_removed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    events.member_removed_after_commit(Membership, **_member(instance))


# -- handshake caches -----------------------------------------------------------------
@receiver(post_save, sender=Document)
@receiver(post_delete, sender=Document)
def _forget_document(sender: Any, instance: Document, **kwargs: Any) -> None:
    access.forget_document(instance.pk)


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def _forget_membership(sender: Any, instance: Membership, **kwargs: Any) -> None:
    access.forget_membership(instance.document_id, instance.user_id)


@receiver(post_save, sender=Token)
@receiver(post_delete, sender=Token)
def _forget_token(sender: Any, instance: Token, **kwargs: Any) -> None:
    user_cache.forget_token(instance.key)


def _forget_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    user_cache.forget_user(instance.pk)


post_save.connect(_forget_user, sender=get_user_model(), dispatch_uid="collab-forget-user-saved")
post_delete.connect(_forget_user, sender=get_user_model(), dispatch_uid="collab-forget-user-deleted")


@receiver(user_logged_out)
def _forget_session(sender: Any, request: Any, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        user_cache.forget_session(key)


@receiver(post_delete, sender="sessions.Session")  # lazy: a host may run without the sessions app
def _forget_deleted_session(sender: Any, instance: Any, **kwargs: Any) -> None:
    user_cache.forget_session(instance.session_key)
