"""The Redis monitor's upkeep while Redis is healthy (outages: tests/test_redis_restart.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from collab.realtime import recovery

pytestmark = pytest.mark.redis


async def test_a_healthy_monitor_subscribes_its_rooms_again_before_the_layer_forgets_them(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rejoins: list[int] = []

    class CountingHub:
        async def rejoin(self) -> None:
            rejoins.append(1)

    monkeypatch.setattr(recovery, "hub", lambda: CountingHub())
    monitor = recovery.Monitor(redis_url, f"test-{uuid.uuid4().hex}", interval=0.1, timeout=2)
    try:
        await monitor.check()  # healthy, and an hour has not passed: nothing to do
        assert rejoins == []
        monkeypatch.setattr(recovery, "REJOIN_EVERY", 0.0)
        await monitor.check()
        await monitor.check()
        assert monitor.healthy and len(rejoins) == 2
    finally:
        client: Any = monitor.client
        await client.delete(monitor.key)
        await client.aclose()
