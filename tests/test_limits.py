"""Per-connection limits: the rate's token bucket with abuse strikes, invalid-message strikes."""

from __future__ import annotations

from collab.realtime.limits import Limits, Strikes, TokenBucket, Verdict


def limits(*, rate: float = 0.001, burst: float = 3, abuse: int = 3, invalid: int = 2) -> Limits:
    return Limits(
        max_bytes=100,
        bucket=TokenBucket(rate, burst),
        rate_strikes=Strikes(abuse, 60),
        invalid=Strikes(invalid, 60),
    )


def test_a_burst_passes_then_drops_then_abuse() -> None:
    lim = limits()
    assert [lim.admit() for _ in range(3)] == [Verdict.OK] * 3
    assert [lim.admit() for _ in range(3)] == [Verdict.DROP, Verdict.DROP, Verdict.ABUSE]


def test_tokens_come_back_at_the_rate() -> None:
    bucket = TokenBucket(rate=1000, burst=1)
    assert bucket.take()
    bucket.at -= 0.01  # 10 ms later: 10 tokens' worth, capped at the burst
    assert bucket.take() and not bucket.take()


def test_strikes_outside_the_window_are_forgotten() -> None:
    strikes = Strikes(limit=2, window=10)
    assert not strikes.hit()
    assert strikes.times is not None
    strikes.times[0] -= 11
    assert not strikes.hit()
    assert strikes.hit()


def test_invalid_messages_close_at_the_limit() -> None:
    lim = limits(invalid=2)
    assert lim.invalid() is False
    assert lim.invalid() is True


def test_from_settings(settings: object) -> None:
    lim = Limits.from_settings()
    assert lim.max_bytes == 262144 and lim.bucket.burst == 2000
