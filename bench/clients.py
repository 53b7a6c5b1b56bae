"""The load: WebSocket clients (the ``websockets`` library on asyncio), in worker processes.

- ``subscriber_process``: many connections that only listen; each op received
  (an ``op`` frame, each op inside an ``ops`` frame, or the relay's forwarded
  frame; for a yjs document each stamp in a y-websocket update frame) counts
  as one delivery, its latency measured from the send time that the writer
  stamped into the inserted text.
- ``run_writer``: one connection sending edits, paced or as fast as a window
  of unacknowledged edits allows (collab's ``ack``; the relay's echo of the
  writer's own frame; Hocuspocus's ``SyncStatus``), in the words of a
  ``bench.speakers`` speaker.
- ``editors_process``: editors sending edits pipelined, measuring ack latency.
- ``idle_process``: many connections that connect and then do nothing.
- ``storm_process``: many connections that all connect at once, as clients do
  after a deploy, each retrying with a short jittered backoff until it has
  ``hello``.

Send and receive times come from ``time.monotonic()``: ``CLOCK_MONOTONIC`` is
one clock for every process of the machine, so a latency is a subtraction.
A stamp is ``~<microseconds, hex>;``, inserted at position 0; the relay
forwards the writer's frame as is, collab forwards the committed op.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import random
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.procstat import cpu_seconds, cpu_wait_seconds
from bench.speakers import RelaySpeaker, TextSpeaker, YjsSpeaker, edit_frame, yjs_stamps
from bench.stats import Histogram

Speaker = TextSpeaker | RelaySpeaker | YjsSpeaker

monotonic = time.monotonic
loads = json.loads


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_child(main: Any, slot: int, ready: Any) -> None:
    """A client process's body: raise the fd limit, run ``main``, report a crash to the parent."""
    raise_fd_limit()
    try:
        asyncio.run(main)
    except BaseException as exc:
        ready.put(("error", slot, repr(exc)))
        raise


def stamp_time(op: list[Any]) -> float | None:
    for component in op:
        if type(component) is str and component[:1] == "~":
            return int(component[1:-1], 16) / 1_000_000
    return None


async def open_ws(
    url: str, *, deflate: bool, max_queue: int = 4096, open_timeout: float = 120
) -> ClientConnection:
    return await connect(
        url,
        compression="deflate" if deflate else None,
        max_queue=max_queue,
        max_size=2**24,
        open_timeout=open_timeout,
        close_timeout=5,
        ping_interval=None,
    )


async def open_session(
    url: str, *, collab: bool, deflate: bool, max_queue: int = 4096, open_timeout: float = 120
) -> tuple[ClientConnection, int]:
    """Connect; for collab, wait for ``hello`` and return its document version (else 0)."""
    ws = await open_ws(url, deflate=deflate, max_queue=max_queue, open_timeout=open_timeout)
    if not collab:
        return ws, 0
    while True:
        message = loads(await ws.recv())
        if message.get("type") == "hello":
            return ws, int(message["payload"]["document"]["version"])
        if message.get("type") == "error":
            raise RuntimeError(f"refused: {message['payload']}")


async def close_all(conns: list[ClientConnection], timeout: float = 15) -> None:
    async def one(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            await ws.close()

    try:
        await asyncio.wait_for(asyncio.gather(*(one(ws) for ws in conns)), timeout)
    except TimeoutError:
        for ws in conns:
            ws.transport.abort()


async def open_many(
    urls: list[str], *, collab: bool, deflate: bool, concurrency: int, max_queue: int = 4096
) -> list[tuple[ClientConnection, int]]:
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> tuple[ClientConnection, int]:
        async with gate:
            return await open_session(url, collab=collab, deflate=deflate, max_queue=max_queue)

    return list(await asyncio.gather(*(one(u) for u in urls)))


# -- subscribers -------------------------------------------------------------
@dataclass
class SubscriberJob:
    urls: list[str]
    protocol: str  # "collab" (text documents), "relay" or "yjs" (y-websocket)
    deflate: bool
    slot: int


@dataclass
class SubscriberResult:
    delivered: int = 0
    frames: int = 0
    batched_frames: int = 0  # ``ops`` frames, frames with more than one delivery
    order_errors: int = 0  # a collab version that is not the previous one + 1
    stale: int = 0  # stamped before the current run began (a previous run's backlog)
    first_recv: float = 0.0
    last_recv: float = 0.0
    alive: int = 0  # connections still open at the time of the report
    closes: Counter[int] = field(default_factory=Counter)
    hist: Histogram = field(default_factory=Histogram)


NEVER = 1e18  # ``since`` while between runs: count nothing


def text_stamps(raw: str | bytes, last: int, collab: bool) -> tuple[list[float], int, bool, int]:
    """A text-protocol frame's send times: (times, last version seen, an ``ops`` frame?, gaps)."""
    message = loads(raw)
    kind = message.get("type")
    if kind == "op" or kind == "edit":
        items = (message["payload"],)
    elif kind == "ops":
        items = message["payload"]["ops"]
    else:
        return [], last, False, 0
    times, gaps = [], 0
    for payload in items:
        if collab:
            version = payload["version"]
            if version != last + 1:
                gaps += 1
            last = max(last, version)
        sent = stamp_time(payload["op"])
        if sent is not None:
            times.append(sent)
    return times, last, kind == "ops", gaps


def subscriber_process(
    job: SubscriberJob, counts: Any, since: Any, ready: Any, commands: Any, out: Any
) -> None:
    """Connect ``job.urls`` and count deliveries stamped at or after ``since.value``.

    ``counts[job.slot]`` follows the delivery count; the command ``"report"``
    puts the result on ``out`` and starts a new one; ``"stop"`` closes all.
    """
    run_child(_subscribe(job, counts, since, ready, commands, out), job.slot, ready)


async def _subscribe(
    job: SubscriberJob, counts: Any, since: Any, ready: Any, commands: Any, out: Any
) -> None:
    collab, yjs = job.protocol == "collab", job.protocol == "yjs"
    conns = await open_many(job.urls, collab=collab, deflate=job.deflate, concurrency=50)
    box = [SubscriberResult()]
    closes: Counter[int] = Counter()

    async def reader(ws: ClientConnection, last: int) -> None:
        try:
            async for raw in ws:
                now = monotonic()
                if yjs:
                    times, batched, gaps = yjs_stamps(raw) if type(raw) is bytes else [], False, 0
                else:
                    times, last, batched, gaps = text_stamps(raw, last, collab)
                if not times:
                    continue
                r = box[0]
                r.order_errors += gaps
                start = since.value
                counted = 0
                for sent in times:
                    if sent < start:
                        r.stale += 1
                        continue
                    r.hist.add(now - sent)
                    counted += 1
                if counted:
                    r.delivered += counted
                    r.frames += 1
                    if batched or counted > 1:
                        r.batched_frames += 1
                    if not r.first_recv:
                        r.first_recv = now
                    r.last_recv = now
        except ConnectionClosed as exc:
            closes[exc.rcvd.code if exc.rcvd else 1006] += 1

    tasks = [asyncio.create_task(reader(ws, version)) for ws, version in conns]
    ready.put(("ready", job.slot, len(conns)))
    while True:
        counts[job.slot] = box[0].delivered
        try:
            command = commands.get_nowait()
        except queue.Empty:
            await asyncio.sleep(0.05)
            continue
        if command == "report":
            result, box[0] = box[0], SubscriberResult()
            result.alive = sum(1 for t in tasks if not t.done())
            result.closes = Counter(closes)
            counts[job.slot] = 0
            out.put((job.slot, result))
        elif command == "stop":
            break
    for task in tasks:
        task.cancel()
    await close_all([ws for ws, _ in conns])
    out.put((job.slot, None))


# -- the writer --------------------------------------------------------------
@dataclass
class WriterResult:
    sent: int = 0
    acked: int = 0
    errors: int = 0
    t0: float = 0.0  # first send
    t_sent: float = 0.0  # last send
    t_done: float = 0.0  # the last time deliveries progressed
    delivered: int = 0
    cpu_share: float = 0.0  # server CPU between t0 and t_done, share of one core
    client_cpu_share: float = 0.0  # the same for the client processes (writer and subscribers)
    wait_share: float = 0.0  # time the server's threads waited for a CPU, share of the same window
    ack_hist: Histogram = field(default_factory=Histogram)
    first_error: str = ""


async def run_writer(
    url: str,
    *,
    speaker: Speaker,
    deflate: bool,
    rate: float | None,
    window: int,
    duration: float,
    progress: Callable[[], int],
    subscribers: int,
    server_pid: int,
    client_pids: list[int],
    quiet: float = 1.0,
    grace: float = 6.0,
) -> WriterResult:
    """Send edits for ``duration`` seconds, then wait until the subscribers stop receiving.

    ``rate`` paces the sends (edits per second, whatever the acks); ``None``
    sends as fast as a window of ``window`` unacknowledged edits allows.
    ``progress()`` reads the subscribers' delivery count.
    """
    ws, version = await open_session(url, collab=speaker.collab, deflate=deflate)
    speaker.opened(version)
    await speaker.handshake(ws)
    res = WriterResult()
    inflight: dict[int, float] = {}
    gate = asyncio.Semaphore(window)
    fast = rate is None

    def settle(seq: int, now: float) -> None:
        sent = inflight.pop(seq, None)
        if sent is not None:
            res.ack_hist.add(now - sent)
            res.acked += 1
            if fast:
                gate.release()

    async def reader() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now = monotonic()
                for seq in speaker.settled(raw):
                    settle(seq, now)

    async def sweeper() -> None:
        # the relay may drop the writer's own echo: give such a slot back after 2 s
        while True:
            await asyncio.sleep(0.25)
            old = monotonic() - 2.0
            for seq in [s for s, t in inflight.items() if t < old]:
                inflight.pop(seq, None)
                if fast:
                    gate.release()

    reading = asyncio.create_task(reader())
    # only the relay drops frames; collab and Hocuspocus answer every edit
    sweeping = asyncio.create_task(sweeper()) if isinstance(speaker, RelaySpeaker) else None
    seq = 0

    def clients_cpu() -> float:
        return sum(cpu_seconds(pid) for pid in client_pids)

    cpu0, client0, wait0 = cpu_seconds(server_pid), clients_cpu(), cpu_wait_seconds(server_pid)
    res.t0 = monotonic()
    end = res.t0 + duration
    while True:
        if fast:
            try:  # never wait past the end for a slot
                await asyncio.wait_for(gate.acquire(), max(0.001, end - monotonic()))
            except TimeoutError:
                break
        else:
            assert rate is not None
            wait = res.t0 + seq / rate - monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        now = monotonic()
        if now >= end:
            break
        seq += 1
        inflight[seq] = now
        await ws.send(speaker.edit(seq, now))
    res.sent = seq
    res.t_sent = monotonic()

    # wait until every subscriber has everything, or deliveries stop for ``quiet`` seconds
    target = res.sent * subscribers
    last_count, last_change = -1, res.t_sent
    last_cpu, last_client, last_wait = cpu_seconds(server_pid), clients_cpu(), cpu_wait_seconds(server_pid)
    deadline = res.t_sent + grace
    while True:
        count, now = progress(), monotonic()
        cpu, client, wait = cpu_seconds(server_pid), clients_cpu(), cpu_wait_seconds(server_pid)
        if count != last_count:
            last_count, last_change, last_cpu, last_client, last_wait = count, now, cpu, client, wait
        if count >= target or now - last_change > quiet or now > deadline:
            break
        await asyncio.sleep(0.05)
    res.delivered = last_count
    res.t_done = max(last_change, res.t_sent)
    res.cpu_share = (last_cpu - cpu0) / (res.t_done - res.t0)
    res.client_cpu_share = (last_client - client0) / (res.t_done - res.t0)
    res.wait_share = (last_wait - wait0) / (res.t_done - res.t0)
    if sweeping is not None:
        sweeping.cancel()
    reading.cancel()
    res.errors, res.first_error = speaker.errors, speaker.first_error
    await close_all([ws])
    return res


# -- editors (commit throughput) ----------------------------------------------
@dataclass
class EditorsJob:
    urls: list[str]
    collab: bool
    deflate: bool
    window: int
    duration: float
    slot: int


@dataclass
class EditorsResult:
    acked: int = 0  # acked within the measured duration
    sent: int = 0
    errors: int = 0
    stalled: int = 0  # editors that sent but never got one ack
    first_error: str = ""
    hist: Histogram = field(default_factory=Histogram)


def editors_process(job: EditorsJob, ready: Any, turn: Any, start_at: Any, out: Any) -> None:
    run_child(_edit(job, ready, turn, start_at, out), job.slot, ready)


async def _edit(job: EditorsJob, ready: Any, turn: Any, start_at: Any, out: Any) -> None:
    # One at a time, process after process: before 369d827 a collab connection told about
    # another's join before its own handshake had completed ignored all it received later.
    while turn.value != job.slot:
        await asyncio.sleep(0.01)
    conns = await open_many(job.urls, collab=job.collab, deflate=job.deflate, concurrency=1)
    turn.value = job.slot + 1
    ready.put(("ready", job.slot, len(conns)))
    while start_at.value == 0:
        await asyncio.sleep(0.01)
    await asyncio.sleep(max(0.0, start_at.value - monotonic()))
    end = start_at.value + job.duration
    res = EditorsResult()

    async def editor(ws: ClientConnection, known: int, client_id: str) -> None:
        inflight: dict[int, float] = {}
        gate = asyncio.Semaphore(job.window)

        acked_any = False

        def settle(seq: int, now: float) -> None:
            nonlocal acked_any
            sent = inflight.pop(seq, None)
            if sent is not None:
                gate.release()
                acked_any = True
                if now <= end:
                    res.acked += 1
                    res.hist.add(now - sent)

        async def reader() -> None:
            nonlocal known
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    now = monotonic()
                    message = loads(raw)
                    kind, payload = message.get("type"), message.get("payload") or {}
                    if not job.collab:
                        if kind == "edit" and payload.get("client_id") == client_id:
                            settle(payload["seq"], now)
                    elif kind == "ack":
                        known = max(known, payload["version"])
                        settle(payload["seq"], now)
                    elif kind == "op":
                        known = max(known, payload["version"])
                    elif kind == "ops" and payload["ops"]:
                        known = max(known, max(p["version"] for p in payload["ops"]))
                    elif kind == "error":
                        res.errors += 1
                        res.first_error = res.first_error or json.dumps(payload)
                        ref = payload.get("ref")
                        if isinstance(ref, dict) and "seq" in ref:
                            settle(ref["seq"], now)

        reading = asyncio.create_task(reader())
        seq = 0
        while True:
            try:  # never wait past the end for a slot (a server that stopped acking)
                await asyncio.wait_for(gate.acquire(), max(0.001, end - monotonic()))
            except TimeoutError:
                break
            now = monotonic()
            if now >= end:
                break
            seq += 1
            inflight[seq] = now
            await ws.send(edit_frame(known, ["e"], client_id, seq))
        res.sent += seq
        if seq and not acked_any:
            res.stalled += 1
        # let the last acks arrive (not counted) before closing
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                while inflight:
                    await asyncio.sleep(0.02)
        reading.cancel()

    await asyncio.gather(
        *(
            editor(ws, version, f"editor-{job.slot}-{i}-{int(monotonic() * 1000)}")
            for i, (ws, version) in enumerate(conns)
        )
    )
    await close_all([ws for ws, _ in conns])
    out.put((job.slot, res))


# -- idle connections ----------------------------------------------------------
@dataclass
class IdleJob:
    urls: list[str]
    collab: bool
    deflate: bool
    concurrency: int
    slot: int


@dataclass
class IdleResult:
    opened: int = 0
    failed: int = 0
    first_error: str = ""
    t_start: float = 0.0
    t_end: float = 0.0


def idle_process(job: IdleJob, ready: Any, go: Any, stop: Any, out: Any) -> None:
    run_child(_idle(job, ready, go, stop, out), job.slot, ready)


async def _spawned_then_go(slot: int, ready: Any, go: Any) -> None:
    ready.put(("spawned", slot, 0))
    while not go.is_set():
        await asyncio.sleep(0.005)


async def _connected_until_stop(
    slot: int, res: Any, conns: list[ClientConnection], ready: Any, stop: Any, out: Any
) -> None:
    ready.put(("connected", slot, res))
    while not stop.is_set():
        await asyncio.sleep(0.1)
    await close_all(conns, timeout=30)
    out.put((slot, res))


async def _idle(job: IdleJob, ready: Any, go: Any, stop: Any, out: Any) -> None:
    await _spawned_then_go(job.slot, ready, go)
    res = IdleResult(t_start=monotonic())
    gate = asyncio.Semaphore(job.concurrency)
    conns: list[ClientConnection] = []

    async def one(url: str) -> None:
        async with gate:
            try:
                ws, _ = await open_session(url, collab=job.collab, deflate=job.deflate, max_queue=64)
                conns.append(ws)
                res.opened += 1
            except Exception as exc:
                res.failed += 1
                res.first_error = res.first_error or repr(exc)

    await asyncio.gather(*(one(u) for u in job.urls))
    res.t_end = monotonic()
    await _connected_until_stop(job.slot, res, conns, ready, stop, out)


# -- reconnect storm -------------------------------------------------------------
@dataclass
class StormJob:
    urls: list[str]
    collab: bool
    in_flight: int  # handshakes under way at once, at most (a client process's own limit)
    deadline: float  # seconds; a client still without hello then gives up
    slot: int


@dataclass
class StormResult:
    hellos: int = 0
    attempts: int = 0
    failures: int = 0  # attempts that failed (and were retried)
    gave_up: int = 0
    first_error: str = ""
    t_start: float = 0.0
    t_last: float = 0.0  # when the last client got its hello
    cpu: float = 0.0  # this client process's CPU seconds during the storm


def storm_process(job: StormJob, ready: Any, go: Any, stop: Any, out: Any) -> None:
    run_child(_storm(job, ready, go, stop, out), job.slot, ready)


async def _storm(job: StormJob, ready: Any, go: Any, stop: Any, out: Any) -> None:
    await _spawned_then_go(job.slot, ready, go)
    res = StormResult(t_start=monotonic())
    cpu0 = time.process_time()
    gate = asyncio.Semaphore(job.in_flight)
    conns: list[ClientConnection] = []
    rng = random.Random(job.slot)

    async def one(url: str) -> None:
        delay = 0.1
        while monotonic() - res.t_start < job.deadline:
            async with gate:
                res.attempts += 1
                try:
                    ws, _ = await open_session(
                        url, collab=job.collab, deflate=False, max_queue=64, open_timeout=30
                    )
                except Exception as exc:
                    res.failures += 1
                    res.first_error = res.first_error or repr(exc)
                else:
                    conns.append(ws)
                    res.hellos += 1
                    res.t_last = monotonic()
                    return
            await asyncio.sleep(delay * (0.5 + rng.random() / 2))
            delay = min(delay * 2, 2.0)
        res.gave_up += 1

    await asyncio.gather(*(one(u) for u in job.urls))
    res.cpu = time.process_time() - cpu0
    await _connected_until_stop(job.slot, res, conns, ready, stop, out)
