"""``role_for(user, document)``: the one place roles are decided.

A user's role is the higher of their membership and the document's
``public_role``; the owner is always ``owner``. Anonymous users get
``public_role``. A document the requester cannot read does not exist for them::

    document, role = resolve(request.user, document_id)   # raises NotFound
    if not can_edit(role): raise Forbidden(...)
"""

from __future__ import annotations

import uuid
from typing import Any

from collab.exceptions import NotFound
from collab.models import ROLE_RANK, Document, Membership, Role


def _rank(role: str) -> int:
    return ROLE_RANK.get(Role(role), 0) if role in Role.values else 0


def higher(a: str, b: str) -> str:
    return a if _rank(a) >= _rank(b) else b


def role_for(user: Any, document: Document) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return str(document.public_role)
    if document.owner_id == user.pk:
        return Role.OWNER.value
    member_role = (
        Membership.objects.filter(document=document, user=user).values_list("role", flat=True).first()
    )
    return higher(member_role or Role.NONE.value, str(document.public_role))


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
