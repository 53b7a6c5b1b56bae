"""Differences between two texts as people read them: an op, and a unified diff. No I/O.

``collab.ot.diff`` finds the common prefix and suffix (one changed block);
``text_op`` matches lines first (difflib) and then, inside each changed block,
the common prefix and suffix, so separate changes stay separate::

    >>> text_op("a\\nb\\nc\\n", "A\\nb\\nc!\\n")
    ['A', -1, 4, '!']
    >>> print(unified("a\\n", "b\\n", "v1", "v2"), end="")
    --- v1
    +++ v2
    @@ -1 +1 @@
    -a
    +b
"""

from __future__ import annotations

import difflib

from collab.ot import Op, diff
from collab.ot._components import Builder


def text_op(old: str, new: str) -> Op:
    """An op turning ``old`` into ``new`` that keeps unchanged lines as retains."""
    if old == new:
        return []
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    out = Builder()
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        before, after = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "equal":
            out.push(len(before))
            continue
        inner = diff(before, after)
        consumed = 0
        for c in inner:
            out.push(c)
            consumed += c if isinstance(c, int) and c > 0 else (-c if isinstance(c, int) else 0)
        out.push(len(before) - consumed)  # the trailing retain ``diff`` leaves implicit
    return out.finish()


def unified(old: str, new: str, from_label: str, to_label: str, context: int = 3) -> str:
    """A unified diff (``diff -u``), with a note where a text does not end with a line break."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    lines = []
    for line in difflib.unified_diff(a, b, from_label, to_label, n=context):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)
