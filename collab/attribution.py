"""Who wrote which part of a text, carried through ops, and the spans people read. No I/O.

An attribution is a list of runs ``[length, first, last, user_id]``: that many
consecutive code points, inserted by ``user_id``'s ops of versions ``first``
to ``last`` (``None`` for anonymous writers and for the text a document was
created with, version 0). Neighbouring runs of one user whose versions lie
within ``WINDOW`` of each other are one run, so text typed a character per op
stays a handful of runs::

    >>> a = Attribution.of_text("hello")               # as created: [[5, 0, 0, None]]
    >>> a.apply([5, " world"], 1, 7)                   # version 1, by user 7
    >>> a.apply([11, "!"], 2, 7)                       # version 2, same user: one run
    >>> a.runs
    [[5, 0, 0, None], [7, 1, 2, 7]]
    >>> [(s.kind, s.text) for s in spans("hello", [1, "EY", -2], "hEYlo", None)]
    [('equal', 'h'), ('inserted', 'EY'), ('deleted', 'el'), ('equal', 'lo')]

``Attribution.apply`` edits the runs in place, in blocks indexed by length, so
replaying a long history stays fast whatever the number of runs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

from collab.ot import Op, check

WINDOW = 100  # versions one run may span
BLOCK = 32  # runs per block (at most twice that)

Run = list[Any]  # [length, first, last, user]


def _joinable(a: Run, b: Run) -> bool:
    return bool(a[3] == b[3] and max(a[2], b[2]) - min(a[1], b[1]) < WINDOW)


class Attribution:
    """The runs of one text, edited in place as ops are applied.

    The runs are kept in blocks of at most ``2 * BLOCK`` with each block's
    length, so finding a position costs a bisection and a short walk, even
    with many small runs (many people editing one place by turns).
    """

    __slots__ = ("_blocks", "_cum", "_sizes")

    def __init__(self, runs: Iterable[Sequence[Any]] = ()) -> None:
        flat = [list(r) for r in runs if r[0] > 0]
        self._blocks: list[list[Run]] = [flat[i : i + BLOCK] for i in range(0, len(flat), BLOCK)]
        self._sizes = [sum(r[0] for r in block) for block in self._blocks]
        self._cum: list[int] | None = None

    @classmethod
    def of_text(cls, text: str, version: int = 0, user: int | None = None) -> Attribution:
        """A text written at once (the content a document was created with: version 0, nobody)."""
        return cls([[len(text), version, version, user]] if text else [])

    @property
    def runs(self) -> list[Run]:
        return [list(r) for block in self._blocks for r in block]

    def copy(self) -> Attribution:
        return Attribution(self.runs)

    @property
    def length(self) -> int:
        return sum(self._sizes)

    def _cumulative(self) -> list[int]:
        if self._cum is None:
            self._cum = list(accumulate(self._sizes))
        return self._cum

    def _boundary(self, pos: int) -> tuple[int, int]:
        """Split runs so that one starts at ``pos``: (block, index in it); the index is the
        block's length only at the end of the text."""
        cum = self._cumulative()
        if not cum or pos >= cum[-1]:
            if pos != (cum[-1] if cum else 0):
                raise ValueError("the op spans more text than the attribution covers")
            if not self._blocks:
                self._blocks.append([])
                self._sizes.append(0)
                self._cum = None
            return len(self._blocks) - 1, len(self._blocks[-1])
        b = bisect_right(cum, pos)
        block = self._blocks[b]
        start = cum[b] - self._sizes[b]
        k = 0
        while start + block[k][0] <= pos:
            start += block[k][0]
            k += 1
        if start < pos:
            run = block[k]
            block.insert(k + 1, [run[0] - (pos - start), run[1], run[2], run[3]])
            run[0] = pos - start
            k += 1
        return b, k

    def _changed(self, b: int, delta: int | None = None) -> None:
        """Block ``b`` changed length by ``delta`` (None: count it again)."""
        if delta is None:
            self._sizes[b] = sum(r[0] for r in self._blocks[b])
        else:
            self._sizes[b] += delta
        self._cum = None

    def _join(self, b: int, k: int) -> None:
        """Join the run at (b, k) with the one before it (in this block or the previous) if they may be one."""
        block = self._blocks[b]
        if not 0 <= k < len(block):
            return
        if k > 0:
            left_block, j = block, k - 1
        elif b > 0 and self._blocks[b - 1]:
            left_block, j = self._blocks[b - 1], len(self._blocks[b - 1]) - 1
        else:
            return
        left, right = left_block[j], block[k]
        if not _joinable(left, right):
            return
        left[0] += right[0]
        left[1], left[2] = min(left[1], right[1]), max(left[2], right[2])
        del block[k]
        if left_block is not block:
            self._changed(b, -right[0])
            self._changed(b - 1, right[0])

    def _split_if_large(self, b: int) -> None:
        block = self._blocks[b]
        if len(block) > 2 * BLOCK:
            self._blocks[b : b + 1] = [block[:BLOCK], block[BLOCK:]]
            self._sizes[b : b + 1] = [sum(r[0] for r in block[:BLOCK]), sum(r[0] for r in block[BLOCK:])]
            self._cum = None

    def _drop_empty(self, first: int, last: int) -> None:
        for b in range(last, first - 1, -1):
            if not self._blocks[b]:
                del self._blocks[b], self._sizes[b]
                self._cum = None

    def apply(self, op: Op, version: int, user: int | None) -> None:
        """Apply ``op``, committed as ``version`` by ``user``."""
        pos = 0
        for c in check(op):
            if isinstance(c, str):
                b, k = self._boundary(pos)
                self._blocks[b].insert(k, [len(c), version, version, user])
                self._changed(b, len(c))
                if k + 1 < len(self._blocks[b]):
                    self._join(b, k + 1)
                self._join(b, k)
                self._split_if_large(b)
                pos += len(c)
            elif c > 0:
                pos += c
            else:
                b1, k1 = self._boundary(pos)
                b2, k2 = self._boundary(pos - c)
                if b1 == b2:
                    del self._blocks[b1][k1:k2]
                else:
                    del self._blocks[b2][:k2]
                    del self._blocks[b1][k1:]
                    for b in range(b1 + 1, b2):
                        self._blocks[b] = []
                    for b in range(b1 + 1, b2 + 1):
                        self._changed(b)
                self._changed(b1)
                self._drop_empty(b1, b2)
                if 0 < pos < self.length:
                    self._join(*self._boundary(pos))

    def replay(self, ops: Iterable[tuple[int, Op, int | None]]) -> Attribution:
        """``apply`` each ``(version, op, user_id)`` in order; returns itself."""
        for version, op, user in ops:
            self.apply(op, version, user)
        return self


Kind = Literal["equal", "inserted", "deleted"]


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of text for people: kept, inserted (by ``user`` in versions ``first``..``last``) or deleted."""

    kind: Kind
    text: str
    first: int | None = None
    last: int | None = None
    user: int | None = None


def _who(span: Span) -> tuple[str, int | None, int | None, int | None]:
    return span.kind, span.first, span.last, span.user


def _append(out: list[Span], span: Span) -> None:
    if not span.text:
        return
    last = out[-1] if out else None
    if last and _who(last) == _who(span):
        out[-1] = Span(span.kind, last.text + span.text, span.first, span.last, span.user)
    else:
        out.append(span)


def _pieces(runs: Sequence[Run]) -> Iterator[Run]:
    for run in runs:
        yield list(run)


class _Taker:
    """Takes code points from the front of runs, splitting a run where needed."""

    def __init__(self, runs: Sequence[Run]) -> None:
        self._runs = _pieces(runs)
        self._run: Run | None = None

    def take(self, n: int) -> Iterator[Run]:
        while n > 0:
            if self._run is None or self._run[0] == 0:
                self._run = next(self._runs, None)
                if self._run is None:
                    raise ValueError("the op spans more text than the attribution covers")
            piece = min(n, self._run[0])
            yield [piece, self._run[1], self._run[2], self._run[3]]
            self._run[0] -= piece
            n -= piece


def spans(old: str, op: Op, new: str, new_runs: Sequence[Run] | None) -> list[Span]:
    """The spans of ``op`` (which turns ``old`` into ``new``): equal and deleted text from ``old``,
    inserted text from ``new``, split by who wrote it where ``new_runs`` (the attribution of ``new``)
    is known."""
    out: list[Span] = []
    pos_old = pos_new = 0
    taker = _Taker(new_runs) if new_runs is not None else None
    for c in check(op):
        if isinstance(c, str):
            if taker is None:
                _append(out, Span("inserted", c))
            else:
                at = pos_new
                for piece in taker.take(len(c)):
                    _append(out, Span("inserted", new[at : at + piece[0]], piece[1], piece[2], piece[3]))
                    at += piece[0]
            pos_new += len(c)
        elif c > 0:
            _append(out, Span("equal", old[pos_old : pos_old + c]))
            if taker is not None:
                for _ in taker.take(c):
                    pass
            pos_old += c
            pos_new += c
        else:
            _append(out, Span("deleted", old[pos_old : pos_old - c]))
            pos_old -= c
    _append(out, Span("equal", old[pos_old:]))
    return out


def blame(text: str, runs: Sequence[Run]) -> list[Span]:
    """The text cut into the spans its runs describe: who wrote each part, in which versions."""
    out: list[Span] = []
    pos = 0
    for length, first, last, user in runs:
        _append(out, Span("inserted", text[pos : pos + length], first, last, user))
        pos += length
    return out
