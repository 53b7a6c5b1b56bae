"""Webhooks end to end: the worker inside a server process, and a worker process killed mid-delivery.

- daphne and uvicorn: a subscription made over REST, then a document created
  and edited over REST and a WebSocket; the server's own worker thread delivers
  document.created and a debounced document.changed, signed; /metrics counts them.
- ``manage.py collab_webhooks`` as its own process: the receiver holds the first
  request, the worker is killed with SIGKILL while waiting for the answer, a new
  worker sends the same delivery again (same webhook-id) once the lease ran out,
  and it ends delivered.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from collab.webhooks import signing
from tests.support.live import ROOT, LiveServer
from tests.support.webhook_receiver import Receiver
from tests.support.wsclient import Editor

pytestmark = [pytest.mark.live, pytest.mark.slow]
ENV = {
    "COLLAB_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver listens on 127.0.0.1
    "COLLAB_WEBHOOK_DEBOUNCE": "1",
    "COLLAB_WEBHOOK_BACKOFF_BASE": "0.2",
    "COLLAB_WEBHOOK_POLL": "0.2",
    "COLLAB_METRICS_TOKEN": "live-metrics-token",
}


def metric(server: LiveServer, line_start: str) -> float:
    request = urllib.request.Request(
        server.http_url + "/metrics", headers={"Authorization": "Bearer live-metrics-token"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("server_kind", ["daphne", "uvicorn"])
async def test_the_servers_own_worker_delivers_signed_events(tmp_path: Path, server_kind: str) -> None:
    with Receiver() as receiver:
        server = LiveServer(tmp_path, env=ENV, server=server_kind).start()
        try:
            token = server.create_users("alice")["alice"]
            status, hook = server.request(
                "POST", "/api/webhooks/", token=token,
                json_body={"url": receiver.url, "events": ["document.created", "document.changed"]},
            )  # fmt: skip
            assert status == 201, hook
            doc = server.create_document(token, "live", "a", public_role="none")
            async with Editor(server.ws_url(f"/ws/documents/{doc['id']}/", token), "w") as editor:
                for i in range(5):
                    await editor.edit([1 + i, "b"])
                    await editor.wait_synced(i + 1)
            server.request(
                "PATCH", f"/api/documents/{doc['id']}/", token=token, json_body={"content": "done"}
            )
            receiver.wait_for(1, event_type="document.created")
            # debounced: the first change at once, the rest within one more interval, up to version 6
            deadline = time.monotonic() + 30
            while not any(r.json["data"]["to_version"] == 6 for r in receiver.of_type("document.changed")):
                assert time.monotonic() < deadline, [r.json for r in receiver.requests]
                time.sleep(0.1)
            changed = receiver.of_type("document.changed")
            assert 1 <= len(changed) <= 3, [r.json["data"] for r in changed]
            assert changed[0].json["data"]["from_version"] == 1
            assert changed[-1].json["data"]["content"] == "done"
            for r in receiver.requests:
                signing.verify(hook["secret"], r.headers, r.body)
            assert metric(server, 'collab_webhook_deliveries_total{outcome="delivered"}') == len(
                receiver.requests
            )
        finally:
            server.stop()


def worker_process(server: LiveServer) -> subprocess.Popen[bytes]:
    log = open(server.tmp_path / "worker.log", "ab")  # noqa: SIM115 - the child's lifetime
    return subprocess.Popen(
        [sys.executable, "manage.py", "collab_webhooks"], cwd=ROOT, env=server.env, stdout=log, stderr=log
    )


def test_a_worker_killed_mid_delivery_is_redelivered_after_restart(tmp_path: Path) -> None:
    env = {**ENV, "COLLAB_WEBHOOKS_WORKER": "off", "COLLAB_WEBHOOK_TIMEOUT": "2"}  # lease: 2 x 2 + 5 s
    with Receiver() as receiver:
        server = LiveServer(tmp_path, env=env).start()
        worker = None
        try:
            token = server.create_users("alice")["alice"]
            status, hook = server.request(
                "POST", "/api/webhooks/", token=token,
                json_body={"url": receiver.url, "events": ["document.created"]},
            )  # fmt: skip
            assert status == 201, hook
            receiver.hold = 30  # the first request is never answered in time
            doc = server.create_document(token, "killed", "x")
            time.sleep(1.0)
            assert not receiver.requests  # no worker in the server process
            worker = worker_process(server)
            (first,) = receiver.wait_for(1)
            worker.send_signal(signal.SIGKILL)  # mid-delivery: the request is still waiting
            worker.wait(10)
            worker = worker_process(server)
            second = receiver.wait_for(2, timeout=40)[1]
            assert second.headers["webhook-id"] == first.headers["webhook-id"]  # the idempotency key
            assert (
                second.body == first.body and json.loads(second.body)["data"]["document"]["id"] == doc["id"]
            )
            signing.verify(hook["secret"], second.headers, second.body)
            deadline = time.monotonic() + 20
            while True:
                status, rows = server.request("GET", f"/api/webhooks/{hook['id']}/deliveries/", token=token)
                if rows and rows[0]["status"] == "delivered":
                    break
                assert time.monotonic() < deadline, rows
                time.sleep(0.2)
            assert len(rows) == 1 and rows[0]["attempts"] == 1  # the killed attempt never got recorded
        finally:
            if worker is not None:
                worker.kill()
                worker.wait(10)
            server.stop()
