"""Where an idle connection's memory goes: two tracemalloc snapshots of a server, compared.

    text = compare(Path("/tmp/x.0"), Path("/tmp/x.1"), connections=1000)

The snapshots come from ``bench/memprobe/sitecustomize.py`` (``--memprofile``):
one before the connections are opened, one after. The growth is shown per
connection, by file and by allocating line. tracemalloc sees Python's
allocations only (not the allocator's slack, not C libraries), so the traced
total is below the RSS growth.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

IGNORE = [
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, "<unknown>"),
]


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def compare(before: Path, after: Path, *, connections: int, top: int = 15) -> str:
    s0 = tracemalloc.Snapshot.load(str(before)).filter_traces(IGNORE)
    s1 = tracemalloc.Snapshot.load(str(after)).filter_traces(IGNORE)
    by_file = [s for s in s1.compare_to(s0, "filename") if s.size_diff > 0]
    by_line = [s for s in s1.compare_to(s0, "lineno") if s.size_diff > 0]
    total = sum(s.size_diff for s in s1.compare_to(s0, "filename"))
    per = 1024 * connections
    lines = [f"traced Python allocations: {total / per:.1f} KiB per connection", "", "By file:"]
    for s in sorted(by_file, key=lambda s: -s.size_diff)[:top]:
        lines.append(f"  {s.size_diff / per:5.2f} KiB  {_short(s.traceback[0].filename)}")
    lines += ["", "By allocating line:"]
    for s in sorted(by_line, key=lambda s: -s.size_diff)[:top]:
        frame = s.traceback[0]
        lines.append(
            f"  {s.size_diff / per:5.2f} KiB  {s.count_diff / connections:5.1f} blocks  "
            f"{_short(frame.filename)}:{frame.lineno}"
        )
    return "\n".join(lines)
