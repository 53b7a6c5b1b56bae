"""Plain-text operations: check, normalize, apply, transform, compose, invert, diff.

A document is one Unicode string; every position and length counts code points
(Python ``str`` indexing, so an emoji is one position). An operation ("op") is a
JSON array of components applied left to right from position 0::

    n > 0    retain n characters
    "s"      insert the string s
    -n < 0   delete n characters
    (whatever lies after the last component is retained)

    >>> apply("abcdefg", [3, "hi", -2])
    'abchifg'
    >>> normalize([1, 2, -2, "x", 4])
    [3, 'x', -2]

Two ops made concurrently on the same text are reconciled with ``transform``;
the op committed first (``a``) keeps its inserts to the left on ties::

    >>> a, b = [1, "X"], [1, "Y"]
    >>> transform(a, b)
    ([1, 'X'], [2, 'Y'])
    >>> apply(apply("ab", a), [2, "Y"]) == apply(apply("ab", b), [1, "X"]) == "aXYb"
    True

Errors::

    ValueError
     └── InvalidOperation
          ├── MalformedOperation   not a list, or a component 0, "", bool, float...
          └── OperationOutOfRange  retains or deletes past the end of the text
"""

from __future__ import annotations

import re
import reprlib
from typing import TypeAlias, cast

from ._components import Builder, Reader, size

__all__ = [
    "Component",
    "InvalidOperation",
    "MalformedOperation",
    "Op",
    "OperationOutOfRange",
    "apply",
    "base_length",
    "check",
    "compose",
    "diff",
    "invert",
    "is_noop",
    "normalize",
    "target_length",
    "transform",
]

Component: TypeAlias = int | str
Op: TypeAlias = list[Component]


class InvalidOperation(ValueError):
    """Base class: the operation cannot be used."""


class MalformedOperation(InvalidOperation):
    """The operation's structure or component types are wrong."""


class OperationOutOfRange(InvalidOperation):
    """The operation retains or deletes past the end of the text."""


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def check(op: object) -> Op:
    """Validate the structure of ``op`` (not its length) and return it typed.

    Lone UTF-16 surrogates and NUL characters are rejected too: they cannot be stored
    (not text / PostgreSQL refuses NUL in text).
    """
    if not isinstance(op, list):
        raise MalformedOperation(f"operation must be a list, got {type(op).__name__}")
    for i, c in enumerate(op):
        if isinstance(c, bool) or not isinstance(c, int | str) or not c:
            expected = "a non-zero integer or a non-empty string"
            raise MalformedOperation(f"component {i} must be {expected}, got {reprlib.repr(c)}")
        if isinstance(c, str) and (m := _LONE_SURROGATE.search(c)):
            raise MalformedOperation(f"component {i} contains a lone surrogate U+{ord(m.group()):04X}")
        if isinstance(c, str) and "\x00" in c:
            raise MalformedOperation(f"component {i} contains a NUL character (databases cannot store it)")
    return cast(Op, op)


def without_empty(op: object) -> object:
    """``op`` without zero and empty-string components (which normalizing drops).

    Everything else is left for ``check`` to judge; ``False`` is not a zero.
    """
    if not isinstance(op, list):
        return op
    return [c for c in op if not (c == "" or (type(c) is int and c == 0))]


def normalize(op: object) -> Op:
    """Check ``op`` and return its normalized form (idempotent).

    No zero or empty components, no adjacent components of one kind, inserts
    before deletes where they meet, no trailing retain: ``[0, -2, "x", 3]``
    becomes ``["x", -2]``. Only ``normalize`` accepts zero and empty components
    (clients may send them); ``apply``, ``transform`` and the rest want real ones.
    """
    out = Builder()
    for c in check(without_empty(op)):
        out.push(c)
    return out.finish()


def base_length(op: Op) -> int:
    """The minimum text length ``op`` needs: its retains plus its deletes."""
    return sum(abs(c) for c in check(op) if isinstance(c, int))


def _fits(op: Op, length: int) -> Op:
    need = base_length(op)
    if need > length:
        raise OperationOutOfRange(f"operation spans {need} characters but the text has only {length}")
    return op


def target_length(op: Op, length: int) -> int:
    """The length of a text of ``length`` characters after applying ``op``."""
    return length + sum(len(c) if isinstance(c, str) else min(c, 0) for c in _fits(op, length))


def apply(text: str, op: Op) -> str:
    """Apply ``op`` to ``text`` in O(len(text) + len(op))."""
    parts: list[str] = []
    pos = 0
    for c in _fits(op, len(text)):
        if isinstance(c, str):
            parts.append(c)
        elif c > 0:
            parts.append(text[pos : pos + c])
            pos += c
        else:
            pos -= c
    parts.append(text[pos:])
    return "".join(parts)


def is_noop(op: Op) -> bool:
    """True if ``op`` changes no text (it only retains)."""
    return all(isinstance(c, int) and c > 0 for c in check(op))


def _transform(op: Op, other: Op, *, left: bool) -> Op:
    """Rewrite ``op`` to apply after ``other``; ``left`` ops win insert ties."""
    out = Builder()
    reader = Reader(op)
    for c in other:
        if isinstance(c, str):
            if left:
                while isinstance(reader.peek(), str):
                    out.push(reader.take(0, "insert"))
            out.push(len(c))  # step over the other op's insert
            continue
        n = abs(c)
        while n > 0:
            piece = reader.take(n, "insert")
            if isinstance(piece, str):
                out.push(piece)
                continue
            n -= abs(piece)
            if c > 0:
                out.push(piece)  # kept text: our retain or delete stands
            # text the other op deleted: our retain or delete of it vanishes
    for piece in reader.rest():
        out.push(piece)
    return out.finish()


def transform(a: Op, b: Op) -> tuple[Op, Op]:
    """Reconcile concurrent ops ``a`` (committed first) and ``b``.

    Returns ``(a2, b2)`` with ``apply(apply(s, a), b2) == apply(apply(s, b), a2)``;
    when both insert at the same position, ``a``'s text ends up on the left.
    """
    a, b = normalize(a), normalize(b)
    return _transform(a, b, left=True), _transform(b, a, left=False)


def rebase(op: Op, over: Op) -> Op:
    """``op`` moved past ``over``, an op committed before it (``over`` wins insert ties).

    The half of ``transform`` a server needs, for ops that are already normalized:
    ``rebase(b, a) == transform(a, b)[1]``.
    """
    return _transform(op, over, left=False)


def compose(a: Op, b: Op) -> Op:
    """One op doing ``a`` then ``b``.

    ``apply(s, compose(a, b)) == apply(apply(s, a), b)``; ``a`` may leave the
    end of the text implicitly retained, ``b`` may then edit it.
    """
    out = Builder()
    reader = Reader(check(a))
    for c in check(b):
        if isinstance(c, str):
            out.push(c)
            continue
        n = abs(c)
        while n > 0:
            piece = reader.take(n, "delete")
            if isinstance(piece, int) and piece < 0:
                out.push(piece)  # a's deletes are invisible to b
                continue
            n -= size(piece)
            if c > 0:
                out.push(piece)
            elif isinstance(piece, int):
                out.push(-piece)  # b deletes text a retained
            # b deletes text a inserted: both vanish
    for piece in reader.rest():
        out.push(piece)
    return out.finish()


def invert(op: Op, text: str) -> Op:
    """The op undoing ``op``, where ``text`` is the text *before* ``op``.

    >>> invert([1, "X", -2], "abcd")
    [1, 'bc', -1]
    """
    out = Builder()
    pos = 0
    for c in _fits(op, len(text)):
        if isinstance(c, str):
            out.push(-len(c))
        elif c > 0:
            out.push(c)
            pos += c
        else:
            out.push(text[pos : pos - c])
            pos -= c
    return out.finish()


def _common_prefix(a: str, b: str, limit: int) -> int:
    """Length of the common prefix, by bisection on C-speed slice comparisons."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def diff(old: str, new: str) -> Op:
    """An op turning ``old`` into ``new``: common prefix, then common suffix.

    >>> diff("the cat", "the hat")
    [4, 'h', -1]
    """
    prefix = _common_prefix(old, new, min(len(old), len(new)))
    limit = min(len(old), len(new)) - prefix
    suffix = _common_prefix(old[::-1], new[::-1], limit)
    out = Builder()
    out.push(prefix)
    out.push(new[prefix : len(new) - suffix])
    out.push(suffix - len(old) + prefix)
    return out.finish()
