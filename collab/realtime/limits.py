"""Per-connection message limits: a token bucket for the rate, strike windows for abuse.

``Limits.admit()`` says what to do with an incoming message; ``Limits.invalid()``
counts a message that could not be parsed. Both close only on sustained abuse
(PROTOCOL.md section 5: 4429 and 4400)::

    limits = Limits.from_settings()
    match limits.admit():
        case Verdict.OK: ...          # handle it
        case Verdict.DROP: ...        # answer rate_limited, drop it
        case Verdict.ABUSE: ...       # answer rate_limited, close 4429
"""

from __future__ import annotations

import time
from collections import deque
from enum import Enum

from collab.conf import collab_settings


class TokenBucket:
    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Strikes:
    """Counts events in a sliding window: ``hit()`` says when the limit is reached."""

    __slots__ = ("limit", "times", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.times: deque[float] | None = None  # made on first use: most connections never need it

    def hit(self) -> bool:
        now = time.monotonic()
        if self.times is None:
            self.times = deque()
        self.times.append(now)
        while self.times and self.times[0] < now - self.window:
            self.times.popleft()
        return len(self.times) >= self.limit


class Verdict(Enum):
    OK = "ok"
    DROP = "drop"  # over the rate: answer rate_limited, drop the message
    ABUSE = "abuse"  # over the rate for too long: also close with 4429


class Limits:
    """The limits of one connection."""

    __slots__ = ("bucket", "invalid_strikes", "max_bytes", "rate_strikes")

    def __init__(
        self, *, max_bytes: int, bucket: TokenBucket, rate_strikes: Strikes, invalid: Strikes
    ) -> None:
        self.max_bytes = max_bytes
        self.bucket = bucket
        self.rate_strikes = rate_strikes
        self.invalid_strikes = invalid

    @classmethod
    def from_settings(cls) -> Limits:
        cfg = collab_settings
        return cls(
            max_bytes=int(cfg["MAX_MESSAGE_BYTES"]),
            bucket=TokenBucket(float(cfg["RATE_PER_SECOND"]), float(cfg["RATE_BURST"])),
            rate_strikes=Strikes(int(cfg["RATE_ABUSE_LIMIT"]), float(cfg["RATE_ABUSE_WINDOW"])),
            invalid=Strikes(int(cfg["INVALID_LIMIT"]), float(cfg["INVALID_WINDOW"])),
        )

    def admit(self) -> Verdict:
        if self.bucket.take():
            return Verdict.OK
        return Verdict.ABUSE if self.rate_strikes.hit() else Verdict.DROP

    def invalid(self) -> bool:
        """Count an invalid message; True when there were too many (close with 4400)."""
        return self.invalid_strikes.hit()
