"""The scenarios, each measured on collab and on the relay, alternating, on one server pair.

- ``Fanout``: one writer, N subscribers in one room (collab: one document;
  the relay: its one group). Paced at ``rate`` edits/s, or as fast as a window
  of unacknowledged edits allows. Subscribers stay connected across the runs
  of one N; each run only counts what was stamped after it began. The same on
  a yjs document (target ``yjs``): the writer speaks Hocuspocus, the
  subscribers are y-websocket connections; it is measured against the text
  kind on the same collab server (section ``yjs``).
- ``commit_run``: 10 editors on one document, pipelined; acked commits/s and
  ack latency (the relay: its echo rate and echo latency).
- ``idle_run``: connect N idle connections to a freshly started server; its
  RSS growth per connection and the connects/s.
- ``storm_run``: a reconnect storm: N clients (rooms of ``room_size``, a
  handful of users with their tokens) connect at once to a freshly started
  server, as after a deploy, retrying until each has ``hello``; the time until
  all have it, and connects/s.

Every function returns ``Measurement``s: one target, one cell, one repetition.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import queue
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.clients import (
    NEVER,
    EditorsJob,
    EditorsResult,
    IdleJob,
    IdleResult,
    Speaker,
    StormJob,
    StormResult,
    SubscriberJob,
    SubscriberResult,
    close_all,
    editors_process,
    idle_process,
    open_many,
    run_writer,
    storm_process,
    subscriber_process,
)
from bench.memory import compare
from bench.procstat import cpu_seconds, cpu_wait_seconds, rss_kib, tree_cpu_seconds, wait_idle
from bench.servers import RELAY_PATH, BenchServer, ServerPair
from bench.speakers import RelaySpeaker, TextSpeaker, YjsSpeaker
from bench.stats import Histogram

CTX = mp.get_context("spawn")
EDITORS = [f"editor{i}" for i in range(10)]


@dataclass
class Measurement:
    section: str  # "fanout", "commit" or "idle"
    cell: str  # e.g. "paced 200/s, N=100"
    target: str  # "collab" or "relay"; in section "yjs": "yjs" or "text"
    values: dict[str, float]
    notes: list[str] = field(default_factory=list)
    detail: str = ""  # e.g. a memory profile


def split(items: list[str], parts: int) -> list[list[str]]:
    return [items[i::parts] for i in range(parts) if items[i::parts]]


def _wait_messages(q: Any, want: str, count: int, timeout: float) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        try:
            kind, slot, value = q.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"waited {timeout}s for {count} {want!r} messages, got {len(got)}"
                ) from None
            continue
        if kind == "error":
            raise RuntimeError(f"client process {slot} failed: {value}")
        if kind == want:
            got.append(value)
    return got


def room_url(pair: ServerPair, target: str, document_id: str | None, user: str) -> str:
    """A subscriber's (or the text writer's) URL; yjs: a y-websocket connection."""
    if target == "relay":
        return pair.relay.ws_url(RELAY_PATH)
    assert document_id is not None
    path = f"/ws/yjs/{document_id}" if target == "yjs" else f"/ws/documents/{document_id}/"
    return pair.collab.ws_url(path, token=pair.users(user)[user])


def server_of(pair: ServerPair, target: str) -> BenchServer:
    return pair.relay if target == "relay" else pair.collab


def speaker_of(pair: ServerPair, target: str, document_id: str | None) -> tuple[str, Speaker]:
    """The writer's URL and speaker: the text protocol, the relay's, or Hocuspocus on a yjs document."""
    client_id = f"writer-{int(time.monotonic() * 1000)}"
    if target == "yjs":
        assert document_id is not None
        return pair.collab.ws_url("/ws/hocuspocus"), YjsSpeaker(document_id, pair.users("writer")["writer"])
    url = room_url(pair, target, document_id, "writer")
    return url, (TextSpeaker(client_id) if target == "collab" else RelaySpeaker(client_id))


# -- fan-out -----------------------------------------------------------------
class SubscriberPool:
    """N subscribers in 1-2 client processes, kept connected across runs."""

    def __init__(self, urls: list[str], *, protocol: str, deflate: bool, processes: int) -> None:
        self.urls, self.protocol, self.deflate = urls, protocol, deflate
        self.parts = split(urls, processes)
        self.procs: list[Any] = []

    def start(self, timeout: float = 600) -> SubscriberPool:
        n = len(self.parts)
        self.counts = CTX.Array("q", n, lock=False)
        self.since = CTX.Value("d", NEVER, lock=False)
        self.ready, self.out = CTX.Queue(), CTX.Queue()
        self.commands = [CTX.Queue() for _ in range(n)]
        for slot, urls in enumerate(self.parts):
            job = SubscriberJob(urls, self.protocol, self.deflate, slot)
            proc = CTX.Process(
                target=subscriber_process,
                args=(job, self.counts, self.since, self.ready, self.commands[slot], self.out),
                daemon=True,
            )
            proc.start()
            self.procs.append(proc)
        _wait_messages(self.ready, "ready", n, timeout)
        return self

    def pids(self) -> list[int]:
        return [int(p.pid) for p in self.procs]

    def progress(self) -> int:
        return int(sum(self.counts))

    def begin(self) -> None:
        self.since.value = time.monotonic()

    def report(self) -> SubscriberResult:
        self.since.value = NEVER
        for commands in self.commands:
            commands.put("report")
        merged = SubscriberResult(hist=Histogram())
        for _ in self.parts:
            _, r = self.out.get(timeout=120)
            merged.delivered += r.delivered
            merged.frames += r.frames
            merged.batched_frames += r.batched_frames
            merged.order_errors += r.order_errors
            merged.stale += r.stale
            merged.alive += r.alive
            merged.closes.update(r.closes)
            merged.hist.merge(r.hist)
            if r.first_recv:
                merged.first_recv = min(merged.first_recv or r.first_recv, r.first_recv)
            merged.last_recv = max(merged.last_recv, r.last_recv)
        return merged

    def close(self) -> None:
        for commands in self.commands:
            commands.put("stop")
        for proc in self.procs:
            proc.join(60)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        self.procs = []


class Fanout:
    """Subscribers of one target and one N, and the writer runs against them.

    ``target``: ``collab`` (a text document), ``relay``, or ``yjs`` (a yjs document on the collab
    server). The measurements are filed under ``section`` and ``label`` (default: the target).
    """

    def __init__(
        self,
        pair: ServerPair,
        target: str,
        n: int,
        *,
        deflate: bool,
        section: str = "fanout",
        label: str = "",
    ) -> None:
        self.pair, self.target, self.n, self.deflate = pair, target, n, deflate
        self.section, self.label = section, label or target
        self.server = server_of(pair, target)
        self.document_id: str | None = None
        if target in ("collab", "yjs"):
            kind = "yjs" if target == "yjs" else "text"
            self.document_id = str(pair.document("writer", f"fanout {n}", "", kind=kind)["id"])
        self.pool: SubscriberPool | None = None

    def _ensure_pool(self) -> SubscriberPool:
        if self.pool is None:
            url = room_url(self.pair, self.target, self.document_id, "reader")
            self.pool = SubscriberPool(
                [url] * self.n, protocol=self.target, deflate=self.deflate,
                processes=1 if self.n <= 20 else 2,
            ).start()  # fmt: skip
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def run(
        self, *, cell: str, rate: float | None, window: int, duration: float, profile: Any = None
    ) -> Measurement:
        if self.pool is None:  # the server may still be sending another fan's backlog: let it finish first
            wait_idle([self.server.pid], timeout=60)
        pool = self._ensure_pool()
        if not wait_idle([self.server.pid], timeout=20):
            # a backlog from the previous run (the relay queues up to its capacity per
            # subscriber): dropping the subscribers drops it
            self.close()
            wait_idle([self.server.pid], timeout=60)
            pool = self._ensure_pool()
            wait_idle([self.server.pid], timeout=60)
        writer_url, speaker = speaker_of(self.pair, self.target, self.document_id)
        pool.begin()
        if profile is not None:
            profile(self.server.pid)
        w = asyncio.run(
            run_writer(
                writer_url, speaker=speaker, deflate=self.deflate, rate=rate,
                window=window, duration=duration, progress=pool.progress, subscribers=self.n,
                server_pid=self.server.pid, client_pids=[os.getpid(), *pool.pids()],
            )
        )  # fmt: skip
        r = pool.report()
        expected = w.sent * self.n
        elapsed = max(w.t_done - w.t0, 1e-9)
        values = {
            "p50": r.hist.percentile(50) * 1000,
            "p99": r.hist.percentile(99) * 1000,
            "max": r.hist.max * 1000,
            "rate": r.delivered / elapsed,
            "pct": 100.0 * r.delivered / expected if expected else math.nan,
            "cpu": 100.0 * w.cpu_share,
            "per_cpu": r.delivered / elapsed / w.cpu_share if w.cpu_share > 0 else math.nan,
            "client_cpu": 100.0 * w.client_cpu_share,
            "wait": 100.0 * w.wait_share,
            "sent_rate": w.sent / max(w.t_sent - w.t0, 1e-9),
            "ack_p50": w.ack_hist.percentile(50) * 1000,
            "batched": 100.0 * r.batched_frames / r.frames if r.frames else 0.0,
        }
        notes = []
        if r.order_errors:
            notes.append(f"{r.order_errors} out-of-order or gapped versions")
        if r.closes:
            notes.append("subscribers closed: " + ", ".join(f"{c}x{k}" for k, c in sorted(r.closes.items())))
        if w.errors:
            notes.append(f"writer got {w.errors} errors, first: {w.first_error}")
        if r.alive < self.n:
            notes.append(f"{self.n - r.alive} of {self.n} subscribers gone; reconnecting")
            self.close()
        return Measurement(self.section, cell, self.label, values, notes)


# -- commit throughput -----------------------------------------------------------
def commit_run(
    pair: ServerPair, target: str, *, window: int, duration: float, deflate: bool, profile: Any = None
) -> Measurement:
    server = server_of(pair, target)
    document_id = None
    if target == "collab":
        document_id = str(pair.document("writer", "commit", "")["id"])
    urls = [room_url(pair, target, document_id, name) for name in EDITORS]
    ready, out = CTX.Queue(), CTX.Queue()
    start_at = CTX.Value("d", 0.0, lock=False)
    turn = CTX.Value("i", 0, lock=False)
    procs = []
    for slot, part in enumerate(split(urls, 2)):
        job = EditorsJob(part, target == "collab", deflate, window, duration, slot)
        proc = CTX.Process(target=editors_process, args=(job, ready, turn, start_at, out), daemon=True)
        proc.start()
        procs.append(proc)
    _wait_messages(ready, "ready", len(procs), 120)
    wait_idle([server.pid], timeout=20)
    begin = time.monotonic() + 0.3
    start_at.value = begin
    time.sleep(max(0.0, begin - time.monotonic()))
    if profile is not None:
        profile(server.pid)
    cpu0, wait0 = cpu_seconds(server.pid), cpu_wait_seconds(server.pid)
    time.sleep(duration)
    cpu = (cpu_seconds(server.pid) - cpu0) / duration
    wait = (cpu_wait_seconds(server.pid) - wait0) / duration
    merged = EditorsResult()
    for _ in procs:
        _, r = out.get(timeout=120)
        merged.acked += r.acked
        merged.sent += r.sent
        merged.errors += r.errors
        merged.stalled += r.stalled
        merged.first_error = merged.first_error or r.first_error
        merged.hist.merge(r.hist)
    for proc in procs:
        proc.join(30)
    values = {
        "rate": merged.acked / duration,
        "p50": merged.hist.percentile(50) * 1000,
        "p99": merged.hist.percentile(99) * 1000,
        "cpu": 100.0 * cpu,
        "wait": 100.0 * wait,
    }
    notes = []
    if merged.errors:
        notes.append(f"{merged.errors} errors, first: {merged.first_error}")
    if merged.stalled:
        notes.append(f"{merged.stalled} of {len(EDITORS)} editors never got an ack")
    if document_id is not None:
        status, doc = pair.collab.request(
            "GET", f"/api/documents/{document_id}/", token=pair.users("writer")["writer"]
        )
        if status == 200 and doc["version"] < merged.acked:
            notes.append(f"document version {doc['version']} < {merged.acked} acked edits")
        values["version"] = float(doc["version"]) if status == 200 else math.nan
    return Measurement("commit", f"{len(EDITORS)} editors, one document", target, values, notes)


# -- idle connections ----------------------------------------------------------
_room_documents: dict[str, list[str]] = {}  # per database


def _snapshot(server: BenchServer, path: Path) -> Path:
    """Ask a ``--memprofile`` server for a tracemalloc snapshot (SIGUSR1) and wait for the file."""
    os.kill(server.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no tracemalloc snapshot at {path}")
        time.sleep(0.1)
    return path


def room_urls(pair: ServerPair, target: str, n: int, room_size: int, users: list[str]) -> list[str]:
    """N WebSocket URLs in rooms of ``room_size`` (collab: public documents), round-robin over users."""
    if target != "collab":
        return [room_url(pair, target, None, users[0])] * n
    rooms = math.ceil(n / room_size)
    docs = _room_documents.setdefault(pair.collab.database_url, [])
    if len(docs) < rooms:
        docs += pair.documents("writer", rooms - len(docs), "idle ")
    return [room_url(pair, target, docs[i // room_size], users[i % len(users)]) for i in range(n)]


def idle_run(
    pair: ServerPair, target: str, n: int, *, room_size: int, deflate: bool, memprofile: bool = False
) -> Measurement:
    server = server_of(pair, target)
    prefix = Path(server.env.get("COLLAB_BENCH_TRACEMALLOC", "/nonexistent"))
    for old in prefix.parent.glob(prefix.name + ".*"):
        old.unlink()
    server.restart()  # a fresh process: its memory growth is these connections' alone
    urls = room_urls(pair, target, n, room_size, ["reader"])
    # warm up (imports, caches, the first database connection), then measure from there
    warm = urls[:: max(1, n // 20)][:20]

    async def warm_up() -> None:
        conns = await open_many(warm, collab=target == "collab", deflate=deflate, concurrency=10)
        await close_all([ws for ws, _ in conns])

    asyncio.run(warm_up())
    wait_idle([server.pid], timeout=30)
    time.sleep(0.5)
    rss0 = rss_kib(server.pid)
    before = _snapshot(server, Path(f"{prefix}.0")) if memprofile else None
    ready, out = CTX.Queue(), CTX.Queue()
    go, stop = CTX.Event(), CTX.Event()
    procs = []
    for slot, part in enumerate(split(urls, 2)):
        # tracemalloc slows the server: fewer handshakes in flight, or daphne times them out (5 s)
        job = IdleJob(part, target == "collab", deflate, 5 if memprofile else 50, slot)
        proc = CTX.Process(target=idle_process, args=(job, ready, go, stop, out), daemon=True)
        proc.start()
        procs.append(proc)
    _wait_messages(ready, "spawned", len(procs), 120)
    go.set()
    results: list[IdleResult] = _wait_messages(ready, "connected", len(procs), 900)
    opened = sum(r.opened for r in results)
    failed = sum(r.failed for r in results)
    elapsed = max(r.t_end for r in results) - min(r.t_start for r in results)
    time.sleep(1.0)
    wait_idle([server.pid], timeout=30)
    rss1 = rss_kib(server.pid)
    detail = ""
    if before is not None:
        after = _snapshot(server, Path(f"{prefix}.1"))
        detail = compare(before, after, connections=opened)
    stop.set()
    for _ in procs:
        out.get(timeout=120)
    for proc in procs:
        proc.join(30)
    values = {
        "kib": (rss1 - rss0) / opened if opened else math.nan,
        "connects": opened / elapsed if elapsed > 0 else math.nan,
        "rss_mib": rss1 / 1024,
    }
    notes = []
    if failed:
        first = next(r.first_error for r in results if r.first_error)
        notes.append(f"{failed} connections failed, first: {first}")
    return Measurement("idle", f"{n} idle connections", target, values, notes, detail)


# -- reconnect storm -------------------------------------------------------------
STORM_USERS = ["reader", *EDITORS]


def storm_run(
    pair: ServerPair, target: str, n: int, *, room_size: int, in_flight: int, profile: Any = None
) -> Measurement:
    server = server_of(pair, target)
    urls = room_urls(pair, target, n, room_size, STORM_USERS)
    server.restart()  # a deploy: a new process with cold caches, every client back at once

    async def first() -> None:  # the load balancer's health check: the process is up
        conns = await open_many(urls[:1], collab=target == "collab", deflate=False, concurrency=1)
        await close_all([ws for ws, _ in conns])

    asyncio.run(first())
    pids = server.pids  # with --workers: the supervisor and every worker
    wait_idle(pids, timeout=60)
    ready, out = CTX.Queue(), CTX.Queue()
    go, stop = CTX.Event(), CTX.Event()
    procs = []
    for slot, part in enumerate(split(urls, 2)):
        job = StormJob(part, target == "collab", in_flight, 240.0, slot)
        proc = CTX.Process(target=storm_process, args=(job, ready, go, stop, out), daemon=True)
        proc.start()
        procs.append(proc)
    _wait_messages(ready, "spawned", len(procs), 120)
    cpu0 = tree_cpu_seconds(pids)
    if profile is not None:
        profile(server.pid)
    go.set()
    results: list[StormResult] = _wait_messages(ready, "connected", len(procs), 600)
    cpu = tree_cpu_seconds(pids) - cpu0
    stop.set()
    for _ in procs:
        out.get(timeout=120)
    for proc in procs:
        proc.join(30)
    hellos = sum(r.hellos for r in results)
    elapsed = max(r.t_last for r in results) - min(r.t_start for r in results)
    values = {
        "seconds": elapsed,
        "connects": hellos / elapsed if elapsed > 0 else math.nan,
        "retried": float(sum(r.failures for r in results)),
        "cpu_ms": 1000.0 * cpu / hellos if hellos else math.nan,
        "client_cpu_ms": 1000.0 * sum(r.cpu for r in results) / hellos if hellos else math.nan,
    }
    notes = []
    gave_up = sum(r.gave_up for r in results)
    if gave_up:
        notes.append(f"{gave_up} of {n} clients never got hello")
    failures = sum(r.failures for r in results)
    if failures:
        first = next(r.first_error for r in results if r.first_error)
        notes.append(f"{failures} attempts failed and were retried, first: {first}")
    workers = f", {server.workers} uvicorn workers" if server.workers > 1 else ""
    return Measurement("storm", f"reconnect storm, {n} clients{workers}", target, values, notes)
