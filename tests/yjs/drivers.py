"""Stock Yjs providers in Node processes, driven from pytest over JSON lines.

``tests/yjs/driver-ywebsocket.mjs`` runs a ``WebsocketProvider`` (y-websocket) on one document;
``tests/yjs/driver-hocuspocus.mjs`` runs ``HocuspocusProvider`` s (@hocuspocus/provider 2.x, 3.x
or 4.x) sharing one socket. Both answer the commands of ``tests/yjs/driver-common.mjs``::

    with ywebsocket(server, doc_id, token) as a, hocuspocus(server, [doc_id], token) as b:
        a.call("wait_synced"); b.call("wait_synced")
        a.call("insert", index=0, text="hi 😀")
        b.wait_for(lambda: b.text() == "hi 😀")
        b.wait_event("close", code=4403)

The packages come from the committed ``package.json`` (``npm ci``; ``make test`` runs it). Without
node or ``node_modules`` the tests skip with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import ROOT, LiveServer
from tests.support.services import IN_CI

HERE = Path(__file__).resolve().parent
NODE_MODULES = ROOT / "node_modules"
REQUIRED = ("yjs", "y-websocket", "@hocuspocus/provider", "ws")
TIMEOUT = 15.0


class DriverError(AssertionError):
    """A driver answered ``ok: false``, died, or did not answer in time."""


def node_or_skip() -> str:
    """The node binary, when it and the npm packages are there (else skip, or fail under CI)."""
    node = shutil.which("node")
    missing = [name for name in REQUIRED if not (NODE_MODULES / name / "package.json").exists()]
    problem = None
    if node is None:
        problem = "node is not installed: the real Yjs clients cannot run"
    elif missing:
        problem = f"npm packages missing ({', '.join(missing)}): run `npm ci` (make test does)"
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; under CI=true these tests must run, not skip")
        pytest.skip(problem)
    assert node is not None
    return node


class Driver:
    """One driver process: ``call`` a command and get its answer; watch its events."""

    def __init__(self, script: str, config: dict[str, Any], *, label: str = "") -> None:
        self.label = label or script
        self.proc = subprocess.Popen(
            [node_or_skip(), str(HERE / script), json.dumps(config)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", bufsize=1,
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []
        self._answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._next_id = 0
        self._lock = threading.Condition()
        self._stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # -- plumbing -------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                self._stderr.append(f"(stdout) {line}")
                continue
            with self._lock:
                if "id" in message and message["id"] in self._answers:
                    self._answers[message["id"]].put(message)
                elif "event" in message:
                    self.events.append(message)
                else:
                    self._stderr.append(f"(stdout) {line}")
                self._lock.notify_all()
        with self._lock:
            self._lock.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def _explain(self) -> str:
        return f"{self.label}: stderr:\n{''.join(self._stderr)[-4000:]}\nevents: {self.events[-20:]}"

    # -- API -------------------------------------------------------------------------
    def call(self, cmd: str, *, timeout: float = TIMEOUT, **args: Any) -> dict[str, Any]:
        """Send a command and return its answer; a driver-side error raises ``DriverError``.

        ``timeout`` (seconds) also goes to the driver, for the commands that wait (``wait_synced``, ...).
        """
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            answer: queue.Queue[dict[str, Any]] = queue.Queue()
            self._answers[ident] = answer
        if self.proc.poll() is not None:
            raise DriverError(f"the driver has exited ({self.proc.returncode}); {self._explain()}")
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": ident, "cmd": cmd, "timeout": timeout, **args}) + "\n")
        self.proc.stdin.flush()
        try:
            reply = answer.get(timeout=timeout + 5)
        except queue.Empty:
            raise DriverError(f"no answer to {cmd} within {timeout + 5}s; {self._explain()}") from None
        finally:
            self._answers.pop(ident, None)
        if not reply.get("ok"):
            raise DriverError(f"{cmd} failed: {reply.get('error')}; {self._explain()}")
        return reply

    def text(self, doc: str | None = None) -> str:
        return str(self.call("text", **({"doc": doc} if doc else {}))["text"])

    def find_events(self, name: str, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [
                e for e in self.events if e["event"] == name and all(e.get(k) == v for k, v in match.items())
            ]

    def wait_event(self, name: str, *, timeout: float = TIMEOUT, **match: Any) -> dict[str, Any]:
        """The first event ``name`` whose fields equal ``match`` (already seen, or within ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [
                    e
                    for e in self.events
                    if e["event"] == name and all(e.get(k) == v for k, v in match.items())
                ]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DriverError(
                        f"no {name} event matching {match} within {timeout}s; {self._explain()}"
                    )
                self._lock.wait(min(left, 0.2))

    def wait_for(self, check: Callable[[], bool], *, timeout: float = TIMEOUT, what: str = "") -> None:
        """Poll ``check`` (which may call the driver) until it holds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise DriverError(f"timed out waiting for {what or check}; {self._explain()}")
            time.sleep(0.05)

    def close(self) -> None:
        """Destroy the providers (a clean close) and end the process."""
        if self.proc.poll() is None:
            with contextlib.suppress(DriverError, BrokenPipeError, OSError):
                self.call("close", timeout=5)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        """End the process at once (no close frame: the server sees the socket drop)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def ywebsocket(server: LiveServer, doc_id: str, token: str | None = None, **config: Any) -> Driver:
    """A ``WebsocketProvider`` on ``/ws/yjs/{doc_id}`` (``token`` as ``?token=``)."""
    url = f"ws://127.0.0.1:{server.port}/ws/yjs"
    return Driver(
        "driver-ywebsocket.mjs",
        {"url": url, "doc": doc_id, "token": token, **config},
        label=f"y-websocket {doc_id[:8]}",
    )


def hocuspocus(
    server: LiveServer,
    docs: Iterable[str | dict[str, Any]],
    token: str | None = None,
    *,
    version: str = "4",
    **config: Any,
) -> Driver:
    """``HocuspocusProvider`` s (``version`` 2, 3 or 4) for ``docs`` on one socket to ``/ws/hocuspocus``."""
    specs = [d if isinstance(d, dict) else {"name": d} for d in docs]
    url = f"ws://127.0.0.1:{server.port}/ws/hocuspocus"
    return Driver(
        "driver-hocuspocus.mjs",
        {"url": url, "version": version, "token": token or "", "docs": specs, **config},
        label=f"hocuspocus {version}",
    )
