"""The Python client against a live daphne, over real sockets.

Convergence is always checked against the server: every client's text and
version equal ``GET /api/documents/{id}/``, and every marker a client typed
(acked before a crash or still pending) is in the text exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from collab.client import (
    AccessRevoked,
    Backoff,
    CursorMoved,
    DocumentClient,
    DocumentDeleted,
    DocumentNotFound,
    PresenceChanged,
    ReadOnly,
    RemoteEdit,
    StateChanged,
    Unauthorized,
)
from tests.support.live import ROOT, LiveServer

pytestmark = pytest.mark.live

FAST = Backoff(initial=0.05, factor=2.0, maximum=0.4, jitter=0.5, reset_after=2.0)
# ack 2 s, and 4 s for a sync answer or a hello: when the server ignores a connection's
# messages, the client gives up on that connection and resumes on a new one soon.
TIMEOUTS: dict[str, Any] = {"ack_timeout": 2.0, "open_timeout": 4.0}


def client(server: LiveServer, doc_id: str, token: str | None, **kw: Any) -> DocumentClient:
    options: dict[str, Any] = {"backoff": FAST, "connect_timeout": 15.0, **TIMEOUTS}
    return DocumentClient(server.http_url, doc_id, token=token, **{**options, **kw})


async def server_doc(server: LiveServer, doc_id: str, token: str) -> dict[str, Any]:
    status, doc = await asyncio.to_thread(server.request, "GET", f"/api/documents/{doc_id}/", token=token)
    assert status == 200, doc
    return dict(doc)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.02)


async def converged(
    server: LiveServer, doc_id: str, token: str, clients: list[DocumentClient], timeout: float = 20.0
) -> dict[str, Any]:
    """Wait until every client is synced at the server's version; return the server's document."""
    deadline = time.monotonic() + timeout
    while True:
        for c in clients:
            await c.wait_synced(max(deadline - time.monotonic(), 0.1))
        doc = await server_doc(server, doc_id, token)
        if all(c.version == doc["version"] and c.synced for c in clients):
            assert [c.text for c in clients] == [doc["content"]] * len(clients)
            return doc
        assert time.monotonic() < deadline, [(c.version, c.state) for c in clients] + [doc["version"]]
        await asyncio.sleep(0.05)


async def type_markers(
    doc: DocumentClient, name: str, typed: list[str], stop: asyncio.Event, seed: int
) -> None:
    """Insert unique markers like ``<a7>`` between existing markers until ``stop``."""
    rng = random.Random(seed)
    while not stop.is_set():
        text = doc.text
        bounds = [0] + [i + 1 for i, ch in enumerate(text) if ch == ">"]
        marker = f"<{name}{len(typed)}>"
        await doc.insert(rng.choice(bounds), marker)
        typed.append(marker)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(0.01, 0.05))


def cursors(doc: DocumentClient) -> dict[str, tuple[int, int] | None]:
    """The others' cursors as ``doc`` sees them, by name."""
    return {p.name: p.cursor for p in doc.participants if not p.is_self}


def assert_exactly_once(text: str, typed: list[str]) -> None:
    missing = [m for m in typed if text.count(m) == 0]
    doubled = [m for m in typed if text.count(m) > 1]
    assert not missing and not doubled, f"missing {missing[:10]}, doubled {doubled[:10]}"
    assert len(text) == sum(map(len, typed)), "text holds something nobody typed"


# -- basics ------------------------------------------------------------------------------
async def test_two_clients_edit_see_each_other_and_converge(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "basics", "hello", "editor")
    async with client(live, doc["id"], tokens["alice"]) as a:
        assert (a.text, a.version, a.role, a.state) == ("hello", 0, "owner", "connected")
        events = a.events()
        async with client(live, doc["id"], tokens["bob"]) as b:
            await b.insert(5, " world")
            await b.set_cursor(0, 5)
            await a.insert(0, ">> ")
            await a.delete(0, 1)
            doc2 = await converged(live, doc["id"], tokens["alice"], [a, b])
            assert doc2["content"] == "> hello world" and doc2["version"] == 3
            await a.replace("> hello there, world")
            await converged(live, doc["id"], tokens["alice"], [a, b])
            assert b.text == "> hello there, world"
            # bob's selection "hello" (0, 5), with alice's "> " typed at 0 after it: (0, 7). A cursor
            # sent while its own edit is unacknowledged is approximate; the exact one follows the ack.
            await until(lambda: cursors(a) == {"bob": (0, 7)}, 5, "bob's cursor at (0, 7)")
            assert {p.name for p in b.participants} == {"alice", "bob"}
        seen: list[object] = []
        async for event in events:
            seen.append(event)
            if isinstance(event, PresenceChanged) and event.left:
                break
    kinds = {type(e) for e in seen}
    assert {RemoteEdit, PresenceChanged, CursorMoved} <= kinds
    remote = [e for e in seen if isinstance(e, RemoteEdit)]
    assert " world" in remote[0].op and remote[0].user["name"] == "bob"  # where depends on timing
    joined = [e for e in seen if isinstance(e, PresenceChanged) and e.joined]
    assert joined[0].joined[0].name == "bob"


async def test_leaving_the_block_waits_for_acks(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "flush", "", "none")
    async with client(live, doc["id"], tokens["alice"]) as a:
        for i in range(50):
            await a.insert(len(a.text), f"{i},")
    assert a.state == "closed" and not a.pending
    assert (await server_doc(live, doc["id"], tokens["alice"]))["content"] == "".join(
        f"{i}," for i in range(50)
    )
    with pytest.raises(Exception, match="not running"):
        await a.insert(0, "late")


async def test_viewers_cannot_edit(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "read only", "x", "viewer")
    async with client(live, doc["id"], tokens["carol"]) as c:
        assert c.role == "viewer" and c.text == "x"
        with pytest.raises(ReadOnly):
            await c.insert(0, "y")


# -- giving up -----------------------------------------------------------------------------
async def test_no_such_document_gives_up_at_once_with_the_reason(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    started = time.monotonic()
    doc = client(live, str(uuid.uuid4()), tokens["alice"])
    with pytest.raises(DocumentNotFound) as err:
        await doc.start()
    assert err.value.code == 4404 and "No such document" in str(err.value)
    assert doc.reconnects == 0 and doc.state == "closed" and time.monotonic() - started < 3


async def test_anonymous_on_a_private_document_gives_up_with_4401(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "private", "", "none")
    with pytest.raises(Unauthorized, match="4401"):
        async with client(live, doc["id"], None):
            pass


async def test_deleting_the_document_ends_the_client_with_4410(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "doomed", "", "editor")
    c = client(live, doc["id"], tokens["bob"])
    await c.start()
    events = c.events()
    status, _ = await asyncio.to_thread(
        live.request, "DELETE", f"/api/documents/{doc['id']}/", token=tokens["alice"]
    )
    assert status == 204
    async with asyncio.timeout(5):
        last = [e async for e in events][-1]
    assert isinstance(last, StateChanged) and last.state == "closed"
    assert isinstance(last.error, DocumentDeleted) and last.error.code == 4410
    with pytest.raises(DocumentDeleted, match="4410"):
        await c.wait_closed()
    assert c.reconnects == 0


async def test_removed_member_gives_up_with_4403(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "members", "", "none")
    members = f"/api/documents/{doc['id']}/members/"
    status, _ = await asyncio.to_thread(
        live.request, "POST", members, token=tokens["alice"], json_body={"username": "dave", "role": "editor"}
    )
    assert status == 201
    c = client(live, doc["id"], tokens["dave"])
    await c.start()
    status, _ = await asyncio.to_thread(live.request, "DELETE", f"{members}dave/", token=tokens["alice"])
    assert status == 204
    with pytest.raises(AccessRevoked, match="4403"):
        async with asyncio.timeout(5):
            await c.wait_closed()


# -- crashes and cuts -------------------------------------------------------------------------
@pytest.mark.slow
async def test_server_sigkill_and_restart_while_three_clients_type(tmp_path: Path) -> None:
    server = LiveServer(tmp_path).start()
    try:
        tokens = server.create_users("ann", "ben", "cat")
        doc = server.create_document(tokens["ann"], "crash", "", "editor")
        names = ["a", "b", "c"]
        clients = [client(server, doc["id"], tokens[n]) for n in ("ann", "ben", "cat")]
        typed: list[list[str]] = [[], [], []]
        stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as stack:
            for c in clients:
                await stack.enter_async_context(c)
            typists = [
                asyncio.create_task(type_markers(c, names[i], typed[i], stop, seed=i))
                for i, c in enumerate(clients)
            ]
            await asyncio.sleep(1.0)
            committed = (await server_doc(server, doc["id"], tokens["ann"]))["content"]
            await asyncio.to_thread(server.kill)
            before_restart = sum(map(len, typed))
            await asyncio.sleep(0.8)  # typing on, into a dead server
            assert sum(map(len, typed)) > before_restart
            assert all(c.state != "connected" for c in clients)
            await asyncio.to_thread(server.start)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*typists)
            final = await converged(server, doc["id"], tokens["ann"], clients)
            assert all(c.reconnects >= 1 for c in clients)
        all_typed = [m for t in typed for m in t]
        acked = [m for m in all_typed if m in committed]
        assert len(acked) > 10 and len(all_typed) > len(acked) + 10
        assert_exactly_once(final["content"], all_typed)
    finally:
        server.stop()


class ChaosProxy:
    """A TCP proxy in front of the server that can cut, freeze or black-hole connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.cuts = 0
        self.mode = "forward"  # or "blackhole": accept, never forward
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.Server | None = None

    async def start(self) -> ChaosProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "blackhole":
            with contextlib.suppress(Exception):
                await reader.read()  # hold it open, say nothing
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        pair = (writer, up_writer)
        self.pairs.add(pair)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.pairs.discard(pair)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()

    def cut(self, rng: random.Random) -> None:
        if self.pairs:
            for writer in rng.choice(sorted(self.pairs, key=id)):
                writer.transport.abort()
            self.cuts += 1

    def cut_all(self) -> None:
        for pair in list(self.pairs):
            for writer in pair:
                writer.transport.abort()

    async def close(self) -> None:
        self.cut_all()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@contextlib.asynccontextmanager
async def chaos_proxy(live: LiveServer) -> AsyncIterator[ChaosProxy]:
    proxy = await ChaosProxy(live.port).start()
    try:
        yield proxy
    finally:
        proxy.flowing.set()
        await proxy.close()


@pytest.mark.slow
async def test_random_connection_cuts_while_three_clients_type(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="collab.client")
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "chaos", "", "editor")
    rng = random.Random(1234)
    async with chaos_proxy(live) as proxy:
        clients = [
            DocumentClient(proxy.http_url, doc["id"], token=tokens[n], backoff=FAST, **TIMEOUTS)
            for n in ("alice", "bob", "carol")
        ]
        typed: list[list[str]] = [[], [], []]
        stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as stack:
            for c in clients:
                await stack.enter_async_context(c)
            typists = [
                asyncio.create_task(type_markers(c, "xyz"[i], typed[i], stop, seed=10 + i))
                for i, c in enumerate(clients)
            ]
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:  # cut a random connection at a random moment
                await asyncio.sleep(rng.uniform(0.02, 0.35))
                proxy.cut(rng)
            stop.set()
            await asyncio.gather(*typists)
            final = await converged(live, doc["id"], tokens["alice"], clients)
            reconnects = [c.reconnects for c in clients]
        assert proxy.cuts >= 15 and sum(reconnects) >= 10, (proxy.cuts, reconnects)
        assert_exactly_once(final["content"], [m for t in typed for m in t])
        assert sum(map(len, typed)) > 150
    logged = [r.getMessage() for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert logged and all("/ws/documents/" in m and "token" not in m for m in logged)
    assert any("1006" in m or "cannot connect" in m for m in logged)


# -- stopping ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("when", ["backoff sleep", "hanging handshake", "frozen connection", "connected"])
async def test_stop_returns_within_a_second(live: LiveServer, when: str) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "stop", "", "editor")
    async with chaos_proxy(live) as proxy:
        slow = (
            Backoff(initial=0.05, maximum=0.05)
            if when == "hanging handshake"
            else Backoff(initial=30, maximum=30)
        )
        c = DocumentClient(proxy.http_url, doc["id"], token=tokens["alice"], backoff=slow)
        await c.start()
        await c.insert(0, "unsent?")
        if when == "backoff sleep":
            await proxy.close()  # refuse new connections, cut the open one
            await until(lambda: c.state == "reconnecting", 5, "reconnecting")
        elif when == "hanging handshake":
            proxy.mode = "blackhole"
            proxy.cut_all()
            await until(lambda: c.state == "connecting" and c.reconnects >= 1, 5, "a hanging reconnect")
            await asyncio.sleep(0.2)
        elif when == "frozen connection":
            proxy.flowing.clear()  # the peer never answers the close frame
        started = time.monotonic()
        await c.stop()
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"stop() took {elapsed:.2f} s during {when}"
        assert c.state == "closed"
        with pytest.raises(Exception, match="not running"):
            await c.insert(0, "x")


# -- command line ------------------------------------------------------------------------------------
async def run_cli(*args: str, token: str | None, stdin: bytes | None = None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "COLLAB_TOKEN"}
    if token:
        env["COLLAB_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collab.client", *args, cwd=ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(20):
        out, err = await proc.communicate(stdin)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_help_explains_each_command() -> None:
    code, out, _ = await run_cli("--help", token=None)
    assert code == 0 and "watch" in out and "append" in out and "COLLAB_TOKEN" in out
    code, out, _ = await run_cli("append", "--help", token=None)
    assert code == 0 and "--stdin" in out and "TEXT" in out
    code, _, err = await run_cli("append", "http://x", "d", token=None)
    assert code == 2 and "TEXT or --stdin" in err


async def test_cli_append_adds_lines_from_text_and_stdin(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "cli", "start", "none")

    async def append(*args: str, stdin: bytes | None = None) -> str:
        code, _, err = await run_cli("append", *args, token=tokens["alice"], stdin=stdin)
        assert code == 0, err
        return str((await server_doc(live, doc["id"], tokens["alice"]))["content"])

    # on a new line: the document does not end with one
    assert await append(live.http_url, doc["id"], "one more line") == "start\none more line"
    # each input line is a line of its own, the first one too
    assert (
        await append("--stdin", live.http_url, doc["id"], stdin=b"a\nb\n") == "start\none more line\na\nb\n"
    )
    # the document ends with a line break: nothing added before the text
    assert await append(live.http_url, doc["id"], "c") == "start\none more line\na\nb\nc"
    # --raw appends exactly the text
    assert await append("--raw", live.http_url, doc["id"], "!") == "start\none more line\na\nb\nc!"
    assert await append("--raw", "--stdin", live.http_url, doc["id"], stdin=b"?") == (
        "start\none more line\na\nb\nc!?"
    )
    empty = live.create_document(tokens["alice"], "empty", "", "none")
    code, _, err = await run_cli("append", live.http_url, empty["id"], "first", token=tokens["alice"])
    assert code == 0, err
    assert (await server_doc(live, empty["id"], tokens["alice"]))["content"] == "first"
    code, _, err = await run_cli("append", live.http_url, str(uuid.uuid4()), "x", token=tokens["alice"])
    assert code == 1 and "4404" in err and "No such document" in err


async def test_cli_watch_shows_live_text_people_and_state(live: LiveServer) -> None:
    tokens: dict[str, str] = live.tokens  # type: ignore[attr-defined]
    doc = live.create_document(tokens["alice"], "watched", "first", "editor")
    env = {**os.environ, "COLLAB_TOKEN": tokens["alice"]}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collab.client", "watch", live.http_url, doc["id"], cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    seen: list[str] = []

    async def read_until(needle: str) -> None:
        async with asyncio.timeout(10):
            while not any(needle in line for line in seen):
                line = await proc.stdout.readline()  # type: ignore[union-attr]
                assert line, f"watch exited; output so far: {seen}"
                seen.append(line.decode())

    try:
        await read_until("first")
        assert any(line.startswith("# connected") for line in seen)
        async with client(live, doc["id"], tokens["bob"]) as b:
            await read_until("bob")
            await b.insert(5, " and second")
            await read_until("first and second")
        assert any("# present: alice (you), bob" in line for line in seen)
    finally:
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(5):
            code = await proc.wait()
    assert code == 0


async def test_cli_watch_plain_says_connected_once_per_connection(tmp_path: Path) -> None:
    server = LiveServer(tmp_path).start()
    try:
        token = server.create_users("ann")["ann"]
        doc = server.create_document(token, "watched", "first", "none")
        env = {**os.environ, "COLLAB_TOKEN": token}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "collab.client", "watch", "--plain", server.http_url, doc["id"],
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        lines: list[str] = []

        async def read_for(seconds: float, until: Callable[[], bool] = lambda: False) -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    while not until():
                        line = await proc.stdout.readline()  # type: ignore[union-attr]
                        assert line, f"watch exited; output so far: {lines}"
                        lines.append(line.decode().rstrip("\n"))

        def connected() -> list[str]:
            return [line for line in lines if line.startswith("# connected")]

        try:
            await read_for(10, lambda: "first" in lines)
            await read_for(1.5)  # anything queued while connecting would show up now
            assert len(connected()) == 1, lines
            server.restart()
            await read_for(20, lambda: len(connected()) == 2)
            await read_for(1.5)
            assert len(connected()) == 2, lines
            between = lines[
                lines.index(connected()[0]) + 1 : len(lines) - lines[::-1].index(connected()[1]) - 1
            ]
            assert any(line.startswith("# reconnecting") for line in between), lines
        finally:
            proc.send_signal(signal.SIGINT)
            async with asyncio.timeout(5):
                assert await proc.wait() == 0
    finally:
        server.stop()
