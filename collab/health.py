"""Probes for load balancers and orchestrators: ``/healthz`` (the process serves) and ``/readyz``.

``/readyz`` answers 200 when the database and, with ``REDIS_URL``, Redis each
answer within ``COLLAB["READY_TIMEOUT"]`` seconds, else 503 with the failing
parts named, so a load balancer stops sending new clients to a process that
cannot serve them::

    GET /readyz  ->  503 {"status": "unavailable", "failing": ["redis"],
                          "checks": {"database": "ok", "redis": "ConnectionError: ..."}}
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.db import connection
from django.http import HttpRequest, JsonResponse

from collab.conf import collab_settings, redis_url


async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@database_sync_to_async
def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _redis() -> None:
    import redis.asyncio

    timeout = float(collab_settings["READY_TIMEOUT"])
    client = redis.asyncio.Redis.from_url(redis_url(), socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _outcome(check: Callable[[], Awaitable[None]], timeout: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    return "ok"


async def readyz(request: HttpRequest) -> JsonResponse:
    timeout = float(collab_settings["READY_TIMEOUT"])
    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": _database}
    if redis_url():
        checks["redis"] = _redis
    outcomes = await asyncio.gather(*(_outcome(check, timeout) for check in checks.values()))
    report = dict(zip(checks, outcomes, strict=True))
    failing = [name for name, outcome in report.items() if outcome != "ok"]
    return JsonResponse(
        {"status": "unavailable" if failing else "ready", "failing": failing, "checks": report},
        status=503 if failing else 200,
    )
