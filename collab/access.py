"""``role_for(user, document)``: the one place roles are decided.

A user's role is the higher of their membership and the document's
``public_role``; the owner is always ``owner``. Anonymous users get
``public_role``. A document the requester cannot read does not exist for them::

    document, role = resolve(request.user, document_id)   # raises NotFound
    if not can_edit(role): raise Forbidden(...)

WebSocket handshakes use ``resolve_cached``: the same answer in one database
query (the document row, with the membership in it when not cached), and
none to refuse a document whose basics and membership are cached. The cache
(Redis with ``REDIS_URL``: shared by every process) holds a document's owner
and ``public_role`` and each (document, user) membership role; the receivers
in ``collab.signals`` forget them when a document or membership is saved or
deleted, at once and again after the commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import OuterRef, Subquery

from collab.exceptions import NotFound
from collab.models import ROLE_RANK, Document, Membership, Role


def _rank(role: str) -> int:
    return ROLE_RANK.get(Role(role), 0) if role in Role.values else 0


def higher(a: str, b: str) -> str:
    return a if _rank(a) >= _rank(b) else b


def _signed_in(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False))


def _role(user: Any, owner_id: Any, public_role: str, member_role: str | None) -> str:
    if not _signed_in(user):
        return public_role
    if owner_id == user.pk:
        return Role.OWNER.value
    return higher(member_role or Role.NONE.value, public_role)


def role_for(user: Any, document: Document) -> str:
    member_role = None
    if _signed_in(user) and document.owner_id != user.pk:
        member_role = (
            Membership.objects.filter(document=document, user=user).values_list("role", flat=True).first()
        )
    return _role(user, document.owner_id, str(document.public_role), member_role)


def can_read(role: str) -> bool:
    return _rank(role) >= ROLE_RANK[Role.VIEWER]


def can_edit(role: str) -> bool:
    return _rank(role) >= ROLE_RANK[Role.EDITOR]


def is_owner(role: str) -> bool:
    return _rank(role) >= ROLE_RANK[Role.OWNER]


def parse_document_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def resolve(user: Any, document_id: Any) -> tuple[Document, str]:
    """The document and the requester's role, or NotFound if they cannot read it."""
    doc_uuid = parse_document_id(document_id)
    document = Document.objects.select_related("owner").filter(pk=doc_uuid).first() if doc_uuid else None
    if document is None:
        raise NotFound("No such document.")
    role = role_for(user, document)
    if not can_read(role):
        raise NotFound("No such document.")
    return document, role


# -- cached, for WebSocket handshakes ------------------------------------------------
def _document_key(document_id: Any) -> str:
    return f"collab:access:document:{document_id}"


def _member_key(document_id: Any, user_id: Any) -> str:
    return f"collab:access:member:{document_id}:{user_id}"


def resolve_cached(user: Any, document_id: Any) -> tuple[Document, str]:
    """``resolve``, in one query (none to refuse when the cache knows the answer)."""
    doc_uuid = parse_document_id(document_id)
    if doc_uuid is None:
        raise NotFound("No such document.")
    signed_in = _signed_in(user)
    keys = [_document_key(doc_uuid)] + ([_member_key(doc_uuid, user.pk)] if signed_in else [])
    cached = cache.get_many(keys)
    basics = cached.get(keys[0])
    member = cached.get(keys[1]) if signed_in else ""
    if basics is not None and member is not None and not can_read(_role(user, *basics, member)):
        raise NotFound("No such document.")
    documents = Document.objects.filter(pk=doc_uuid)
    if member is None:
        mine = Membership.objects.filter(document=OuterRef("pk"), user=user.pk).values("role")[:1]
        documents = documents.annotate(member_role=Subquery(mine))
    document = documents.first()
    if document is None:
        raise NotFound("No such document.")
    fresh: dict[str, Any] = {keys[0]: (document.owner_id, str(document.public_role))}
    if member is None:
        member = fresh[keys[1]] = document.member_role or ""  # type: ignore[attr-defined]
    cache.set_many(fresh, int(settings.COLLAB.get("AUTH_CACHE_SECONDS", 300)))
    role = _role(user, document.owner_id, str(document.public_role), member)
    if not can_read(role):
        raise NotFound("No such document.")
    return document, role


def _forget(keys: list[str]) -> None:
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))  # a read in between may have cached the old


def forget_document(document_id: Any) -> None:
    _forget([_document_key(document_id)])


def forget_membership(document_id: Any, user_id: Any) -> None:
    _forget([_member_key(document_id, user_id)])
