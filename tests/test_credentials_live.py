"""Credentials that end close their sockets on every process (two servers sharing Redis and PostgreSQL).

A logout over HTTP on process A closes the session's socket on process B; a
token deleted and a user deactivated from a third process (``manage.py
shell``) close the sockets on both, with 4401, on daphne and on uvicorn.
Sockets of other credentials stay open.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import LiveServer, server_pair
from tests.test_multiprocess import scratch_database  # noqa: F401 - a fixture

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(params=["daphne", "uvicorn"])
def pair(
    request: Any,
    tmp_path: Path,
    scratch_database: str,  # noqa: F811 - the fixture imported above
    redis_url: str,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"COLLAB_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}"}
    a, b = server_pair(
        tmp_path, database_url=scratch_database, redis_url=redis_url, env=env, server=request.param
    )
    yield a, b
    a.stop()
    b.stop()


def new_session(server: LiveServer, username: str) -> str:
    """A signed-in session of ``username``, as a login would store it; its key."""
    code = (
        "from importlib import import_module; from django.conf import settings; "
        "from django.contrib import auth; from django.contrib.auth.models import User\n"
        f"u = User.objects.get(username={username!r})\n"
        "s = import_module(settings.SESSION_ENGINE).SessionStore()\n"
        "s[auth.SESSION_KEY] = str(u.pk); s[auth.HASH_SESSION_KEY] = u.get_session_auth_hash()\n"
        "s[auth.BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'; s.create()\n"
        "print('KEY' + s.session_key)"
    )
    out = server.manage("shell", "-c", code)
    return next(line[3:] for line in out.splitlines() if line.startswith("KEY"))


def log_out(server: LiveServer, session_key: str) -> int:
    csrf = secrets.token_hex(16)  # a CSRF secret of our own, in the cookie and the header
    req = urllib.request.Request(server.http_url + "/accounts/logout/", data=b"", method="POST")
    req.add_header("Cookie", f"sessionid={session_key}; csrftoken={csrf}")
    req.add_header("X-CSRFToken", csrf)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


async def connect(url: str, cookie: str | None = None) -> Any:
    ws = await websockets.connect(url, additional_headers={"Cookie": cookie} if cookie else None)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["type"] == "hello" and hello["payload"]["user"]["id"] is not None, hello
    return ws


async def close_code(ws: Any, timeout: float = 10) -> int:
    """Read until the server closes: its code (an ``unauthorized`` error must come just before)."""
    last = None
    try:
        while True:
            last = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except websockets.ConnectionClosed as closed:
        assert last is not None and last["payload"]["code"] == "unauthorized", last
        return closed.rcvd.code if closed.rcvd else -1


async def is_open(ws: Any) -> bool:
    await ws.send(json.dumps({"type": "ping", "payload": {}}))
    while True:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        except websockets.ConnectionClosed:
            return False
        if message["type"] == "pong":
            return True


async def test_ended_credentials_close_sockets_on_every_process(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    tokens = a.create_users("alice", "bob")
    doc = a.create_document(tokens["alice"], "creds", "x", public_role="editor")
    path = f"/ws/documents/{doc['id']}/"
    key = new_session(a, "alice")
    session_on_b = await connect(b.ws_url(path), cookie=f"sessionid={key}")
    token_on_a = await connect(a.ws_url(path, tokens["alice"]))
    token_on_b = await connect(b.ws_url(path, tokens["alice"]))
    bob_on_b = await connect(b.ws_url(path, tokens["bob"]))
    sockets = [session_on_b, token_on_a, token_on_b, bob_on_b]
    try:
        # a logout on A ends the session: its socket on B closes, the token's stay
        assert log_out(a, key) in (200, 302)
        assert await close_code(session_on_b) == 4401
        assert await is_open(token_on_a) and await is_open(token_on_b)
        # the token deleted elsewhere (a third process): its sockets on A and on B close
        a.manage("shell", "-c", "from rest_framework.authtoken.models import Token; Token.objects.filter(user__username='alice').delete()")  # fmt: skip
        assert await close_code(token_on_a) == 4401
        assert await close_code(token_on_b) == 4401
        assert await is_open(bob_on_b)
        # bob deactivated: his socket closes
        a.manage("shell", "-c", "from django.contrib.auth.models import User; u = User.objects.get(username='bob'); u.is_active = False; u.save()")  # fmt: skip
        assert await close_code(bob_on_b) == 4401
    finally:
        for ws in sockets:
            await ws.close()
