"""Only for ``python -m bench.run --memprofile``: tracemalloc in a benchmark server, dumped on SIGUSR1.

The benchmark puts this directory on the server's ``PYTHONPATH`` and sets
``COLLAB_BENCH_TRACEMALLOC=<path prefix>``; each SIGUSR1 then writes a
snapshot to ``<prefix>.<n>`` (n = 0, 1, ...), which ``bench.memory`` compares.
Without that variable this module does nothing.
"""

from __future__ import annotations

import itertools
import os
import signal
import tracemalloc
from types import FrameType

_PREFIX = os.environ.get("COLLAB_BENCH_TRACEMALLOC")

if _PREFIX:
    tracemalloc.start(int(os.environ.get("COLLAB_BENCH_TRACEMALLOC_FRAMES", "1")))
    _count = itertools.count()

    def _dump(signum: int, frame: FrameType | None) -> None:
        path = f"{_PREFIX}.{next(_count)}"
        tracemalloc.take_snapshot().dump(path + ".tmp")
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, _dump)
