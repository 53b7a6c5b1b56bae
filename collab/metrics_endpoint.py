"""``GET /metrics``: the Prometheus text format, for allowed scrapers only.

Access (``COLLAB["METRICS_ALLOW"]``, ``COLLAB["METRICS_TOKEN"]``): a request is
served when its peer address is in the allow-list (addresses or networks,
``COLLAB_METRICS_ALLOW=127.0.0.1,10.0.0.0/8``), or when it carries
``Authorization: Bearer <COLLAB_METRICS_TOKEN>``, or when a signed-in staff
user asks. Anyone else gets 403: nothing is public by default.

With ``PROMETHEUS_MULTIPROC_DIR`` the answer sums the files of every process
of the host (``prometheus_client.multiprocess``); the gauge files of processes
that are no longer running (a ``kill -9``) are removed first, so a dead
process's connections stop counting.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import re
from functools import cache

from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from collab import metrics
from collab.access import parse_document_id
from collab.conf import collab_settings
from collab.realtime.hub import hub
from collab.realtime.presence_store import registry

log = logging.getLogger(__name__)
REFRESH_INTERVAL = 1.0  # seconds between two refreshes of a process's metrics

_GAUGE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")


@cache
def _networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec.split(",") if item.strip())


def allowed_scraper(request: HttpRequest) -> bool:
    """Does the request carry the bearer token, or come from an allowed address?"""
    cfg = collab_settings
    token = str(cfg.get("METRICS_TOKEN") or "")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    spec = cfg.get("METRICS_ALLOW") or ""
    spec = spec if isinstance(spec, str) else ",".join(spec)
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        address = None
    return address is not None and any(address in network for network in _networks(spec))


async def allowed(request: HttpRequest) -> bool:
    """May this request read the metrics? An allowed scraper, or a signed-in staff user."""
    if allowed_scraper(request):
        return True
    auser = getattr(request, "auser", None)
    user = await auser() if auser is not None else None
    return bool(getattr(user, "is_staff", False) and getattr(user, "is_active", False))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_processes(path: str) -> None:
    """Remove the live-gauge files of processes that are gone (killed without cleaning up)."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        match = _GAUGE_FILE.match(name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), path)


def refresh() -> None:
    """Flush the recorders and sample the gauges that mirror this process's state."""
    metrics.flush()
    try:
        metrics.ROOMS.set(sum(1 for room in hub().rooms() if parse_document_id(room) is not None))
        own = getattr(registry(), "_own", None)  # the entries this process joined (PresenceRegistry)
        if own is not None:
            metrics.PRESENCE.set(sum(len(entries) for entries in list(own.values())))
    except Exception:
        log.debug("sampling the process state failed", exc_info=True)


async def refresh_forever() -> None:
    """This process's ticker (started with the realtime runtime, once per event loop)."""
    while True:
        await asyncio.sleep(REFRESH_INTERVAL)
        refresh()


def exposition() -> bytes:
    """Every metric in the text format: this process's, or the host's with PROMETHEUS_MULTIPROC_DIR."""
    refresh()
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return generate_latest(REGISTRY)
    forget_dead_processes(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


async def metrics_view(request: HttpRequest) -> HttpResponse:
    # async: it runs on the event loop, where the recorders it flushes live
    if not await allowed(request):
        return JsonResponse(
            {
                "detail": "The metrics are not public: scrape with the bearer token "
                "(COLLAB_METRICS_TOKEN) or from an allowed address (COLLAB_METRICS_ALLOW).",
                "code": "forbidden",
            },
            status=403,
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
