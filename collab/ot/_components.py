"""Internal helpers that build and read ops one component at a time.

``Builder`` gathers components into a normalized op; ``Reader`` walks an op
and splits its components on demand, which is how ``transform`` and
``compose`` pair up two ops::

    >>> out = Builder()
    >>> for c in [1, 2, -1, "x", "y", 4]:
    ...     out.push(c)
    >>> out.finish()
    [3, 'xy', -1]
    >>> r = Reader([3, "ab"])
    >>> r.take(2, "insert"), r.take(5, "insert"), r.rest()
    (2, 1, ['ab'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .operation import Component, Op

__all__ = ["Builder", "Reader", "size"]


def size(c: Component) -> int:
    """How many characters a component inserts, retains or deletes."""
    return len(c) if isinstance(c, str) else abs(c)


class Builder:
    """Collects components into a normalized op in linear time.

    Between two retains, inserts and deletes are gathered into one insert
    followed by one delete (their order there does not change the result).
    """

    def __init__(self) -> None:
        self._out: Op = []
        self._inserts: list[str] = []
        self._deleted = 0

    def push(self, c: Component) -> None:
        if isinstance(c, str):
            self._inserts.append(c)
        elif c < 0:
            self._deleted -= c
        elif c > 0:
            self._flush()
            last = self._out[-1] if self._out else None
            if isinstance(last, int) and last > 0:
                self._out[-1] = last + c
            else:
                self._out.append(c)

    def finish(self) -> Op:
        """The normalized op, without the implied trailing retain."""
        self._flush()
        if self._out and isinstance(self._out[-1], int) and self._out[-1] > 0:
            self._out.pop()
        return self._out

    def _flush(self) -> None:
        if inserted := "".join(self._inserts):
            self._out.append(inserted)
        if self._deleted:
            self._out.append(-self._deleted)
        self._inserts, self._deleted = [], 0


class Reader:
    """Reads an op's components, splitting them on demand; past its end, retains."""

    def __init__(self, op: Op) -> None:
        self._op = op
        self._i = 0
        self._offset = 0  # characters of op[_i] already taken

    def peek(self) -> Component | None:
        """The current component (maybe partly taken), or None at the end."""
        return self._op[self._i] if self._i < len(self._op) else None

    def take(self, n: int, whole: Literal["insert", "delete"]) -> Component:
        """Take up to ``n`` characters' worth; components of kind ``whole`` entirely."""
        if self._i >= len(self._op):
            return n
        c, start = self._op[self._i], self._offset
        count = size(c) - start
        kind = "insert" if isinstance(c, str) else "delete" if c < 0 else "retain"
        if kind == whole or count <= n:
            self._i, self._offset = self._i + 1, 0
        else:
            count, self._offset = n, start + n
        if isinstance(c, str):
            return c[start : start + count]
        return count if c > 0 else -count

    def rest(self) -> Op:
        """Everything not taken yet."""
        if self._i >= len(self._op):
            return []
        first = self.take(size(self._op[self._i]), "insert")
        return [first, *self._op[self._i :]]
