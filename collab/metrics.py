"""Prometheus metrics of the realtime core, and the cheap recorders that feed them.

Every metric is a ``prometheus_client`` object defined here (docs/operations.md
lists them). With ``PROMETHEUS_MULTIPROC_DIR`` set in the environment of every
server process (before it starts), each process writes its values to files in
that directory and ``/metrics`` (``collab.metrics_endpoint``) sums them over
all the processes of the host; the gauges count live processes only.

Hot paths never touch a Prometheus object per subscriber. ``delivered()`` runs
once per batch per connection and only adds to plain integers (``Deliveries``);
``flush()`` moves them into the Prometheus objects once a second (the ticker of
``collab.metrics_endpoint``, started with the realtime runtime) and before every
scrape; the same ticker samples the gauges that mirror process state (rooms,
presence entries)::

    metrics.delivered(batch.items[-1].committed_at)   # in the outbox, after a write
    metrics.GAP_FILLS.inc()                           # once per read from the database
"""

from __future__ import annotations

import bisect
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger("collab.commits")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONNECTIONS = Gauge(
    "collab_connections_open",
    "Open WebSocket connections, by endpoint (text, presence, yjs, hocuspocus) and role at open.",
    ["endpoint", "role"],
    multiprocess_mode="livesum",
)
CLOSES = Counter(
    "collab_connections_closed",
    "Closed WebSocket connections by endpoint and close code "
    "(4408 too slow, 4429 rate-limit abuse, 4400 too many invalid messages).",
    ["endpoint", "code"],
)
ROOMS = Gauge(
    "collab_rooms_loaded",
    "Documents with connections (or presence watchers) in the process.",
    multiprocess_mode="livesum",
)
PRESENCE = Gauge(
    "collab_presence_entries",
    "Presence entries of the process's own connections.",
    multiprocess_mode="livesum",
)
EDITS = Counter("collab_edits_committed", "Text edits committed (live, REST and admin writes).")
EDITS_REJECTED = Counter("collab_edits_rejected", "Text edits refused, by error code.", ["code"])
COMMIT_SECONDS = Histogram(
    "collab_commit_seconds",
    "Time to commit one batch of text edits (one transaction, conflict retries included).",
    buckets=LATENCY_BUCKETS,
)
COMMIT_FAILURES = Counter("collab_commit_failures", "Commits that failed with a server-side error.")
DELIVERIES = Counter(
    "collab_deliveries",
    "Committed batches written to a connection (its ack, op or ops frames for one batch).",
)
DELIVERY_LAG = Histogram(
    "collab_delivery_lag_seconds",
    "From an op's commit to the write of its frame to a connection's socket.",
    buckets=LATENCY_BUCKETS,
)
GAP_FILLS = Counter(
    "collab_gap_fills",
    "Reads of missing ops from the database for a connection (a dropped layer message, "
    "another process's commit, a slow client catching up, a Redis outage).",
)
LAYER_SENT = Counter("collab_layer_messages_sent", "Channel-layer messages sent to other processes.")
LAYER_RECEIVED = Counter(
    "collab_layer_messages_received", "Channel-layer messages received from other processes."
)
WEBHOOK_DELIVERIES = Counter(
    "collab_webhook_deliveries",
    "Webhook delivery attempts by outcome (delivered, retry, failed).",
    ["outcome"],
)


class Deliveries:
    """Delivery counts and lags kept in plain integers until ``flush()``: a few hundred
    nanoseconds per write instead of a Prometheus update per subscriber."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = list(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.total = 0.0

    def add(self, lag: float) -> None:
        self.count += 1
        if lag >= 0:
            self.counts[bisect.bisect_left(self.bounds, lag)] += 1
            self.total += lag

    def flush(self, counter: Counter, histogram: Histogram) -> None:
        if self.count:
            counter.inc(self.count)
            self.count = 0
        counts, total = self.counts, self.total
        if not any(counts):
            return
        self.counts, self.total = [0] * len(counts), 0.0
        buckets = getattr(histogram, "_buckets", None)
        if buckets is None or len(buckets) != len(counts):  # another prometheus_client layout
            for bound, n in zip([*self.bounds, self.bounds[-1] * 2], counts, strict=True):
                for _ in range(n):
                    histogram.observe(bound)
            return
        # Histogram.observe adds 1 to one bucket and the amount to the sum; this adds n at once
        for value, n in zip(buckets, counts, strict=True):
            if n:
                value.inc(n)
        histogram._sum.inc(total)


_deliveries = Deliveries(LATENCY_BUCKETS)


def delivered(committed_at: float) -> None:
    """A batch committed at ``committed_at`` (epoch seconds; 0: unknown) was written to one connection."""
    _deliveries.add(time.time() - committed_at if committed_at else -1.0)


def flush() -> None:
    """Move what the recorders hold into the Prometheus objects."""
    _deliveries.flush(DELIVERIES, DELIVERY_LAG)


# -- the commit path ---------------------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])


def observed_commit(fn: F) -> F:
    """Wraps ``editing.commit_unpublished(document_id, requests)``: counts committed and refused
    edits, times the batch, and logs a failed commit as one structured line."""

    @functools.wraps(fn)
    def wrapper(document_id: Any, requests: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            outcomes = fn(document_id, requests, *args, **kwargs)
        except Exception as exc:
            COMMIT_FAILURES.inc()
            users = sorted({getattr(getattr(r, "user", None), "pk", None) or 0 for r in requests})
            log.error(
                "commit failed document=%s edits=%d users=%s error=%s",
                document_id,
                len(requests),
                ",".join(str(u) for u in users),
                type(exc).__name__,
                extra={
                    "event": "commit.failed",
                    "document": str(document_id),
                    "edits": len(requests),
                    "user_ids": [u or None for u in users],
                    "error": f"{type(exc).__name__}: {exc}"[:300],
                },
            )
            raise
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        fresh = 0
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                EDITS_REJECTED.labels(str(getattr(outcome, "code", "error"))).inc()
            elif not getattr(outcome, "duplicate", False):
                fresh += 1
        if fresh:
            EDITS.inc(fresh)
        return outcomes

    return wrapper  # type: ignore[return-value]
