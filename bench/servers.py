"""The two servers under test, side by side: collab (``project.asgi``) and the relay (``bench.relay_asgi``).

Both run the same server software (daphne or uvicorn) with the same settings
and environment, each on its own free port of 127.0.0.1 with its own SQLite
file, started and stopped together::

    pair = ServerPair("daphne", workdir).start()
    pair.collab.ws_url(f"/ws/documents/{doc_id}/", token=...)
    pair.relay.ws_url(RELAY_PATH)
    pair.stop()

The benchmark raises the per-connection rate limits (a writer sends far more
than a person types), see ``BENCH_ENV``; nothing else differs from production
defaults.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.procstat import tree  # noqa: E402
from tests.support.live import LiveServer  # noqa: E402

RELAY_PATH = "/ws/relay/"
COLLAB_APP = "project.asgi:application"
RELAY_APP = "bench.relay_asgi:application"

# A benchmark writer sends hundreds of edits a second: lift the per-connection
# token bucket and the abuse limit so they never engage. Logs only on warnings.
BENCH_ENV = {
    "COLLAB_RATE_PER_SECOND": "1000000",
    "COLLAB_RATE_BURST": "1000000",
    "COLLAB_RATE_ABUSE_LIMIT": "1000000",
    "DJANGO_LOG_LEVEL": "WARNING",
}


class BenchServer(LiveServer):
    """A ``LiveServer`` that can serve another ASGI application than the project's."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        app: str,
        server: str,
        env: dict[str, str],
        migrate: bool,
        ws: str,
        workers: int = 1,
        redis_url: str | None = None,
    ) -> None:
        super().__init__(tmp_path, server=server, env=env, migrate=migrate, ws=ws, redis_url=redis_url)
        self.app = app
        self.workers = workers

    def command(self) -> list[str]:
        command = [self.app if part == COLLAB_APP else part for part in super().command()]
        return command + (["--workers", str(self.workers)] if self.workers > 1 else [])

    @property
    def pids(self) -> list[int]:
        """The server's processes: with ``--workers``, the supervisor and its workers."""
        return tree(self.pid)

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return int(self.proc.pid)


class ServerPair:
    def __init__(
        self,
        server: str,
        workdir: Path,
        env: dict[str, str] | None = None,
        ws: str = "websockets-sansio",
        workers: int = 1,
        redis_url: str | None = None,
    ) -> None:
        """``workers`` > 1: that many uvicorn processes per server (``uvicorn --workers``) sharing
        ``redis_url`` (channel layer, presence, caches) under a key prefix of this run's own."""
        if workers > 1 and (server != "uvicorn" or not redis_url):
            raise ValueError("several workers need uvicorn and a Redis URL")
        self.server = server
        base = {**BENCH_ENV, **(env or {})}
        if redis_url:
            base.setdefault("COLLAB_REDIS_PREFIX", f"collab-bench-{os.getpid()}")
        collab_dir, relay_dir = workdir / f"{server}-collab", workdir / f"{server}-relay"
        collab_dir.mkdir(parents=True, exist_ok=True)
        relay_dir.mkdir(parents=True, exist_ok=True)
        common: dict[str, Any] = {
            "server": server,
            "env": base,
            "ws": ws,
            "workers": workers,
            "redis_url": redis_url,
        }
        self.collab = BenchServer(collab_dir, app=COLLAB_APP, migrate=True, **common)
        self.relay = BenchServer(relay_dir, app=RELAY_APP, migrate=False, **common)
        self.tokens: dict[str, str] = {}

    def start(self) -> ServerPair:
        self.collab.start(timeout=60)
        self.relay.start(timeout=60)
        return self

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        self.collab.stop()
        self.relay.stop()

    def users(self, *names: str) -> dict[str, str]:
        missing = [n for n in names if n not in self.tokens]
        if missing:
            self.tokens.update(self.collab.create_users(*missing))
        return {n: self.tokens[n] for n in names}

    def document(self, owner: str, title: str, content: str = "", kind: str = "text") -> dict[str, Any]:
        """A new public-editable document of ``kind`` (``text`` or ``yjs``)."""
        token = self.users(owner)[owner]
        status, doc = self.collab.request(
            "POST", "/api/documents/", token=token,
            json_body={"title": title, "content": content, "public_role": "editor", "kind": kind},
        )  # fmt: skip
        assert status == 201, doc
        return dict(doc)

    def documents(self, owner: str, count: int, title: str) -> list[str]:
        """Many public-editable documents at once (one ``manage.py shell``), their ids."""
        self.users(owner)
        code = (
            "from django.contrib.auth.models import User; from collab import editing\n"
            f"u = User.objects.get(username={owner!r})\n"
            f"ids = [str(editing.create_document(owner=u, title={title!r} + str(i), "
            f"public_role='editor').pk) for i in range({count})]\n"
            "print('IDS' + ','.join(ids))"
        )
        out = self.collab.manage("shell", "-c", code, timeout=300)
        line = next(x for x in out.splitlines() if x.startswith("IDS"))
        return line[3:].split(",")
