"""``python -m collab.client``: watch a document live, or type into it, from a terminal.

    python -m collab.client watch http://localhost:8000 <document-id>
    python -m collab.client append http://localhost:8000 <document-id> "one more line"
    tail -f build.log | python -m collab.client append --stdin http://localhost:8000 <document-id>

``append`` adds lines: each starts on a line of its own (``--raw`` appends as is).

The token comes from ``--token`` or the ``COLLAB_TOKEN`` environment variable.
Exit status: 0 done, 1 the client gave up or timed out, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from .backoff import Backoff
from .document import DocumentClient
from .errors import CollabClientError
from .events import Participant, PresenceChanged, RemoteEdit, StateChanged

__all__ = ["as_line", "main", "parser"]

DESCRIPTION = """\
Watch or type into a collab document from the command line. The client
reconnects by itself (with exponential backoff) when the connection drops, and
never loses or doubles an edit: what you typed while disconnected is sent when
it is back.
"""
EPILOG = """\
URL is the server's address, e.g. http://localhost:8000 (ws:// and wss:// work
too); DOC is the document's id (a UUID, as in /api/documents/<id>/).

authentication:
  --token TOKEN or the COLLAB_TOKEN environment variable: an API token
  (POST /api/auth/token/ with your username and password returns one).
  Prefer COLLAB_TOKEN: a --token argument is visible to other local users.
  Without a token you are anonymous (public documents only).

examples:
  export COLLAB_TOKEN=...
  python -m collab.client watch http://localhost:8000 0b6f...e1
  python -m collab.client append http://localhost:8000 0b6f...e1 "Meeting notes"
  make test 2>&1 | python -m collab.client append --stdin http://localhost:8000 0b6f...e1

exit status: 0 done, 1 the client gave up (e.g. 4404 no such document) or
timed out, 2 bad usage.
"""


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--token", help="API token (default: the COLLAB_TOKEN environment variable)")
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log more (INFO); reconnects are logged anyway, except on a watch screen",
    )
    common.add_argument("url", metavar="URL", help="server address, e.g. http://localhost:8000")
    common.add_argument("document", metavar="DOC", help="document id")
    top = argparse.ArgumentParser(
        prog="python -m collab.client",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    watch = commands.add_parser(
        "watch",
        parents=[common],
        help="show the live text, who is there and the connection state",
        description="Show the document's live text, who is there (with their cursors) and the "
        "connection state, redrawn in place as it changes. Stop with Ctrl-C. When the output "
        "is not a terminal (or with --plain), print the text after each change instead.",
    )
    watch.add_argument("--plain", action="store_true", help="print changes line by line, no redraw")
    append = commands.add_parser(
        "append",
        parents=[common],
        help="add TEXT, or standard input as it arrives (--stdin), as lines at the end",
        description="Add TEXT as a line at the end of the document, wait until the server has it, "
        "exit. It starts on a new line unless the document is empty or already ends with a line "
        "break; TEXT's own line breaks are kept as they are. With --stdin, add standard input "
        "line by line as it arrives (typing into the document) until end of input, each line the "
        "same way. With --raw, append exactly TEXT (or the input) at the end, no line break added.",
    )
    append.add_argument("text", metavar="TEXT", nargs="?", help="the text to add")
    append.add_argument("--stdin", action="store_true", help="read the lines from standard input")
    append.add_argument("--raw", action="store_true", help="append exactly as given: no line break before it")
    append.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the server (default 30)"
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "append" and (args.text is None) == (not args.stdin):
        parser().error("append needs TEXT or --stdin (one of them)")
    token = args.token or os.environ.get("COLLAB_TOKEN") or None
    tty = args.command == "watch" and not args.plain and sys.stdout.isatty()
    level = logging.INFO if args.verbose else (logging.ERROR if tty else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    client = DocumentClient(args.url, args.document, token=token, backoff=Backoff(initial=0.5, maximum=10))
    try:
        if args.command == "watch":
            return asyncio.run(_watch(client, tty=tty))
        return asyncio.run(_append(client, args.text, stdin=args.stdin, raw=args.raw, timeout=args.timeout))
    except KeyboardInterrupt:
        return 0
    except (CollabClientError, TimeoutError, ValueError) as exc:
        print(f"collab: {exc}", file=sys.stderr)
        return 1


# -- append ------------------------------------------------------------------------
def as_line(document: str, text: str) -> str:
    """``text`` as ``append`` adds it to ``document``: on a new line unless there already is one.

    >>> as_line("first", "second"), as_line("first\\n", "second"), as_line("", "first")
    ('\\nsecond', 'second', 'first')
    """
    return text if not document or document.endswith("\n") else "\n" + text


async def _append(client: DocumentClient, text: str | None, *, stdin: bool, raw: bool, timeout: float) -> int:
    async def add(piece: str) -> None:
        await client.insert(len(client.text), piece if raw else as_line(client.text, piece))

    await client.start(timeout=timeout)
    try:
        if text is not None:
            await add(text)
        else:
            async for line in _LineIterator(sys.stdin):
                await add(line)
        await client.close(timeout=timeout)
    finally:
        await client.stop()
    return 0


class _LineIterator:
    """Lines of a blocking stream, read by a daemon thread (so exiting never waits on it)."""

    def __init__(self, stream: TextIO) -> None:
        loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            for line in stream:
                loop.call_soon_threadsafe(self.queue.put_nowait, line)
            loop.call_soon_threadsafe(self.queue.put_nowait, None)

        threading.Thread(target=read, name="collab-stdin", daemon=True).start()

    def __aiter__(self) -> _LineIterator:
        return self

    async def __anext__(self) -> str:
        line = await self.queue.get()
        if line is None:
            raise StopAsyncIteration
        return line


# -- watch ---------------------------------------------------------------------------
async def _watch(client: DocumentClient, *, tty: bool) -> int:
    await client.start()
    # subscribed after start: the first draw shows the state and text start() reached, and the
    # events queued on the way there (connecting, connected) would only repeat it
    events = client.events()
    state = [client.state, ""]
    render = _Screen(client) if tty else _Plain(client)
    render.draw(*state)
    try:
        while True:
            try:
                event = await asyncio.wait_for(anext(events), 0.05 if render.pending else None)
            except StopAsyncIteration:
                break
            except TimeoutError:
                event = None
            if isinstance(event, StateChanged):
                state[0] = event.state
                state[1] = "" if event.state == "connected" else event.reason
                if event.delay is not None:
                    state[1] = f"in {event.delay:.1f} s: {event.reason}"
            if event is not None:
                render.changed(event)
            if render.due():
                render.draw(*state)
    finally:
        render.done()
        with contextlib.suppress(Exception):
            await client.stop()
    if client.error is not None:
        raise client.error
    return 0


def _who(people: list[Participant]) -> str:
    parts = []
    for p in people:
        where = "" if p.cursor is None else f" @{p.cursor[1]}"
        you = " (you)" if p.is_self else ""
        idle = " idle" if p.status != "active" else ""
        parts.append(f"{p.name}{you}{where}{idle}")
    return ", ".join(parts) or "nobody"


class _Plain:
    """Line by line: a line per state or presence change, the text after each edit."""

    def __init__(self, client: DocumentClient) -> None:
        self.client = client
        self.pending: set[str] = set()

    def changed(self, event: object) -> None:
        if isinstance(event, StateChanged):
            self.pending.add("state")
        elif isinstance(event, PresenceChanged):
            self.pending.add("people")
        elif isinstance(event, RemoteEdit):
            self.pending.add("text")

    def due(self) -> bool:
        return bool(self.pending)

    def draw(self, state: str, reason: str) -> None:
        c = self.client
        if "state" in self.pending or not self.pending:
            print(f"# {state}{' ' + reason if reason else ''}", flush=True)
        if "people" in self.pending or not self.pending:
            print(f"# present: {_who(c.participants)}", flush=True)
        if "text" in self.pending or not self.pending:
            print(f"--- version {c.version} ---\n{c.text}", flush=True)
        self.pending.clear()

    def done(self) -> None:
        return None


class _Screen(_Plain):
    """Redrawn in place on a terminal (at most 20 times a second)."""

    def __init__(self, client: DocumentClient) -> None:
        super().__init__(client)
        self.drawn_at = 0.0
        sys.stdout.write("\x1b[?1049h")  # alternate screen, restored on exit

    def due(self) -> bool:
        return bool(self.pending) and asyncio.get_running_loop().time() - self.drawn_at >= 0.05

    def draw(self, state: str, reason: str) -> None:
        c = self.client
        cols, rows = shutil.get_terminal_size((80, 24))
        head = [
            f"{c.title or c.document_id}  v{c.version}  [{state}{': ' + reason if reason else ''}]"[:cols],
            f"present: {_who(c.participants)}"[:cols],
            "─" * cols,
        ]
        body = c.text.splitlines() or [""]
        room = max(rows - len(head) - 1, 1)
        if len(body) > room:
            body = [*body[: room - 1], f"… {len(body) - room + 1} more lines"]
        sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(head + [line[:cols] for line in body]))
        sys.stdout.flush()
        self.drawn_at = asyncio.get_running_loop().time()
        self.pending.clear()

    def done(self) -> None:
        sys.stdout.write("\x1b[?1049l")
        sys.stdout.flush()
