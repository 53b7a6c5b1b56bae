"""What the browser tests share: Debian's chromium through Playwright, and the steps on its pages.

Signing in (the site's login or the admin's), opening a document's page once it is synced (the
text editor or the rich-text one, over either provider), both at once (``editor_as``; for
several people, each in a context of their own: ``editors``), screenshots to ``artifacts/``::

    alice, bob = editors(contexts, live, doc["id"], "alice", "bob")
    bob = editor_as(contexts(), live, "bob", rich["id"], provider="hocuspocus")
    guest = editor_as(contexts(), live, None, doc["id"])  # someone anonymous

Chromium: ``/usr/bin/chromium`` (``scripts/ensure-browser.sh`` installs it; ``make test`` runs
that). Missing, or without the playwright package, the ``browser`` fixture (``conftest.py``)
skips with the reason, or fails under ``CI=true``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.live import ROOT, LiveServer

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - playwright is in requirements-dev.txt
    expect = sync_playwright = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"
WAIT = 15_000  # ms: the longest any single expectation may take

__all__ = [
    "ARGS",
    "ARTIFACTS",
    "CHROMIUM",
    "WAIT",
    "admin_sign_in",
    "create_from_list",
    "editor_as",
    "editors",
    "expect",
    "expect_only_yourself_offline",
    "no_page_errors",
    "open_editor",
    "open_yjs",
    "screenshot",
    "server_down",
    "sign_in",
    "wait_synced",
    "wait_yjs_synced",
    "watch",
]


def watch(page: Page) -> Page:
    """Fail loudly on uncaught page errors."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _log_in(page: Page, url: str, username: str, password: str, submit: str) -> None:
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click(submit)


def sign_in(context: BrowserContext, live: LiveServer, name: str) -> Page:
    """A new page in ``context``, signed in as ``name`` (password ``<name>-pw``), on the document list."""
    page = watch(context.new_page())
    _log_in(page, f"{live.http_url}/accounts/login/?next=/", name, f"{name}-pw", "#sign-in")
    page.wait_for_url(f"{live.http_url}/")
    return page


def admin_sign_in(page: Page, live: LiveServer, username: str, password: str) -> Page:
    """``page`` signed in to the admin, on its index."""
    _log_in(page, f"{live.http_url}/admin/login/?next=/admin/", username, password, "input[type=submit]")
    page.wait_for_url(f"{live.http_url}/admin/")
    return page


def open_editor(page: Page, live: LiveServer, doc_id: str) -> Page:
    """``page`` on a text document's editor, synced."""
    page.goto(f"{live.http_url}/documents/{doc_id}/")
    wait_synced(page)
    return page


def open_yjs(page: Page, live: LiveServer, doc_id: str, provider: str = "y-websocket") -> Page:
    """``page`` on a yjs document's rich-text page over ``provider`` (y-websocket or hocuspocus), synced."""
    query = "?provider=hocuspocus" if provider == "hocuspocus" else ""
    page.goto(f"{live.http_url}/documents/{doc_id}/{query}")
    wait_yjs_synced(page)
    return page


def editor_as(
    context: BrowserContext, live: LiveServer, name: str | None, doc_id: str, *, provider: str | None = None
) -> Page:
    """``name`` (None: someone anonymous) in ``context`` on a document's page, synced: the text editor,
    or with ``provider`` the rich-text page."""
    page = sign_in(context, live, name) if name else watch(context.new_page())
    return open_editor(page, live, doc_id) if provider is None else open_yjs(page, live, doc_id, provider)


def editors(
    contexts: Callable[..., BrowserContext], live: LiveServer, doc_id: str, *names: str | None
) -> list[Page]:
    """``editor_as`` for each of ``names``, each in a new context from ``contexts``: the text editor."""
    return [editor_as(contexts(), live, name, doc_id) for name in names]


def wait_synced(page: Page) -> None:
    """Connected, nothing unacknowledged, and the textarea shows the client's text."""
    page.wait_for_function(
        "() => window.collab && window.collab.state === 'connected' && !window.collab.pending"
        " && document.querySelector('#text').value === window.collab.text",
        timeout=WAIT,
    )


def wait_yjs_synced(page: Page) -> None:
    """The rich-text page connected and synced with the server."""
    page.wait_for_function(
        "() => window.collab && window.collab.synced && window.collab.state === 'connected'"
    )


def create_from_list(page: Page, live: LiveServer, title: str, public_role: str, kind: str = "") -> str:
    """On the document list: create a document with the form (which opens it); its id."""
    page.fill("#new-title", title)
    if kind:
        page.select_option("#new-kind", kind)
    page.select_option("#new-public-role", public_role)
    page.click("#new-document button")
    page.wait_for_url(re.compile(r"/documents/[0-9a-f-]{36}/$"))
    return page.url.rstrip("/").rsplit("/", 1)[1]


def expect_only_yourself_offline(page: Page, name: str) -> None:
    """While disconnected, "Here now" lists only yourself, marked offline (issue 15)."""
    people = page.locator("#presence > li")
    expect(people).to_have_count(1)
    expect(page.locator("#presence-count")).to_have_text("1")
    expect(people.first).to_have_attribute("data-self", "true")
    expect(people.first).to_have_attribute("data-status", "offline")
    expect(people.first.locator(".name")).to_have_text(name)
    expect(people.first.locator(".you")).to_have_text("you")
    expect(people.first.locator(".pill")).to_have_text("offline")


@contextmanager
def server_down(live: LiveServer) -> Iterator[None]:
    """The server killed (SIGKILL) for the block, started again after it."""
    live.kill()
    try:
        yield
    finally:
        live.start()


def no_page_errors(*pages: Page) -> None:
    for page in pages:
        assert page.errors == [], page.errors  # type: ignore[attr-defined]


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path
