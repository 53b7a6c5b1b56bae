"""Move cursors and selections through an operation.

A cursor is a code-point position *between* characters (0 = before the first).
Text inserted before it pushes it right; text inserted exactly at it goes after
the cursor unless the op is the cursor owner's own edit (``own=True``), as in
ShareDB's ``transformPosition``; a delete spanning it pulls it to the delete's
start::

    >>> transform_position(2, [1, "xy"])        # insert before the cursor
    4
    >>> transform_position(2, [2, "xy"])        # someone else types at the cursor
    2
    >>> transform_position(2, [2, "xy"], own=True)  # we typed it
    4
    >>> transform_position(3, [1, -4])          # the cursor's text was deleted
    1

Positions must be non-negative; a position past the end of the text is moved
as if the text were long enough; clamping it is the caller's job.
"""

from __future__ import annotations

from .operation import Op, normalize

__all__ = ["transform_position", "transform_selection"]


def transform_position(pos: int, op: Op, *, own: bool = False) -> int:
    """Where a cursor at ``pos`` ends up after ``op`` is applied."""
    if pos < 0:
        raise ValueError(f"position must be non-negative, got {pos}")
    at = 0  # position in the text before op
    shift = 0
    for c in normalize(op):
        if at > pos:
            break
        if isinstance(c, str):
            if at < pos or own:
                shift += len(c)
        elif c > 0:
            at += c
        else:
            shift -= min(-c, pos - at)
            at -= c
    return pos + shift


def transform_selection(anchor: int, head: int, op: Op, *, own: bool = False) -> tuple[int, int]:
    """Move both ends of a selection through ``op`` (see ``transform_position``)."""
    return transform_position(anchor, op, own=own), transform_position(head, op, own=own)
