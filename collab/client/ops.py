"""Op helpers the session needs: a diff that keeps common runs, and splitting big ops. No I/O.

``fine_diff(old, new)`` turns ``old`` into ``new`` keeping every common run of
lines, then of words inside changed lines, then of characters inside changed
words (Myers' algorithm at each level, bounded), so that concurrent edits to
the unchanged parts survive a merge with it; ``collab.ot.diff`` keeps only the
common prefix and suffix::

    >>> fine_diff("one two three four", "one 2 three four!")
    [4, '2', -3, 11, '!']

``split_op(op, budget)`` cuts an op into a first part of about ``budget``
characters and the rest, applied one after the other::

    >>> split_op([2, "abcdef", -1], budget=16)  # a retain or delete counts as 12
    ([2, 'abcd'], [6, 'ef', -1])
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from collab.ot import Op, normalize

__all__ = ["fine_diff", "split_op"]

_WORDS = re.compile(r"\s*\S+|\s+")  # a word with the spaces before it
MAX_EDITS = 400  # per level: beyond this many token edits, the changed run is replaced whole


def fine_diff(old: str, new: str) -> Op:
    """An op turning ``old`` into ``new``, keeping the common runs of lines, words, characters."""
    out: Op = []
    _fine(old, new, 0, out)
    return normalize([c for c in out if c != "" and c != 0])


def _tokens(text: str, level: int) -> list[str]:
    if level == 0:
        return text.splitlines(keepends=True)
    return _WORDS.findall(text) if level == 1 else list(text)


def _boundary(text: str, at: int, level: int) -> bool:
    """Whether a token of ``level`` (0 lines, 1 words, 2 characters) starts at ``at``."""
    if level == 2 or at in (0, len(text)):
        return True
    return text[at - 1] == "\n" if level == 0 else not text[at - 1].isspace() and text[at].isspace()


def _same_start(a: str, b: str) -> int:
    """The length of the common prefix (a binary search, so the comparing runs in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _fine(a: str, b: str, level: int, out: Op) -> None:
    # the common head and tail first (cheap), cut back to whole tokens
    start = _same_start(a, b)
    while not (_boundary(a, start, level) and _boundary(b, start, level)):
        start -= 1
    end = _same_start(a[start:][::-1], b[start:][::-1])
    while not (_boundary(a, len(a) - end, level) and _boundary(b, len(b) - end, level)):
        end -= 1
    out.append(start)
    a, b = a[start : len(a) - end], b[start : len(b) - end]
    ta, tb = _tokens(a, level), _tokens(b, level)
    if level < 2 and len(ta) <= 1 and len(tb) <= 1 and a and b:
        _fine(a, b, level + 1, out)  # one token each: look inside it
    else:
        runs = _matches(ta, tb) if a and b else None
        if runs is None:
            out.extend([b, -len(a)])
        else:
            i = j = 0  # token indexes; the text between matches is diffed one level down
            for mi, mj, size in [*runs, (len(ta), len(tb), 0)]:
                sa, sb = "".join(ta[i:mi]), "".join(tb[j:mj])
                if level < 2 and sa and sb:
                    _fine(sa, sb, level + 1, out)
                else:
                    out.extend([sb, -len(sa)])
                out.append(len("".join(ta[mi : mi + size])))
                i, j = mi + size, mj + size
    out.append(end)


def _matches(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int]] | None:
    """Matching runs ``(i, j, size)`` of a shortest edit script (Myers, 1986), or None if it
    takes more than ``MAX_EDITS`` insertions and deletions."""
    n, m = len(a), len(b)
    off = MAX_EDITS + 1
    v = [0] * (2 * MAX_EDITS + 3)
    trace: list[list[int]] = []
    for d in range(MAX_EDITS + 1):
        trace.append(v[off - d - 1 : off + d + 2])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]  # from the diagonal above: an insertion
            else:
                x = v[off + k - 1] + 1  # from the left: a deletion
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x, y = x + 1, y + 1
            v[off + k] = x
            if x >= n and y >= m:
                return _runs(trace, n, m)
    return None


def _runs(trace: list[list[int]], x: int, y: int) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    for d in range(len(trace) - 1, -1, -1):
        v = trace[d]  # holds k from -d-1 to d+1 at index k + d + 1
        k = x - y
        down = k == -d or (k != d and v[k - 1 + d + 1] < v[k + 1 + d + 1])
        prev_k = k + 1 if down else k - 1
        prev_x = v[prev_k + d + 1]
        prev_y = prev_x - prev_k
        if d == 0:
            prev_x = prev_y = 0
        size = min(x - prev_x, y - prev_y) if d else x
        if size > 0:
            runs.append((x - size, y - size, size))
        x, y = prev_x, prev_y
    return runs[::-1]


def split_op(op: Op, budget: int) -> tuple[Op, Op]:
    """Split ``op`` into ``first``, of about ``budget`` characters at most, and ``rest``, so that
    applying ``first`` then ``rest`` is applying ``op`` (``rest`` is [] when it all fits)."""
    first: Op = []
    used = pos = 0  # pos: where the next component applies, in the text after ``first``
    progress = False  # ``first`` inserts or deletes something
    for i, c in enumerate(op):
        cost = len(c) if isinstance(c, str) else 12
        if used + cost > budget and (progress or isinstance(c, str)):
            room = budget - used if progress else max(budget - used, 1)
            tail: Op = [c]
            if isinstance(c, str) and room > 0:
                first.append(c[:room])
                pos, tail = pos + room, [c[room:]]
            return normalize(first), normalize([*([pos] if pos else []), *tail, *op[i + 1 :]])
        first.append(c)
        used += cost
        pos += len(c) if isinstance(c, str) else max(c, 0)
        progress = progress or not (isinstance(c, int) and c > 0)
    return normalize(first), []
