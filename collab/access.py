"""``role_for(user, document)``: the one place roles are decided.

Roles come from the permission policy, ``COLLAB["PERMISSION_POLICY"]``: a
callable ``(user, document) -> role`` (``"owner"``, ``"editor"``, ``"viewer"``
or ``"none"``) that REST, the pages and every WebSocket endpoint ask alike.
The default, ``default_policy``: a user's role is the higher of their
membership and the document's ``public_role``; the owner is always ``owner``;
anonymous users get ``public_role``. A host replaces it with its own rules (and
may call ``default_policy`` inside them); when its data behind a role changes,
it calls ``roles_changed(document)`` and live connections re-check at once.

A document the requester cannot read does not exist for them::

    document, role = resolve(request.user, document_id)   # raises NotFound
    if not can_edit(role): raise Forbidden(...)

WebSocket handshakes use ``hello_state`` (``resolve_cached`` for one user):
the same answer in one database query (the document row, with the
membership in it when not cached), none to refuse a document whose basics
and membership are cached, and one read for all the handshakes that arrive
together, to whichever documents (a reconnect storm). The cache
(Redis with ``REDIS_URL``: shared by every process) holds a document's owner
and ``public_role`` and each (document, user) membership role; the receivers
in ``collab.signals`` forget them when a document or membership is saved or
deleted, at once and again after the commit. A host policy is asked on every
handshake instead (the cache holds the default policy's inputs only).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from channels.db import database_sync_to_async
from django.core.cache import cache
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils.module_loading import import_string

from collab.conf import collab_settings
from collab.exceptions import NotFound
from collab.models import ROLE_RANK, Document, Membership, Role
from collab.realtime.events import AccessChanged
from collab.realtime.hub import hub

log = logging.getLogger(__name__)
Policy = Callable[[Any, Document], str]


# by plain string: ``Role.values`` builds a list on every access, and this runs per handshake
_RANK_OF = {role.value: rank for role, rank in ROLE_RANK.items()}


def _rank(role: str) -> int:
    return _RANK_OF.get(role, 0)


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


def default_policy(user: Any, document: Document) -> str:
    """Memberships and ``public_role`` (the owner is ``owner``): the default permission policy."""
    member_role = None
    if _signed_in(user) and document.owner_id != user.pk:
        member_role = (
            Membership.objects.filter(document=document, user=user).values_list("role", flat=True).first()
        )
    return _role(user, document.owner_id, str(document.public_role), member_role)


@lru_cache(maxsize=8)
def _imported(path: str) -> Policy:
    return import_string(path)


def policy() -> Policy:
    """The permission policy in force (``COLLAB["PERMISSION_POLICY"]``, read at call time)."""
    configured = collab_settings["PERMISSION_POLICY"]
    return _imported(configured) if isinstance(configured, str) else configured


def custom_policy() -> bool:
    return policy() is not default_policy


def role_for(user: Any, document: Document) -> str:
    """The user's role on the document, from the permission policy."""
    role = policy()(user, document)
    if role not in Role.values:
        log.warning("permission policy answered %r for document %s; treated as 'none'", role, document.pk)
        return Role.NONE.value
    return str(role)


def roles_for(user: Any, documents: Iterable[Document]) -> dict[Any, str]:
    """``role_for`` of each document, by pk (the default policy in one query)."""
    documents = list(documents)
    if custom_policy():
        return {d.pk: role_for(user, d) for d in documents}
    members: dict[Any, str] = {}
    if _signed_in(user):
        members = dict(
            Membership.objects.filter(user=user, document__in=documents).values_list("document_id", "role")
        )
    return {d.pk: _role(user, d.owner_id, str(d.public_role), members.get(d.pk)) for d in documents}


def listed(user: Any) -> QuerySet[Document]:
    """The documents a user's lists show: owned or shared with them (and, under a host's policy,
    only those it lets them read)."""
    documents = Document.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct()
    if custom_policy():
        readable = [d.pk for d in documents.select_related("owner") if can_read(role_for(user, d))]
        documents = Document.objects.filter(pk__in=readable)
    return documents


def roles_changed(document: Document | Any) -> None:
    """Tell collab that roles on ``document`` (or its id) may have changed (call it from the host's
    own code or signals): after the current transaction commits, every live connection to it, on
    every process, asks the policy again; a reader who lost access is closed with 4403 and a
    changed role is announced."""
    document_id = str(getattr(document, "pk", document))
    forget_document(document_id)
    transaction.on_commit(lambda: hub().publish_from_sync(document_id, AccessChanged(document_id)))


def can_read(role: str) -> bool:
    return _rank(role) >= _RANK_OF[Role.VIEWER]


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
    outcome = resolve_many([user], document_id)[0]
    if isinstance(outcome, NotFound):
        raise outcome
    return outcome


def _resolved_or_not_found(user: Any, document_id: Any) -> tuple[Document, str] | NotFound:
    try:
        return resolve(user, document_id)
    except NotFound as exc:
        return exc


def resolve_many(users: list[Any], document_id: Any) -> list[tuple[Document, str] | NotFound]:
    """``resolve_cached`` for several users of one document: ``resolve_documents`` for one."""
    return resolve_documents({document_id: users})[document_id]


Outcome = tuple[Document, str] | NotFound


def resolve_documents(requests: dict[Any, list[Any]]) -> dict[Any, list[Outcome]]:
    """``resolve_cached`` for several users of several documents: one document query for all.

    Memberships not in the cache come in the same query (all of them one
    user's) or in one more; a document every one of its users is refused from
    the cache needs no query at all. A host's permission policy is asked for
    each user instead (no cache).
    """
    if custom_policy():
        return {d: [_resolved_or_not_found(u, d) for u in users] for d, users in requests.items()}
    out: dict[Any, list[Outcome]] = {}
    ids: dict[Any, uuid.UUID] = {}
    for document_id, users in requests.items():
        doc_uuid = parse_document_id(document_id)
        if doc_uuid is None:
            out[document_id] = [NotFound("No such document.") for _ in users]
        else:
            ids[document_id] = doc_uuid
    member_keys = {
        (doc_uuid, user.pk): _member_key(doc_uuid, user.pk)
        for document_id, doc_uuid in ids.items()
        for user in requests[document_id]
        if _signed_in(user)
    }
    cached = cache.get_many([*(_document_key(u) for u in ids.values()), *member_keys.values()])
    members: dict[tuple[uuid.UUID, Any], str] = {
        pair: cached[key] for pair, key in member_keys.items() if key in cached
    }
    missing = [pair for pair in member_keys if pair not in members]
    to_read: dict[Any, uuid.UUID] = {}
    unknown = {doc for doc, _ in missing}  # documents with a membership the cache does not know
    for document_id, doc_uuid in ids.items():
        basics = cached.get(_document_key(doc_uuid))
        users = requests[document_id]
        if (
            basics is None
            or doc_uuid in unknown
            or any(_can_read(u, basics, doc_uuid, members) for u in users)
        ):
            to_read[document_id] = doc_uuid
        else:  # refused from the cache: no query
            out[document_id] = [NotFound("No such document.") for _ in users]
    if not to_read:
        return out
    documents = Document.objects.filter(pk__in=set(to_read.values())).order_by()
    one_user = {user_id for _, user_id in missing}
    if len(one_user) == 1:  # the common case (one handshake): the membership in the same query
        mine = Membership.objects.filter(document=OuterRef("pk"), user=next(iter(one_user))).values("role")
        documents = documents.annotate(member_role=Subquery(mine[:1]))
    found = {document.pk: document for document in documents}
    fresh: dict[str, Any] = {
        _document_key(pk): (document.owner_id, str(document.public_role)) for pk, document in found.items()
    }
    missing = [pair for pair in missing if pair[0] in found]
    if len(one_user) == 1:
        members.update({pair: found[pair[0]].member_role or "" for pair in missing})  # type: ignore[attr-defined]
    elif missing:
        rows = Membership.objects.filter(
            document__in={doc for doc, _ in missing}, user__in={user for _, user in missing}
        ).values_list("document_id", "user_id", "role")
        members.update({pair: "" for pair in missing} | {(d, u): role for d, u, role in rows})
    fresh.update({member_keys[pair]: members[pair] for pair in missing})
    cache.set_many(fresh, int(collab_settings["AUTH_CACHE_SECONDS"]))
    for document_id, doc_uuid in to_read.items():
        document = found.get(doc_uuid)
        outcomes: list[Outcome] = []
        for user in requests[document_id]:
            if document is None:
                outcomes.append(NotFound("No such document."))
                continue
            role = _role(user, document.owner_id, str(document.public_role), _member(user, doc_uuid, members))
            outcomes.append((document, role) if can_read(role) else NotFound("No such document."))
        out[document_id] = outcomes
    return out


def _member(user: Any, doc_uuid: uuid.UUID, members: dict[Any, str]) -> str | None:
    return members.get((doc_uuid, getattr(user, "pk", None)))


def _can_read(user: Any, basics: tuple[Any, str], doc_uuid: uuid.UUID, members: dict[Any, str]) -> bool:
    owner_id, public_role = basics
    return can_read(_role(user, owner_id, public_role, _member(user, doc_uuid, members)))


MAX_BATCH = 200  # documents per read at most


class HelloBatcher:
    """Concurrent handshakes share their reads, as a group commit shares a transaction.

    ``await hello_state(user, document_id)`` joins the next read: one read runs
    at a time (per event loop), for every document asked for meanwhile, and
    everyone who asks while it runs goes into the next. A read starts only
    after everyone in it asked, so it sees every commit that happened before
    any of them joined the room.
    """

    def __init__(self) -> None:
        self.waiting: dict[str, list[tuple[Any, asyncio.Future[tuple[Document, str]]]]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def resolve(self, user: Any, document_id: str) -> tuple[Document, str]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Document, str]] = loop.create_future()
        self.waiting.setdefault(document_id, []).append((user, future))
        if self.reader is None:
            self.reader = loop.create_task(self._read())
        return await future

    async def _read(self) -> None:
        try:
            await asyncio.sleep(0)  # the others of this loop turn join too
            while self.waiting:
                batch = {d: self.waiting.pop(d) for d in list(self.waiting)[:MAX_BATCH]}
                requests = {d: [user for user, _ in waiting] for d, waiting in batch.items()}
                try:
                    outcomes: dict[str, list[Any]] = await database_sync_to_async(resolve_documents)(requests)
                except Exception as exc:
                    outcomes = {d: [exc] * len(waiting) for d, waiting in batch.items()}
                for document_id, waiting in batch.items():
                    for (_, future), outcome in zip(waiting, outcomes[document_id], strict=True):
                        if future.done():
                            continue
                        if isinstance(outcome, BaseException):
                            future.set_exception(outcome)
                        else:
                            future.set_result(outcome)
        finally:
            self.reader = None


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HelloBatcher] = weakref.WeakKeyDictionary()


async def hello_state(user: Any, document_id: str) -> tuple[Document, str, int, str]:
    """The document, the user's role, and the version and text ``hello`` shows (raises NotFound)."""
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop) or _batchers.setdefault(loop, HelloBatcher())
    document, role = await batcher.resolve(user, document_id)
    return document, role, document.version, document.content


def _forget(keys: list[str]) -> None:
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))  # a read in between may have cached the old


def forget_document(document_id: Any) -> None:
    _forget([_document_key(document_id)])


def forget_membership(document_id: Any, user_id: Any) -> None:
    _forget([_member_key(document_id, user_id)])
