"""Latency histograms that merge across processes, and their percentiles.

    h = Histogram()
    h.add(0.0042)                 # seconds
    h.merge(other)                # from another process (it pickles)
    h.percentile(99) * 1000       # milliseconds

Buckets are 10 µs wide below 100 ms and 1 ms wide above, so a percentile is
exact to that resolution; the maximum is kept exactly.
"""

from __future__ import annotations

import math
from collections import Counter

FINE = 1e-5  # 10 µs buckets ...
FINE_LIMIT = 0.1  # ... below 100 ms
COARSE = 1e-3  # then 1 ms buckets
_FINE_BUCKETS = round(FINE_LIMIT / FINE)


class Histogram:
    __slots__ = ("buckets", "count", "max")

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        if seconds < 0:
            seconds = 0.0
        if seconds < FINE_LIMIT:
            key = int(seconds / FINE)
        else:
            key = _FINE_BUCKETS + int((seconds - FINE_LIMIT) / COARSE)
        self.buckets[key] += 1
        self.count += 1
        if seconds > self.max:
            self.max = seconds

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count
        self.max = max(self.max, other.max)

    @staticmethod
    def _upper(key: int) -> float:
        if key < _FINE_BUCKETS:
            return (key + 1) * FINE
        return FINE_LIMIT + (key - _FINE_BUCKETS + 1) * COARSE

    def percentile(self, p: float) -> float:
        """The upper edge of the bucket holding the p-th percentile, in seconds (nan if empty)."""
        if self.count == 0:
            return math.nan
        rank = max(1, math.ceil(self.count * p / 100))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                return min(self._upper(key), self.max)
        return self.max


def median(values: list[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
