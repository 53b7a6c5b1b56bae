"""Where the server's time goes: py-spy on the server process during one run, summarized.

    spy = Profiler(".venv/bin/py-spy", "/tmp/collab.raw", duration=5)
    spy.start(server_pid)           # samples for ``duration`` seconds
    ...                             # the load
    print(spy.summary())            # top frames: self time by layer and function, inclusive time

py-spy writes collapsed stacks (``--format raw``: ``frame;frame;... count``),
one frame being ``function (path:line)``. Idle threads are not sampled, so a
percentage is of the samples in which some thread was running Python code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
LAYERS = [
    ("collab/", "collab"),
    ("channels/", "channels"),
    ("daphne/", "daphne"),
    ("autobahn/", "autobahn"),
    ("twisted/", "twisted"),
    ("uvicorn/", "uvicorn"),
    ("websockets/", "websockets"),
    ("asgiref/", "asgiref"),
    ("django/db/", "django.db (ORM)"),
    ("django/", "django (other)"),
    ("sqlite3/", "sqlite3"),
    ("json/", "json"),
    ("asyncio/", "asyncio"),
    ("concurrent/", "threads (concurrent.futures)"),
    ("threading.py", "threads (concurrent.futures)"),
    ("copy.py", "copy (deepcopy)"),
]


# frames every stack goes through: the server's main loop, the thread pool, sync/async wrappers
PLUMBING = (
    "(<frozen runpy>)", "(daphne/__main__.py)", "(daphne/cli.py)", "(python/log.py)", "(python/context.py)", "(daphne/server.py)", "(internet/asyncioreactor.py)",
    "(asyncio/base_events.py)", "(asyncio/runners.py)", "(asyncio/events.py)", "(threading.py)",
    "(futures/thread.py)", "(click/core.py)", "(uvicorn/main.py)", "(uvicorn/server.py)",
    "(uvicorn/_compat.py)", "(asgiref/sync.py)", "(channels/db.py)", "(utils/asyncio.py)",
)  # fmt: skip


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def layer_of(path: str) -> str:
    for needle, name in LAYERS:
        if needle in path:
            return name
    return "other"


def parse_frame(frame: str) -> tuple[str, str]:
    """``(function label, path)`` of one collapsed-stack frame."""
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip(), ""
    path = m.group("path")
    short = "/".join(path.split("/")[-2:])
    return f"{m.group('func')} ({short})", path


class Profiler:
    def __init__(
        self, exe: str, output: Path, *, duration: float, rate: int = 200, gil: bool = False
    ) -> None:
        self.exe, self.output, self.duration, self.rate = exe, Path(output), duration, rate
        # only the thread holding the GIL: CPU, not a thread's wait for the GIL after a system call
        self.gil = gil
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, pid: int) -> None:
        self.proc = subprocess.Popen(
            [
                self.exe, "record", "--pid", str(pid), "--duration", str(int(self.duration)),
                "--rate", str(self.rate), "--format", "raw", "--output", str(self.output), "--nonblocking",
                *(["--gil"] if self.gil else []),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def wait(self) -> None:
        if self.proc is not None:
            _, err = self.proc.communicate(timeout=self.duration + 60)
            if self.proc.returncode != 0:
                raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")

    def stacks(self) -> list[tuple[list[str], int]]:
        out = []
        for line in self.output.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                out.append((stack.split(";"), int(count)))
        return out

    def summary(self, top: int = 12) -> str:
        self.wait()
        stacks = self.stacks()
        total = sum(c for _, c in stacks) or 1
        by_layer: Counter[str] = Counter()
        by_self: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        for frames, count in stacks:
            leaf, path = parse_frame(frames[-1])
            by_layer[layer_of(path)] += count
            by_self[leaf] += count
            for label in {parse_frame(f)[0] for f in frames}:
                inclusive[label] += count
        lines = [f"{total} samples at {self.rate}/s (threads running Python code only)", ""]
        lines.append("Self time by layer (the innermost frame's package):")
        lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in by_layer.most_common()]
        lines += ["", f"Self time, top {top} functions:"]
        lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in by_self.most_common(top)]
        lines += ["", f"Inclusive time, top {2 * top} functions (event loop and thread plumbing left out):"]
        shown = [(n, c) for n, c in inclusive.most_common() if not n.endswith(PLUMBING)]
        lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in shown[: 2 * top]]
        return "\n".join(lines)
