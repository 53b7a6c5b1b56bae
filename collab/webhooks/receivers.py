"""Signal receivers that put document and membership changes in the webhook outbox.

They run inside the transaction of the change (document creation and REST
member writes are atomic, a delete runs in Django's own, the admin saves in its
own), so the event commits or rolls back with it. Content changes are recorded
by the commit paths themselves (``editing``, ``yjs.storage``), per transaction.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from collab.conf import collab_settings
from collab.models import Document, Kind, Membership, Role
from collab.webhooks import outbox
from collab.webhooks.models import EventType, WebhookSubscription

_deleting = threading.local()  # documents being deleted in this thread: their memberships go silently


def document_data(document: Document) -> dict[str, Any]:
    owner = document.owner
    return {
        "id": str(document.pk),
        "title": document.title,
        "kind": document.kind,
        "version": document.version,
        "public_role": document.public_role,
        "owner": {"id": owner.pk, "username": owner.get_username()},
    }


def owners(document: Document) -> list[int]:
    members = Membership.objects.filter(document=document, role=Role.OWNER).values_list("user_id", flat=True)
    return sorted({document.owner_id, *members})


@receiver(post_save, sender=Document, dispatch_uid="collab-webhooks-document-saved")
def _document_saved(sender: Any, instance: Document, created: bool, **kwargs: Any) -> None:
    if created:
        data: dict[str, Any] = {"document": document_data(instance)}
        if instance.kind == Kind.TEXT and len(instance.content) <= int(
            collab_settings["WEBHOOK_CONTENT_CHARS"]
        ):
            data["content"] = instance.content  # as created (a yjs document's text is in its first state)
        outbox.record(EventType.DOCUMENT_CREATED, instance.pk, data)
        return
    fields = kwargs.get("update_fields")
    if fields is None or "title" in fields:
        outbox.document_changed(instance.pk, instance.version, instance.version)


@receiver(pre_delete, sender=Document, dispatch_uid="collab-webhooks-document-deleting")
def _document_deleting(sender: Any, instance: Document, **kwargs: Any) -> None:
    ids = getattr(_deleting, "ids", None)
    if ids is None:
        ids = _deleting.ids = set()
    ids.add(instance.pk)
    if outbox.listening():
        outbox.record(
            EventType.DOCUMENT_DELETED,
            instance.pk,
            {"document": document_data(instance)},
            audience=owners(instance),
        )


@receiver(post_delete, sender=Document, dispatch_uid="collab-webhooks-document-deleted")
def _document_deleted(sender: Any, instance: Document, **kwargs: Any) -> None:
    getattr(_deleting, "ids", set()).discard(instance.pk)


def _member(instance: Membership) -> dict[str, Any]:
    return {"user": {"id": instance.user_id, "username": instance.user.get_username()}, "role": instance.role}


@receiver(post_save, sender=Membership, dispatch_uid="collab-webhooks-member-saved")
def _member_saved(sender: Any, instance: Membership, created: bool, **kwargs: Any) -> None:
    if outbox.listening():
        kind = EventType.MEMBER_ADDED if created else EventType.MEMBER_CHANGED
        outbox.record(kind, instance.document_id, {"member": _member(instance)})


@receiver(post_delete, sender=Membership, dispatch_uid="collab-webhooks-member-deleted")
def _member_deleted(sender: Any, instance: Membership, **kwargs: Any) -> None:
    if instance.document_id in getattr(_deleting, "ids", ()):
        return  # the document is being deleted: document.deleted says it all
    if outbox.listening():
        outbox.record(EventType.MEMBER_REMOVED, instance.document_id, {"member": _member(instance)})


@receiver(post_save, sender=WebhookSubscription, dispatch_uid="collab-webhooks-subscription-saved")
@receiver(post_delete, sender=WebhookSubscription, dispatch_uid="collab-webhooks-subscription-deleted")
def _subscriptions_changed(sender: Any, **kwargs: Any) -> None:
    outbox.forget_subscriptions()
