"""collab as a drop-in app: the wheel installed into a fresh virtualenv, a ``django-admin startproject``
host given only the lines of docs/integration.md (read from it), migrated and served; over REST and
WebSockets a document is created, edited live by two clients and read back. Variants: uvicorn, and a
host with its own permission policy and a REST_FRAMEWORK unlike collab's.

The virtualenv sees this environment's packages through a ``.pth`` file (no download, works offline
and in CI on a clean clone); collab itself comes from the wheel only (the host runs outside this
checkout, and the test checks where ``collab`` is imported from).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import free_port
from tests.test_packaging import build_wheel

pytestmark = [pytest.mark.live, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "integration.md"

POLICY = '''
def role(user, document):
    """Owners own; signed-in users whose name starts with "ed" edit; other signed-in users view."""
    if not user.is_authenticated:
        return "none"
    if document.owner_id == user.pk:
        return "owner"
    return "editor" if user.username.startswith("ed") else "viewer"
'''
HOSTILE_REST = """
COLLAB = {"PERMISSION_POLICY": "host.policy.role"}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 1,
}
"""


def documented(target: str) -> str:
    """The code block of docs/integration.md marked ``<!-- host: target -->``."""
    match = re.search(rf"<!-- host: {re.escape(target)} -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/integration.md has no block for {target}"
    return match.group(1)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the collab wheel installed (its dependencies seen from this environment)."""
    tmp = tmp_path_factory.mktemp("dropin")
    wheel = build_wheel(ROOT, tmp / "wheel").filename
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "outer-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--disable-pip-version-check", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300, cwd=tmp,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr  # its dependencies are all there
    where = subprocess.run(
        [str(python), "-c", "import collab; print(collab.__file__)"], capture_output=True, text=True, cwd=tmp
    ).stdout.strip()
    assert where.startswith(str(site)), where  # the wheel's copy, not this checkout's
    return env_dir


class Host:
    """A startproject host in ``path``, served by ``server`` from the virtualenv."""

    def __init__(self, venv: Path, path: Path, server: str) -> None:
        self.python = str(venv / "bin" / "python")
        self.path = path
        self.server = server
        self.port = free_port()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "COLLAB_"))
        }
        self.env.update(
            {"PYTHONUNBUFFERED": "1", "PYTHONPATH": "", "DJANGO_SETTINGS_MODULE": "host.settings"}
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def run(self, *args: str) -> str:
        out = subprocess.run(
            [self.python, *args], cwd=self.path, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, f"{args}:\n{out.stdout}\n{out.stderr}"
        return out.stdout + out.stderr

    def create(self, extra_settings: str = "", files: dict[str, str] | None = None) -> Host:
        self.path.mkdir()
        subprocess.run(
            [self.python, "-m", "django", "startproject", "host", str(self.path)],
            check=True, env=self.env, timeout=120,
        )  # fmt: skip
        package = self.path / "host"
        with open(package / "settings.py", "a") as settings:
            settings.write("\n" + documented("settings.py") + extra_settings)
        with open(package / "urls.py", "a") as urls:
            urls.write("\n" + documented("urls.py"))
        (package / "asgi.py").write_text(documented("asgi.py"))
        for name, text in (files or {}).items():
            (package / name).write_text(text)
        return self

    def start(self) -> Host:
        app = "host.asgi:application"
        if self.server == "uvicorn":
            command = [self.python, "-m", "uvicorn", app, "--port", str(self.port), "--ws", "websockets"]
        else:
            command = [self.python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), app]
        self.log = open(self.path / "server.log", "ab")  # noqa: SIM115 - the child's lifetime
        self.proc = subprocess.Popen(command, cwd=self.path, env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.path / "server.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the host did not listen: " + (self.path / "server.log").read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def request(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Token {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw and "json" in resp.headers["Content-Type"] else raw
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if "json" in err.headers.get("Content-Type", "") else raw

    def token(self, name: str) -> str:
        status, body = self.request(
            "POST", "/api/auth/token/", body={"username": name, "password": f"{name}-pw"}
        )
        assert status == 200, body
        return str(body["token"])

    def ws(self, document_id: str, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/documents/{document_id}/?token={token}"


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    made: list[Host] = []
    yield made
    for host in made:
        host.stop()


async def recv(ws: Any, *types: str) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["type"] in types:
            return dict(message)


async def edit_live(host: Host, document_id: str, writer: str, reader: str) -> list[dict[str, Any]]:
    """``writer`` appends " world" at version 0 while ``reader`` watches; what the reader heard."""
    async with (
        websockets.connect(host.ws(document_id, writer)) as w,
        websockets.connect(host.ws(document_id, reader)) as r,
    ):
        hello = (await recv(w, "hello"))["payload"]
        await recv(r, "hello")
        length = len(hello["document"]["content"])
        edit = {"version": hello["document"]["version"], "op": [length, " world"], "client_id": "c", "seq": 1}
        await w.send(json.dumps({"type": "edit", "payload": edit}))
        ack = await recv(w, "ack", "error")
        heard = await recv(r, "op") if ack["type"] == "ack" else None
        return [hello, ack, heard] if heard else [hello, ack]


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_a_startproject_host_with_only_the_documented_lines(
    venv: Path, tmp_path: Path, hosts: list[Host], server: str
) -> None:
    host = Host(venv, tmp_path / "site", server).create()
    checked = host.run("manage.py", "check")
    assert "collab." not in checked, checked  # no COLLAB setting at all, and nothing to warn about
    host.run("manage.py", "migrate", "--noinput", "-v", "0")
    host.run(
        "manage.py", "shell", "-c",
        "from django.contrib.auth.models import User\n"
        "for n in ('alice', 'bob'): User.objects.create_user(n, password=n + '-pw')",
    )  # fmt: skip
    hosts.append(host.start())
    alice, bob = host.token("alice"), host.token("bob")

    status, doc = host.request(
        "POST", "/api/documents/", alice, {"title": "Notes", "content": "hello", "public_role": "viewer"}
    )
    assert status == 201 and doc["role"] == "owner", doc
    hello, ack, heard = asyncio.run(edit_live(host, doc["id"], alice, bob))
    assert hello["document"] == {"id": doc["id"], "title": "Notes", "version": 0, "content": "hello"}
    assert ack["payload"]["version"] == 1 and heard["payload"]["op"] == [5, " world"]
    status, back = host.request("GET", f"/api/documents/{doc['id']}/", bob)
    assert (
        status == 200
        and back["content"] == "hello world"
        and back["version"] == 1
        and back["role"] == "viewer"
    )
    status, listed = host.request("GET", "/api/documents/", alice)
    assert status == 200 and listed["count"] == 1
    assert (
        host.request("GET", "/api/schema/")[0] == 404
    )  # drf_spectacular is not among the host's apps: no schema routes
    status, script = host.request("GET", "/static/collab/embed.js")
    assert status == 200 and b"mountEditor" in script  # the wheel's static files


def test_a_host_with_its_own_permission_policy_and_rest_settings(
    venv: Path, tmp_path: Path, hosts: list[Host]
) -> None:
    host = Host(venv, tmp_path / "site", "daphne").create(HOSTILE_REST, {"policy.py": POLICY})
    assert "collab." not in host.run("manage.py", "check")
    host.run("manage.py", "migrate", "--noinput", "-v", "0")
    host.run(
        "manage.py", "shell", "-c",
        "from django.contrib.auth.models import User\n"
        "for n in ('alice', 'bob', 'eddie'): User.objects.create_user(n, password=n + '-pw')",
    )  # fmt: skip
    hosts.append(host.start())
    alice, bob, eddie = (host.token(name) for name in ("alice", "bob", "eddie"))

    status, doc = host.request("POST", "/api/documents/", alice, {"title": "Notes", "content": "hello"})
    assert status == 201, doc  # the host's IsAdminUser default does not apply to collab's API
    assert host.request("GET", f"/api/documents/{doc['id']}/")[0] == 401  # the policy: anonymous gets none
    status, as_bob = host.request("GET", f"/api/documents/{doc['id']}/", bob)
    assert status == 200 and as_bob["role"] == "viewer"  # public_role is none; the policy says viewer
    assert host.request("PATCH", f"/api/documents/{doc['id']}/", bob, {"content": "no"})[0] == 403

    hello, refused = asyncio.run(edit_live(host, doc["id"], bob, alice))
    assert hello["role"] == "viewer" and refused["payload"]["code"] == "forbidden"
    hello, ack, heard = asyncio.run(edit_live(host, doc["id"], eddie, bob))
    assert (
        hello["role"] == "editor"
        and ack["payload"]["version"] == 1
        and heard["payload"]["op"] == [5, " world"]
    )
    status, back = host.request("GET", f"/api/documents/{doc['id']}/", eddie)
    assert status == 200 and back["content"] == "hello world" and back["role"] == "editor"
