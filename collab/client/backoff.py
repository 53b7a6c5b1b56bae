"""Reconnect delays: exponential backoff with jitter, as pure functions of the attempt.

The n-th consecutive reconnect (n = 0, 1, 2...) waits ``initial * factor**n``
seconds, capped at ``maximum``, minus a random share of up to ``jitter`` of it
so that many clients cut off at once do not come back at once. The caller
draws the random number (``rand`` in [0, 1)), so the curve is testable::

    >>> b = Backoff(initial=0.5, factor=2.0, maximum=4.0, jitter=0.5)
    >>> [b.delay(n, rand=0.0) for n in range(6)]
    [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    >>> b.delay(1, rand=0.5)         # 1.0 minus half of the 50% jitter
    0.75

After a connection has stayed healthy for ``reset_after`` seconds, the next
drop counts as the first again::

    >>> b.next_attempt(5, healthy_for=30.0), b.next_attempt(5, healthy_for=1.0)
    (0, 5)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff settings; every delay is in seconds."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.5  # share of the delay that may be randomly taken off: 0 none, 1 "full jitter"
    reset_after: float = 10.0  # a connection healthy this long resets the attempt count

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("need 0 < initial <= maximum")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def base(self, attempt: int) -> float:
        """The delay before reconnect number ``attempt`` (from 0), without jitter."""
        try:
            delay = self.initial * self.factor ** max(attempt, 0)
        except OverflowError:
            return self.maximum
        return min(delay, self.maximum)

    def delay(self, attempt: int, rand: float) -> float:
        """The delay to wait, with ``rand`` drawn uniformly from [0, 1)."""
        return self.base(attempt) * (1.0 - self.jitter * min(max(rand, 0.0), 1.0))

    def next_attempt(self, attempt: int, healthy_for: float | None) -> int:
        """The attempt number to use after a drop, given how long the connection was healthy."""
        if healthy_for is not None and healthy_for >= self.reset_after:
            return 0
        return attempt
