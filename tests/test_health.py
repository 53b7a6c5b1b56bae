"""``/healthz`` and ``/readyz``: the probes a load balancer asks before sending clients to a process."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.support.live import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_answers_while_the_process_serves(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_200_when_the_database_answers(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "failing": [], "checks": {"database": "ok"}}


def test_readyz_is_503_naming_redis_when_it_does_not_answer(client: Client, settings: Any) -> None:
    settings.COLLAB = {
        **settings.COLLAB,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }  # nothing listens
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failing"] == ["redis"]
    assert body["checks"]["database"] == "ok" and "onnect" in body["checks"]["redis"]


def test_readyz_is_200_with_a_redis_that_answers(client: Client, settings: Any, redis_url: str) -> None:
    settings.COLLAB = {**settings.COLLAB, "REDIS_URL": redis_url}
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_naming_the_database_when_it_fails(client: Client, monkeypatch: Any) -> None:
    from collab import health

    async def broken() -> None:
        raise RuntimeError("database is down")

    monkeypatch.setattr(health, "_database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["checks"]["database"] == "RuntimeError: database is down"


def test_readyz_fails_while_a_redis_of_our_own_is_stopped_and_recovers(
    client: Client, settings: Any, tmp_path: Any
) -> None:
    from tests.support.redis_server import RedisServer

    redis = RedisServer(tmp_path).start()  # never the shared one
    try:
        settings.COLLAB = {**settings.COLLAB, "REDIS_URL": redis.url}
        assert client.get("/readyz").status_code == 200
        redis.stop()
        down = client.get("/readyz")
        assert down.status_code == 503 and down.json()["failing"] == ["redis"]
        redis.start()
        assert client.get("/readyz").status_code == 200
    finally:
        redis.stop()


def test_readyz_names_a_redis_that_accepts_but_never_answers(client: Client, settings: Any) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (the kernel does), answers nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        settings.COLLAB = {
            **settings.COLLAB,
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "READY_TIMEOUT": 0.5,
        }
        response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["failing"] == ["redis"]
    assert "0.5" in response.json()["checks"]["redis"] or "imeout" in response.json()["checks"]["redis"]
