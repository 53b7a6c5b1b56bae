"""Server-side measurements from ``/proc`` (no psutil): CPU seconds, resident memory, idleness.

cpu = cpu_seconds(pid)          # user + system time so far, in seconds
rss = rss_kib(pid)              # VmRSS in KiB
wait_idle([pid1, pid2])         # until each uses < 5% of a core
pids = tree(pid)                # the process and its descendants (a server's workers)
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterable

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # the command name may hold spaces; the fields after its closing parenthesis are fixed
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants alive now (a server's workers, e.g. ``uvicorn --workers``)."""
    parents: dict[int, list[int]] = {}
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as f:
                stat = f.read()
        except OSError:
            continue  # ended meanwhile
        child, ppid = int(path.split("/")[2]), int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(child)
    out, todo = [], [pid]
    while todo:
        out.append(todo.pop())
        todo += parents.get(out[-1], [])
    return out


def tree_cpu_seconds(pids: Iterable[int]) -> float:
    """``cpu_seconds`` summed over ``pids`` (a process that ended meanwhile counts nothing)."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue
    return total


def cpu_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (``schedstat``), in seconds.

    On a shared machine this is where latency hides that no profile of the
    process shows: the server was ready to run and the cores were busy.
    """
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_idle(
    pids: Iterable[int], *, below: float = 0.05, window: float = 0.3, timeout: float = 30.0
) -> bool:
    """Wait until every process uses less than ``below`` of a core over ``window`` seconds."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = [cpu_seconds(p) for p in pids]
        time.sleep(window)
        after = [cpu_seconds(p) for p in pids]
        if all((b - a) / window < below for a, b in zip(before, after, strict=True)):
            return True
    return False


class CpuMeter:
    """CPU used by a process between ``start()`` and ``stop()``, as a share of one core."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu0 = self.t0 = 0.0
        self.share = 0.0

    def start(self) -> None:
        self.cpu0, self.t0 = cpu_seconds(self.pid), time.monotonic()

    def stop(self) -> float:
        elapsed = time.monotonic() - self.t0
        self.share = (cpu_seconds(self.pid) - self.cpu0) / elapsed if elapsed > 0 else 0.0
        return self.share
