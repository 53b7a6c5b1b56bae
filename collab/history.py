"""History people can use: kept versions, the text at a version, diffs, blame, and restoring.

Works on both kinds of document where the kind allows (see docs/history.md):

- ``text_at(document, v)``: a kept version's stored text, else the op log
  (``editing.snapshot_at``); yjs documents: ``yjs.history``.
- ``diff(document, a, b)``: one op from the text at ``a`` to the text at
  ``b`` (the logged ops composed, when the log still has them; else a text
  diff) and the spans people read, inserted ones with who wrote them.
- ``blame(document)``: who wrote each part of the current text (text documents).
- ``restore(document, v, user=...)``: one edit that makes the current text the
  text at ``v``, committed through ``editing.commit`` (published after commit).
- ``pin`` / ``rename``: named versions, which keep their text forever.

Attribution is replayed from where the op log starts (``CompactedHistory`` or
the document's creation), with a small per-process cache of recent results::

    d = diff(document, 3, document.version)
    [(s.kind, s.text, s.user) for s in d.spans]
    restore(document, 3, user=alice)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.contrib.auth import get_user_model

from collab import editing
from collab.attribution import Attribution, Span
from collab.attribution import blame as blame_spans
from collab.attribution import spans as diff_spans
from collab.exceptions import CollabError, HistoryUnavailable, NotFound
from collab.models import CompactedHistory, Document, DocumentVersion, Kind, Operation, Snapshot
from collab.ot import Op, compose, invert
from collab.textdiff import text_op
from collab.users import UserInfo, user_info
from collab.yjs import history as yjs_history

COMPOSE_MAX = 5000  # a diff across more ops than this is a text diff instead of their composition
_CACHE_MAX = 8


class WrongKind(CollabError):
    """What was asked for does not exist for this kind of document."""

    code = "wrong_kind"


def check_version(document: Document, version: int) -> None:
    if version < 0 or version > document.version:
        raise NotFound(f"Version {version} does not exist; the current version is {document.version}.")


def text_at(document: Document, version: int | None = None) -> str:
    """The text at ``version`` (default current): NotFound beyond it, HistoryUnavailable where not kept."""
    version = document.version if version is None else version
    check_version(document, version)
    if document.kind == Kind.YJS:
        return yjs_history.readable(yjs_history.state_at(document, version))
    if version == document.version:
        return document.content
    kept = (
        DocumentVersion.objects.filter(document=document, version=version, content__isnull=False)
        .values_list("content", flat=True)
        .first()
    )
    if kept is not None:
        return str(kept)
    return editing.snapshot_at(document, version)[1]


def ops_between(document_id: Any, after: int, upto: int) -> list[tuple[int, Op, int | None]] | None:
    """The logged ``(version, op, user_id)`` in ``(after, upto]``, or None if the log no longer has them all."""
    rows: list[tuple[int, Op, int | None]] = list(
        Operation.objects.filter(document_id=document_id, version__gt=after, version__lte=upto)
        .order_by("version")
        .values_list("version", "op", "user_id")
    )
    if [r[0] for r in rows] != list(range(after + 1, upto + 1)):
        return None
    return rows


def floor(document: Document) -> tuple[int, Attribution] | None:
    """Where the op log starts (version, attribution of the text there); None if that is unknown."""
    compacted = CompactedHistory.objects.filter(document=document).first()
    if compacted is not None:
        return compacted.version, Attribution(compacted.authors)
    created = Snapshot.objects.filter(document=document, version=0).values_list("content", flat=True).first()
    return None if created is None else (0, Attribution.of_text(created))


_authors: OrderedDict[tuple[str, int], Attribution] = OrderedDict()
_authors_lock = threading.Lock()


def _cached_start(document_id: str, low: int, version: int) -> tuple[int, Attribution] | None:
    with _authors_lock:
        found = [v for (d, v) in _authors if d == document_id and low <= v <= version]
        if not found:
            return None
        best = max(found)
        _authors.move_to_end((document_id, best))
        return best, _authors[(document_id, best)].copy()


def _remember(document_id: str, version: int, authors: Attribution) -> None:
    with _authors_lock:
        _authors[(document_id, version)] = authors.copy()
        while len(_authors) > _CACHE_MAX:
            _authors.popitem(last=False)


def authors_at(document: Document, version: int) -> Attribution | None:
    """Who wrote each code point of the text at ``version`` (text documents), or None if not kept."""
    if document.kind != Kind.TEXT:
        return None
    start = floor(document)
    if start is None or version < start[0]:
        return None
    key = str(document.pk)
    cached = _cached_start(key, start[0], version)
    for begin, authors in ([cached] if cached else []) + [start]:
        ops = ops_between(document.pk, begin, version)
        if ops is not None:
            authors.replay(ops)
            _remember(key, version, authors)
            return authors
    return None


@dataclass(frozen=True)
class Diff:
    """From the text at ``from_version`` to the text at ``to_version``."""

    from_version: int
    to_version: int
    op: Op
    composed: bool  # the logged ops composed (else a text diff)
    spans: list[Span]
    from_text: str
    to_text: str


def _composed(document: Document, a: int, b: int, text_b: str) -> Op | None:
    low, high = min(a, b), max(a, b)
    if document.kind != Kind.TEXT or high - low > COMPOSE_MAX:
        return None
    ops = ops_between(document.pk, low, high)
    if ops is None:
        return None
    forward: Op = reduce(compose, (op for _, op, _ in ops), [])
    return forward if a <= b else invert(forward, text_b)


def diff(document: Document, a: int, b: int) -> Diff:
    """The change from version ``a`` to version ``b`` (either may be the older one)."""
    check_version(document, a)
    check_version(document, b)
    text_a, text_b = text_at(document, a), text_at(document, b)
    op = _composed(document, a, b, text_b)
    composed = op is not None
    if op is None:
        op = text_op(text_a, text_b)
    authors = authors_at(document, b)
    spans = diff_spans(text_a, op, text_b, authors.runs if authors else None)
    return Diff(a, b, op, composed, spans, text_a, text_b)


def blame(document: Document) -> list[Span]:
    """The current text in spans, each with who wrote it and in which versions (text documents)."""
    if document.kind != Kind.TEXT:
        raise WrongKind("Blame is for text documents: a yjs document keeps no per-character authors.")
    authors = authors_at(document, document.version)
    if authors is None:
        raise HistoryUnavailable("The authors of this document's text are not known.")
    return blame_spans(document.content, authors.runs)


def people(spans: Iterable[Span]) -> dict[int, UserInfo]:
    """The public face of every user named in ``spans``, by id."""
    ids = {s.user for s in spans if s.user is not None}
    return {u.pk: user_info(u) for u in get_user_model().objects.filter(pk__in=ids)}


@dataclass(frozen=True)
class Restored:
    version: int  # the document's version after the restore
    restored: int  # the version whose text it now has
    changed: bool  # False: the text already was that


def restore(document: Document, version: int, *, user: Any) -> Restored:
    """Make the current text the text at ``version`` with one new edit (published after commit)."""
    check_version(document, version)
    if document.kind == Kind.YJS:
        done = yjs_history.restore(document, yjs_history.state_at(document, version), user=user)
        return Restored(done.last if done else document.version, version, done is not None)
    op = text_op(document.content, text_at(document, version))
    if not op:
        return Restored(document.version, version, False)
    committed = editing.commit(editing.EditRequest(document.pk, document.version, op, user=user))
    return Restored(committed.version, version, True)


def _keep(document: Document, kept: DocumentVersion) -> None:
    """Store what the version needs to be shown forever (its text, or a yjs document's state)."""
    if document.kind == Kind.YJS:
        if kept.state is None:
            kept.state = yjs_history.merged(yjs_history.state_at(document, kept.version))
    elif kept.content is None:
        kept.content = text_at(document, kept.version)


def pin(
    document: Document, *, name: str, user: Any, description: str = "", version: int | None = None
) -> DocumentVersion:
    """Name a version (default: the current one); an automatic version there becomes this named one."""
    version = document.version if version is None else version
    check_version(document, version)
    kept = DocumentVersion.objects.filter(document=document, version=version, automatic=True).first()
    if kept is None:
        kept = DocumentVersion(document=document, version=version)
    kept.name, kept.description, kept.automatic = name, description, False
    kept.author = user if getattr(user, "is_authenticated", False) else None
    _keep(document, kept)
    kept.save()
    return kept


def rename(
    document: Document,
    kept: DocumentVersion,
    *,
    user: Any,
    name: str | None = None,
    description: str | None = None,
) -> DocumentVersion:
    """Change a version's name or description; naming an automatic version makes it a named one."""
    if name is not None:
        kept.name = name
        if kept.automatic:
            _keep(document, kept)
            kept.automatic = False
            kept.author = user if getattr(user, "is_authenticated", False) else None
    if description is not None:
        kept.description = description
    kept.save()
    return kept
