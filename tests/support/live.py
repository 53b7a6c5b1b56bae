"""A real server process for live tests: daphne (or uvicorn, or runserver) on a free port, its own database.

server = LiveServer(tmp_path).start()
tokens = server.create_users("alice", "bob")        # {"alice": "<token>", ...}, kept in server.tokens
status, doc = server.request("POST", "/api/documents/", token=tokens["alice"],
                             json={"title": "t", "public_role": "editor"})
url = server.ws_url(f"/ws/documents/{doc['id']}/", token=tokens["alice"])
server.kill()      # SIGKILL, then server.start() again on the same database and port
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


UVICORN_WS = "websockets-sansio"  # as the README's production command runs uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(
        self,
        tmp_path: Path,
        *,
        port: int | None = None,
        database_url: str | None = None,
        redis_url: str | None = None,
        env: dict[str, str] | None = None,
        server: str = "daphne",
        migrate: bool = True,
        verbose: bool = False,
        ws: str | None = None,
    ) -> None:
        self.tmp_path = Path(tmp_path)
        self.port = port or free_port()
        self.database_url = database_url or f"sqlite:///{self.tmp_path / 'live.sqlite3'}"
        self.server = server
        # uvicorn's --ws implementation: the one the README recommends unless a test names another
        self.ws = ws or os.environ.get("COLLAB_TEST_UVICORN_WS") or UVICORN_WS
        self.verbose = verbose  # the servers' most talkative logging (uvicorn trace, daphne -v 2)
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "DJANGO_DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        else:
            self.env.pop("REDIS_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.tmp_path / f"server-{self.port}.log"
        self._migrated = not migrate
        self.tokens: dict[str, str] = {}  # the API tokens of the users create_users made, by name

    # -- lifecycle ---------------------------------------------------------
    def manage(self, *args: str, timeout: float = 120) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def command(self) -> list[str]:
        if self.server == "uvicorn":
            return [
                sys.executable, "-m", "uvicorn", "project.asgi:application",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "trace" if self.verbose else "warning", "--ws", self.ws,
            ]  # fmt: skip
        if self.server == "runserver":
            return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]
        return [
            sys.executable, "-m", "daphne", *(["-v", "2"] if self.verbose else []),
            "-b", "127.0.0.1", "-p", str(self.port), "project.asgi:application",
        ]  # fmt: skip

    def start(self, timeout: float = 30) -> LiveServer:
        if not self._migrated:
            self.manage("migrate", "--noinput", "-v", "0")
            self._migrated = True
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not listen within {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- helpers -----------------------------------------------------------
    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str, token: str | None = None) -> str:
        query = f"?token={token}" if token else ""
        return f"ws://127.0.0.1:{self.port}{path}{query}"

    def create_users(self, *names: str) -> dict[str, str]:
        """Create users (password ``<name>-pw``) and return their API tokens."""
        code = (
            "import json; from django.contrib.auth.models import User; "
            "from rest_framework.authtoken.models import Token; out = {}\n"
            f"for n in {list(names)!r}:\n"
            "    u, c = User.objects.get_or_create(username=n)\n"
            "    u.set_password(n + '-pw'); u.save()\n"
            "    out[n] = Token.objects.get_or_create(user=u)[0].key\n"
            "print('TOKENS' + json.dumps(out))"
        )
        out = self.manage("shell", "-c", code)
        line = next(x for x in out.splitlines() if x.startswith("TOKENS"))
        tokens: dict[str, str] = json.loads(line[len("TOKENS") :])
        self.tokens.update(tokens)
        return tokens

    def request(
        self, method: str, path: str, *, token: str | None = None, json_body: Any = None, timeout: float = 30
    ) -> tuple[int, Any]:
        data = json.dumps(json_body).encode() if json_body is not None else None
        req = urllib.request.Request(self.http_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = resp.read()
                return resp.status, json.loads(body) if body else None
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return err.code, json.loads(body) if body else None
            except ValueError:
                return err.code, body.decode(errors="replace")

    def create_document(
        self, token: str, title: str = "doc", content: str = "", public_role: str = "none", kind: str = ""
    ) -> dict[str, Any]:
        """A new document (``kind="yjs"``: a rich-text one), as the token's user; its REST representation."""
        body = {
            "title": title,
            "content": content,
            "public_role": public_role,
            **({"kind": kind} if kind else {}),
        }
        status, doc = self.request("POST", "/api/documents/", token=token, json_body=body)
        assert status == 201, doc
        return dict(doc)


def server_pair(
    tmp_path: Path, *, database_url: str, redis_url: str, env: dict[str, str], server: str = "daphne"
) -> tuple[LiveServer, LiveServer]:
    """Two started servers sharing one database (migrated by the first) and one Redis."""
    servers = []
    for i, name in enumerate("ab"):
        (tmp_path / name).mkdir()
        live = LiveServer(
            tmp_path / name,
            database_url=database_url,
            redis_url=redis_url,
            env=env,
            server=server,
            migrate=i == 0,
        )
        servers.append(live.start())
    return servers[0], servers[1]
