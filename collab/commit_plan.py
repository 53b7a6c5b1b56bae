"""The commit decision for a group of edits to one document, with no I/O.

Given the document as locked (its text and version), the ops committed after
the oldest base among the edits, and which of the edits' ``(client_id, seq)``
are already committed, ``plan()`` decides, for each edit in order: a resend
of a committed edit (its original version), an error (the document is left
as it was), or a new version with the op rebased onto the current text. It
also returns what to persist: the new text and version, and the snapshots due.
``collab.editing`` locks the document, reads what the plan needs, calls it,
and writes what it returns::

    checked = prepare(edits)                 # before taking the lock
    since = oldest_base(checked, head.version)  # read history[v] for v > since
    decided = plan(head, checked, history=history, committed=committed, max_chars=1_000_000)
    for index, fresh in decided.fresh: ...   # one row per new version, in order
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from collab.exceptions import CollabError, DocumentTooLarge, HistoryUnavailable, InvalidOp, VersionAhead
from collab.ot import InvalidOperation, Op, apply, base_length, check, normalize, rebase, without_empty

Key = tuple[str, int]


class Edit(Protocol):
    """What the plan reads of an edit request (``editing.EditRequest`` is one)."""

    @property
    def version(self) -> int: ...
    @property
    def op(self) -> Any: ...
    @property
    def client_id(self) -> str: ...
    @property
    def seq(self) -> int | None: ...


def key_of(edit: Edit) -> Key | None:
    """The idempotency key of an edit, or None for an edit without client_id and seq."""
    return (edit.client_id, edit.seq) if edit.client_id and edit.seq is not None else None


def _named(error: CollabError, edit: Edit) -> CollabError:
    error.ref = {"client_id": edit.client_id, "seq": edit.seq} if edit.client_id else None
    return error


@dataclass(frozen=True, slots=True)
class Checked:
    """An edit whose op is well formed: normalized, with the length of text the op *as sent* spans.

    The span counts a trailing retain that normalizing drops, so ``[99]`` on a
    5-character text is refused as past the end rather than accepted as a no-op.
    """

    edit: Edit
    op: Op
    span: int


def prepare(edits: Sequence[Edit]) -> list[Checked | CollabError]:
    """Check each edit's op on its own (no document needed): a ``Checked`` or an ``InvalidOp``."""
    out: list[Checked | CollabError] = []
    for edit in edits:
        try:
            out.append(Checked(edit, normalize(edit.op), base_length(check(without_empty(edit.op)))))
        except InvalidOperation as exc:
            out.append(_named(InvalidOp(f"Invalid op: {exc}"), edit))
    return out


def oldest_base(checked: Sequence[Checked | CollabError], version: int) -> int:
    """The version after which ``plan`` needs the committed ops (``version`` itself: none needed)."""
    bases = [c.edit.version for c in checked if isinstance(c, Checked) and 0 <= c.edit.version < version]
    return min(bases, default=version)


def size_error(length: int, maximum: int) -> DocumentTooLarge | None:
    """The error for a text of ``length`` code points, if that is over ``maximum``."""
    if length <= maximum:
        return None
    return DocumentTooLarge(f"The document would have {length} characters; at most {maximum} are allowed.")


@dataclass(frozen=True, slots=True)
class Head:
    """The document's current text and version, as read under its lock."""

    text: str
    version: int


@dataclass(frozen=True, slots=True)
class Fresh:
    """A new version: ``op`` (rebased, normalized) turns the text at ``version - 1`` into it."""

    version: int
    op: Op


@dataclass(frozen=True, slots=True)
class Resend:
    """An edit whose (client_id, seq) is already committed, as ``version``: not committed again."""

    version: int


Decision = Fresh | Resend | CollabError


@dataclass(frozen=True, slots=True)
class Plan:
    """One decision per edit, in order, and the document after every fresh op."""

    decisions: tuple[Decision, ...]
    head: Head
    snapshots: tuple[Head, ...]  # the text at each new version that is a multiple of snapshot_every

    @property
    def fresh(self) -> list[tuple[int, Fresh]]:
        """(index of the edit, its new version): the rows to persist, in version order."""
        return [(i, d) for i, d in enumerate(self.decisions) if isinstance(d, Fresh)]


def _growth(op: Op) -> int:
    return sum(len(c) if isinstance(c, str) else (c if c < 0 else 0) for c in op)


def plan(
    head: Head,
    checked: Sequence[Checked | CollabError],
    *,
    history: Mapping[int, Op],
    committed: Mapping[Key, int],
    max_chars: int,
    snapshot_every: int = 0,
) -> Plan:
    """Decide every edit, in order, as committing them one after another would.

    ``history`` holds the committed op of each version after
    ``oldest_base(checked, head.version)``; ``committed`` maps the keys of
    these edits that are already committed to their versions (keys missing
    from it are taken as new). An edit that fails changes nothing: the next
    one sees the document as it was before it.
    """
    text, version = head.text, head.version
    ops = dict(history)
    done = dict(committed)
    lengths = {version: len(text)}  # text length per version, filled downwards when needed
    decisions: list[Decision] = []
    snapshots: list[Head] = []
    for item in checked:
        if isinstance(item, CollabError):
            decisions.append(item)
            continue
        edit, key = item.edit, key_of(item.edit)
        if key is not None and key in done:
            decisions.append(Resend(done[key]))
            continue
        try:
            op = _rebased(item, version, ops, lengths)
            new_text = apply(text, op)
        except CollabError as exc:
            decisions.append(_named(exc, edit))
            continue
        except InvalidOperation as exc:
            decisions.append(_named(InvalidOp(f"Invalid op at version {edit.version}: {exc}"), edit))
            continue
        if (too_large := size_error(len(new_text), max_chars)) is not None:
            decisions.append(_named(too_large, edit))
            continue
        version += 1
        text = new_text
        ops[version] = op
        lengths[version] = len(text)
        decisions.append(Fresh(version, op))
        if key is not None:
            done[key] = version
        if snapshot_every > 0 and version % snapshot_every == 0:
            snapshots.append(Head(text, version))
    return Plan(tuple(decisions), Head(text, version), tuple(snapshots))


def _rebased(item: Checked, version: int, ops: Mapping[int, Op], lengths: dict[int, int]) -> Op:
    """The edit's op moved from its base version to ``version``, after the span check at its base."""
    base = item.edit.version
    if base > version:
        raise VersionAhead(f"Version {base} is beyond the document's current version {version}.")
    if base < 0:
        raise InvalidOp("version must be 0 or more.")
    if base < version and base + 1 not in ops:  # the ops since the base were compacted away
        raise HistoryUnavailable(
            f"The edit is based on version {base}, whose history is no longer kept; "
            "get the document again and redo the edit on its current version."
        )
    for v in range(min(lengths) - 1, base - 1, -1):
        lengths[v] = lengths[v + 1] - _growth(ops[v + 1])
    if item.span > lengths[base]:
        raise InvalidOp(
            f"Invalid op: it spans {item.span} code points but the text at version "
            f"{base} has {lengths[base]}."
        )
    op = item.op
    for v in range(base + 1, version + 1):
        op = rebase(op, ops[v])
    return op
