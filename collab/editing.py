"""``commit()``: the one write path for document text; history and snapshots.

Every change to a document's text comes here: live edits, REST writes and the
admin. One call runs one transaction: lock the document, read what the commit
decision needs (the ops since the oldest base, the (client_id, seq) already
committed), decide (``collab.commit_plan``, pure: dedupe, version and span
checks, rebase, apply, size check), then persist ops + text + version
together. The database's uniqueness of (document, version) orders edits, so it
stays correct with many server processes; a conflict is retried.

Several edits to one document can be committed in one transaction (group
commit); each gets its own version and its own outcome::

    outcome = commit(EditRequest(doc_id, version=3, op=[3, "hi"], user=alice))
    outcome.version  # the committed version (or the original one for a resend)

Live clients learn of committed ops only after the transaction that wrote
them commits. ``commit``/``commit_many`` (REST, admin, any synchronous writer)
send the ``ops_committed`` signal from ``transaction.on_commit``: inside an
outer ``atomic`` (the admin's) it waits for the outer commit, and an outer
rollback discards it. The realtime layer connects its receiver (collab.signals).
The live committer, which runs outside any transaction, calls
``commit_unpublished`` and publishes itself as soon as it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from collab import commit_plan, events, metrics, versions
from collab.conf import collab_settings
from collab.exceptions import CollabError, HistoryUnavailable, NotFound, VersionAhead
from collab.models import Document, Operation, Snapshot
from collab.ot import Op, apply, diff
from collab.users import UserInfo, user_info
from collab.webhooks import outbox as webhook_outbox

log = logging.getLogger(__name__)

MAX_RETRIES = 8


@dataclass(frozen=True)
class EditRequest:
    """One edit to commit: ``op`` made on the text at ``version``, by ``user``, idempotent on (client_id, seq)."""

    document_id: Any
    version: int
    op: Any
    user: Any = None
    client_id: str = ""
    seq: int | None = None
    session: str = ""


@dataclass(frozen=True)
class CommittedOp:
    """One committed op, as live clients and the history API see it."""

    document_id: str
    version: int
    op: Op
    client_id: str
    seq: int | None
    session: str
    user: UserInfo
    created_at: datetime
    duplicate: bool = field(default=False, compare=False)

    def payload(self) -> dict[str, Any]:
        """The ``op`` message payload (PROTOCOL.md section 5)."""
        return {
            "version": self.version,
            "op": self.op,
            "client_id": self.client_id,
            "seq": self.seq,
            "session": self.session,
            "user": self.user,
        }


Outcome = CommittedOp | CollabError

ops_committed = Signal()
"""Sent once the transaction that committed ops has committed: ``document_id`` (str), ``ops``
(the new ``CommittedOp``s, ascending; resends never). Sent with ``send_robust``: a failing
receiver is logged and never undoes or fails the write."""


def fresh(outcomes: Sequence[Outcome]) -> list[CommittedOp]:
    """The newly committed ops among ``outcomes`` (no errors, no resends): what to publish."""
    return [o for o in outcomes if isinstance(o, CommittedOp) and not o.duplicate]


def limits() -> dict[str, int]:
    cfg = collab_settings
    return {
        "max_message_bytes": int(cfg["MAX_MESSAGE_BYTES"]),
        "max_document_chars": int(cfg["MAX_DOCUMENT_CHARS"]),
    }


def check_size(text: str) -> None:
    error = commit_plan.size_error(len(text), limits()["max_document_chars"])
    if error is not None:
        raise error


def _committed(row: Operation, document_id: str) -> CommittedOp:
    return CommittedOp(
        document_id=document_id,
        version=row.version,
        op=row.op,
        client_id=row.client_id,
        seq=row.seq,
        session=row.session,
        user=user_info(row.user, row.session),
        created_at=row.created_at,
    )


def _locked_document(document_id: Any) -> Document:
    qs = Document.objects.order_by().only("id", "content", "version", "updated_at")
    if connection.features.has_select_for_update:
        qs = qs.select_for_update()
    try:
        return qs.get(pk=document_id)
    except (Document.DoesNotExist, ValueError, ValidationError):
        raise NotFound("No such document.") from None


# Highest seq this process has committed per (document, client_id). A seq above it
# cannot be a resend of anything committed *here*, so its dedupe query is skipped;
# if another process committed it, the unique (document, client_id, seq) constraint
# raises, and the retry runs every check. Bounded: cleared when it grows large.
_last_seq: dict[tuple[str, str], int] = {}
_LAST_SEQ_MAX = 100_000


def _maybe_committed(doc_key: str, key: commit_plan.Key, trust_cache: bool) -> bool:
    last = _last_seq.get((doc_key, key[0]))
    return not trust_cache or last is None or key[1] <= last


def _remember_seqs(doc_key: str, rows: Sequence[Operation]) -> None:
    if len(_last_seq) > _LAST_SEQ_MAX:
        _last_seq.clear()
    for row in rows:
        if row.client_id and row.seq is not None:
            key = (doc_key, row.client_id)
            _last_seq[key] = max(_last_seq.get(key, row.seq), row.seq)


def _already_committed(document: Document, keys: set[commit_plan.Key]) -> dict[int, CommittedOp]:
    """The committed ops whose (client_id, seq) is among ``keys``, by version."""
    if not keys:
        return {}
    # the extra conditions match the partial unique index, so it is used
    # (without them SQLite scans the document's whole history)
    rows = (
        Operation.objects.filter(
            document=document, client_id__in={k[0] for k in keys}, seq__in={k[1] for k in keys}
        )
        .exclude(client_id="")
        .filter(seq__isnull=False)
        .order_by()
        .select_related("user")
    )
    doc_key = str(document.pk)
    return {row.version: _committed(row, doc_key) for row in rows if (row.client_id, row.seq) in keys}


def _commit_batch(
    document_id: Any,
    requests: Sequence[EditRequest],
    checked: Sequence[commit_plan.Checked | CollabError],
    *,
    trust_cache: bool,
) -> list[Outcome]:
    """Lock, read what the plan needs, plan, persist: one transaction."""
    cfg = collab_settings
    with transaction.atomic():
        document = _locked_document(document_id)
        doc_key = str(document.pk)
        since = commit_plan.oldest_base(checked, document.version)
        history: dict[int, Op] = {}
        if since < document.version:  # someone committed since an edit's base: what to rebase over
            history = dict(
                Operation.objects.filter(document=document, version__gt=since).values_list("version", "op")
            )
        keys = {
            key
            for c in checked
            if isinstance(c, commit_plan.Checked)
            and (key := commit_plan.key_of(c.edit)) is not None
            and _maybe_committed(doc_key, key, trust_cache)
        }
        by_version = _already_committed(document, keys)
        decided = commit_plan.plan(
            commit_plan.Head(document.content, document.version),
            checked,
            history=history,
            committed={(c.client_id, c.seq): v for v, c in by_version.items() if c.seq is not None},
            max_chars=int(cfg["MAX_DOCUMENT_CHARS"]),
            snapshot_every=int(cfg["SNAPSHOT_EVERY"]),
        )
        now = timezone.now()
        rows: list[Operation] = []
        for index, fresh in decided.fresh:
            req = requests[index]
            row = Operation(
                document=document,
                version=fresh.version,
                op=fresh.op,
                client_id=req.client_id,
                seq=req.seq,
                session=req.session,
                user=req.user if getattr(req.user, "is_authenticated", False) else None,
                created_at=now,
            )
            rows.append(row)
            by_version[fresh.version] = _committed(row, doc_key)
        if rows:
            if versions.paused(document.updated_at, now):  # the first edit after a pause
                versions.pin_automatic(document.pk, document.version)
            Operation.objects.bulk_create(rows)
            if decided.snapshots:
                Snapshot.objects.bulk_create(
                    Snapshot(document=document, version=s.version, content=s.text) for s in decided.snapshots
                )
            updated = Document.objects.filter(pk=document.pk, version=document.version).update(
                content=decided.head.text, version=decided.head.version, updated_at=now
            )
            if updated != 1:
                raise IntegrityError("document version moved during commit")
            webhook_outbox.document_changed(document.pk, document.version + 1, decided.head.version)
            events.edits_were_committed(document.pk, [row.version for row in rows], "text")
    _remember_seqs(doc_key, rows)
    return [_outcome(d, by_version) for d in decided.decisions]


def _outcome(decision: commit_plan.Decision, by_version: dict[int, CommittedOp]) -> Outcome:
    if isinstance(decision, commit_plan.Fresh):
        return by_version[decision.version]
    if isinstance(decision, commit_plan.Resend):
        return replace(by_version[decision.version], duplicate=True)
    return decision


@metrics.observed_commit
def commit_unpublished(document_id: Any, requests: Sequence[EditRequest]) -> list[Outcome]:
    """Commit edits to one document in one transaction; one outcome per request, in order.

    Publishes nothing: for a caller that runs outside any transaction and
    publishes ``fresh(outcomes)`` itself once this returns (the live committer).
    """
    checked = commit_plan.prepare(requests)  # before the lock: needs no document
    conflicts = 0
    while True:
        try:
            return _commit_batch(document_id, requests, checked, trust_cache=conflicts == 0)
        except IntegrityError:
            conflicts += 1
            if conflicts == MAX_RETRIES:
                raise
            log.debug("commit conflict on %s, retrying (%d)", document_id, conflicts)


def commit_many(document_id: Any, requests: Sequence[EditRequest]) -> list[Outcome]:
    """``commit_unpublished``, then ``ops_committed`` once the enclosing transaction commits."""
    outcomes = commit_unpublished(document_id, requests)
    if ops := fresh(outcomes):
        transaction.on_commit(
            partial(ops_committed.send_robust, sender=Document, document_id=str(document_id), ops=ops)
        )
    return outcomes


def commit(request: EditRequest) -> CommittedOp:
    """Commit one edit (published after commit); raises its CollabError instead of returning it."""
    (outcome,) = commit_many(request.document_id, [request])
    if isinstance(outcome, CollabError):
        raise outcome
    return outcome


def replace_content(document: Document, new_text: str, *, user: Any) -> CommittedOp | None:
    """Commit the difference between the current text and ``new_text`` as one op."""
    check_size(new_text)
    op = diff(document.content, new_text)
    if not op:
        return None
    return commit(EditRequest(document.pk, document.version, op, user=user))


def create_document(*, owner: Any, title: str, content: str = "", public_role: str = "none") -> Document:
    check_size(content)
    # the version-0 snapshot (collab.signals) and the webhook event are made by post_save receivers
    with transaction.atomic():
        return Document.objects.create(owner=owner, title=title, content=content, public_role=public_role)


def ops_since(
    document_id: Any, since: int, *, limit: int | None = None, upto: int | None = None
) -> list[CommittedOp]:
    """Committed ops with version > since (and <= upto), ascending."""
    qs = Operation.objects.filter(document_id=document_id, version__gt=since).select_related("user")
    if upto is not None:
        qs = qs.filter(version__lte=upto)
    qs = qs.order_by("version")
    if limit is not None:
        qs = qs[:limit]
    key = str(document_id)
    found = [_committed(row, key) for row in qs]
    first = max(since, 0) + 1
    if not found or found[0].version != first:  # none, or compacted away: which one?
        current = Document.objects.filter(pk=document_id).values_list("version", flat=True).first()
        if current is not None and first <= (current if upto is None else min(upto, current)):
            raise _compacted(document_id, since)
    return found


def _compacted(document_id: Any, since: int) -> HistoryUnavailable:
    oldest = (
        Operation.objects.filter(document_id=document_id)
        .order_by("version")
        .values_list("version", flat=True)
    ).first()
    kept = f"the ops kept start at version {oldest}" if oldest is not None else "no ops are kept"
    return HistoryUnavailable(
        f"The history after version {since} is no longer kept (older ops are compacted; {kept}). "
        "Get the document again (or reconnect) and continue from its current version."
    )


def sync_ops(document_id: Any, since: int) -> tuple[int, list[CommittedOp]]:
    """Everything after ``since`` for a ``sync``: (current version, ops)."""
    current = Document.objects.filter(pk=document_id).values_list("version", flat=True).first()
    if current is None:
        raise NotFound("No such document.")
    if since > current:
        raise VersionAhead(f"Version {since} is beyond the document's current version {current}.")
    if since < 0 or current - since > int(collab_settings["SYNC_MAX_OPS"]):
        raise HistoryUnavailable(
            f"The history after version {since} is too long to send; reconnect to get a fresh copy."
        )
    return current, ops_since(document_id, since, upto=current)


def snapshot_at(document: Document, version: int | None = None) -> tuple[int, str]:
    """The text at ``version`` (default: current): nearest snapshot, then replay."""
    if version is None or version == document.version:
        return document.version, document.content
    if version < 0 or version > document.version:
        raise NotFound(f"Version {version} does not exist; the current version is {document.version}.")
    base = Snapshot.objects.filter(document=document, version__lte=version).order_by("-version").first()
    if base is None:
        raise HistoryUnavailable(
            f"The text at version {version} is no longer kept: the history before it was compacted."
        )
    rows = list(
        Operation.objects.filter(document=document, version__gt=base.version, version__lte=version)
        .order_by("version")
        .values_list("version", "op")
    )
    if [v for v, _ in rows] != list(range(base.version + 1, version + 1)):  # compacted meanwhile
        raise HistoryUnavailable(f"The ops up to version {version} are no longer kept (compacted).")
    text = base.content
    for _, op in rows:
        text = apply(text, op)
    return version, text
