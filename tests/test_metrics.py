"""``/metrics``: who may read it, what the commit path and the recorders count, several processes.

The live test (real traffic through a server, then a scrape) is tests/test_metrics_live.py.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from collab import editing, metrics
from collab.editing import EditRequest
from collab.exceptions import InvalidOp
from collab.metrics_endpoint import exposition

pytestmark = pytest.mark.django_db(transaction=True)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(name: str, **labels: str) -> float:
    return samples(exposition().decode()).get((name, tuple(sorted(labels.items()))), 0.0)


# -- access -----------------------------------------------------------------------------
def test_metrics_are_refused_to_anonymous_requests_by_default(client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert "COLLAB_METRICS_TOKEN" in response.json()["detail"]


def test_the_bearer_token_opens_them_and_a_wrong_one_does_not(client: Client, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "METRICS_TOKEN": "s3cret-scraper-token"}
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scraper-token", REMOTE_ADDR="203.0.113.9")
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain")
    assert "collab_edits_committed_total" in ok.content.decode()
    wrong = client.get(
        "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scraper-tokeN", REMOTE_ADDR="203.0.113.9"
    )
    assert wrong.status_code == 403


def test_an_allowed_network_opens_them(client: Client, settings: Any) -> None:
    settings.COLLAB = {**settings.COLLAB, "METRICS_ALLOW": "10.0.0.0/8, 127.0.0.1"}
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 403


def test_signed_in_staff_may_read_them_other_users_may_not(client: Client) -> None:
    User.objects.create_user("plain", password="pw-plain-123")
    User.objects.create_user("ops", password="pw-ops-123", is_staff=True)
    client.login(username="plain", password="pw-plain-123")
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    client.login(username="ops", password="pw-ops-123")
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200


# -- the commit path ----------------------------------------------------------------------
def test_commits_count_edits_time_batches_and_count_refusals(alice: User) -> None:
    doc = editing.create_document(owner=alice, title="t", content="abc")
    edits, batches = value("collab_edits_committed_total"), value("collab_commit_seconds_count")
    refused = value("collab_edits_rejected_total", code="invalid_op")
    outcomes = editing.commit_many(
        doc.pk,
        [
            EditRequest(doc.pk, 0, [3, "d"], user=alice, client_id="c", seq=1),
            EditRequest(doc.pk, 0, [99, "x"], user=alice, client_id="c", seq=2),  # past the end
            EditRequest(doc.pk, 0, ["z"], user=alice, client_id="c", seq=3),
        ],
    )
    assert isinstance(outcomes[1], InvalidOp)
    editing.commit_many(
        doc.pk, [EditRequest(doc.pk, 0, [3, "d"], user=alice, client_id="c", seq=1)]
    )  # resend
    assert value("collab_edits_committed_total") == edits + 2  # the resend is not a new edit
    assert value("collab_commit_seconds_count") == batches + 2
    assert value("collab_edits_rejected_total", code="invalid_op") == refused + 1


def test_a_failed_commit_is_counted_and_logged_as_one_structured_line(
    alice: User, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    doc = editing.create_document(owner=alice, title="t", content="abc")
    before = value("collab_commit_failures_total")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(editing, "_commit_batch", broken)
    with caplog.at_level(logging.ERROR, logger="collab.commits"), pytest.raises(RuntimeError):
        editing.commit(EditRequest(doc.pk, 0, ["x"], user=alice))
    assert value("collab_commit_failures_total") == before + 1
    (record,) = [r for r in caplog.records if r.name == "collab.commits"]
    assert record.event == "commit.failed"  # type: ignore[attr-defined]
    assert record.document == str(doc.pk) and record.user_ids == [alice.pk]  # type: ignore[attr-defined]
    assert "RuntimeError: the disk is full" in record.error  # type: ignore[attr-defined]
    assert f"document={doc.pk}" in record.getMessage()


# -- the cheap recorders ---------------------------------------------------------------------
def test_batched_deliveries_give_the_histogram_observe_would() -> None:
    lags = [0.0, 0.0004, 0.0005, 0.003, 0.07, 0.7, 3.0, 12.0, 99.0, 0.0005]
    direct_registry, batched_registry = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("lag", "x", buckets=metrics.LATENCY_BUCKETS, registry=direct_registry)
    batched = Histogram("lag", "x", buckets=metrics.LATENCY_BUCKETS, registry=batched_registry)
    from prometheus_client import Counter

    count = Counter("n", "x", registry=batched_registry)
    recorder = metrics.Deliveries(metrics.LATENCY_BUCKETS)
    for lag in lags:
        direct.observe(lag)
        recorder.add(lag)
    recorder.add(-1.0)  # unknown commit time: counted as a delivery, not observed
    recorder.flush(count, batched)
    recorder.flush(count, batched)  # nothing twice
    got = {k: v for k, v in samples(_text(batched_registry)).items() if k[0].startswith("lag")}
    want = {k: v for k, v in samples(_text(direct_registry)).items() if k[0].startswith("lag")}
    got = {k: v for k, v in got.items() if not k[0].endswith("_created")}
    want = {k: v for k, v in want.items() if not k[0].endswith("_created")}
    assert got == pytest.approx(want)
    assert samples(_text(batched_registry))[("n_total", ())] == len(lags) + 1


def _text(registry: CollectorRegistry) -> str:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode()


# -- several processes (PROMETHEUS_MULTIPROC_DIR) ---------------------------------------------
WORKER = textwrap.dedent(
    """
    import os, sys, time
    from prometheus_client import Counter, Gauge
    g = Gauge("collab_connections_open", "x", ["endpoint", "role"], multiprocess_mode="livesum")
    c = Counter("collab_edits_committed", "x")
    g.labels("text", "editor").set(int(sys.argv[1]))
    c.inc(int(sys.argv[1]))
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_several_processes_are_summed_and_a_killed_ones_connections_stop_counting(
    tmp_path: Path, monkeypatch: Any
) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, n], env=env, stdout=subprocess.PIPE)
        for n in ("3", "4")
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
        assert value("collab_connections_open", endpoint="text", role="editor") == 7
        assert value("collab_edits_committed_total") == 7
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        time.sleep(0.1)
        assert value("collab_connections_open", endpoint="text", role="editor") == 4  # the dead one's 3 gone
        assert value("collab_edits_committed_total") == 7  # counters keep what was counted
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
