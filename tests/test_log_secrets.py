"""No credential reaches a server's output (PROTOCOL.md section 2), on every supported server.

daphne, uvicorn and runserver run at their most talkative (uvicorn ``trace``,
which logs every ASGI scope with its headers; daphne ``-v 2`` with its access
log; Django at DEBUG; runserver with DEBUG on, as `make run` runs it),
then see every way a credential travels: ``?token=`` on
a WebSocket, a ``?ticket=``, a wrong token, ``Authorization: Token``, a session cookie, and a
WebSocket URL fetched as plain HTTP (a proxy that drops the upgrade). Their
whole output is then searched for each secret.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.slow]


def sign_in(server: LiveServer, username: str, password: str) -> dict[str, str]:
    """Sign in through the login form; the cookies the browser would hold."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(server.http_url + "/accounts/login/", timeout=30).read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, page[:500]
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)}
    ).encode()
    request = urllib.request.Request(server.http_url + "/accounts/login/", data=form)
    request.add_header("Referer", server.http_url + "/accounts/login/")
    opener.open(request, timeout=30).read()
    cookies = {cookie.name: cookie.value for cookie in jar if cookie.value}
    assert "sessionid" in cookies, cookies
    return cookies


def plain_get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


async def first_frame(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    async with websockets.connect(url, additional_headers=headers) as ws:
        return dict(json.loads(await ws.recv()))


@pytest.mark.parametrize(
    ("server", "debug"),
    [("daphne", "0"), ("uvicorn", "0"), ("runserver", "1")],  # runserver as `make run` runs it
)
async def test_no_credential_reaches_the_server_output(tmp_path: Path, server: str, debug: str) -> None:
    env = {"DJANGO_LOG_LEVEL": "DEBUG", "DJANGO_DEBUG": debug}
    live = LiveServer(tmp_path, server=server, verbose=True, env=env)
    live.start()
    try:
        token = live.create_users("alice")["alice"]
        doc = live.create_document(token, "secret")
        path = f"/ws/documents/{doc['id']}/"
        wrong = "f0" * 20
        cookies = sign_in(live, "alice", "alice-pw")
        cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())

        assert (await first_frame(live.ws_url(path, token)))["type"] == "hello"
        status, body = live.request("POST", "/api/ws-ticket/", token=token)
        assert status == 200, body
        ticket = body["ticket"]
        assert (await first_frame(live.ws_url(path) + f"?ticket={ticket}"))["type"] == "hello"
        refused = await first_frame(live.ws_url(path, wrong))
        assert refused["payload"]["code"] == "unauthorized", refused
        hello = await first_frame(live.ws_url(path), {"Cookie": cookie_header})
        assert hello["payload"]["user"]["id"] is not None, hello
        status, _ = live.request("GET", f"/api/documents/{doc['id']}/", token=token)
        assert status == 200
        assert plain_get(live.http_url + "/api/documents/", {"Cookie": cookie_header}) == 200
        # the WebSocket URL as a plain GET, as a proxy that drops the upgrade sends it
        assert plain_get(live.ws_url(path, token).replace("ws://", "http://")) >= 400
        assert plain_get(f"{live.http_url}/api/documents/?token={token}") == 401
    finally:
        live.stop()
    output = live.log()
    for name, secret in [("token", token), ("ticket", ticket), ("wrong token", wrong), *cookies.items()]:
        assert secret not in output, f"{server} logged the {name}"
    assert doc["id"] in output, output[-2000:]  # these requests were logged...
    assert "token=[redacted]" in output, output[-2000:]  # ...the ones with a token in the URL too
