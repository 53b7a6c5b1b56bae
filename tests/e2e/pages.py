"""What the browser tests share: Debian's chromium through Playwright, and helpers on its pages.

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
    "expect",
    "expect_only_yourself_offline",
    "no_page_errors",
    "open_editor",
    "screenshot",
    "server_down",
    "sign_in",
    "wait_synced",
    "watch",
]


def watch(page: Page) -> Page:
    """Fail loudly on uncaught page errors."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def sign_in(context: BrowserContext, live: LiveServer, name: str) -> Page:
    page = watch(context.new_page())
    page.goto(f"{live.http_url}/accounts/login/?next=/")
    page.fill("#id_username", name)
    page.fill("#id_password", f"{name}-pw")
    page.click("#sign-in")
    page.wait_for_url(f"{live.http_url}/")
    return page


def open_editor(page: Page, live: LiveServer, doc_id: str) -> Page:
    page.goto(f"{live.http_url}/documents/{doc_id}/")
    wait_synced(page)
    return page


def wait_synced(page: Page) -> None:
    """Connected, nothing unacknowledged, and the textarea shows the client's text."""
    page.wait_for_function(
        "() => window.collab && window.collab.state === 'connected' && !window.collab.pending"
        " && document.querySelector('#text').value === window.collab.text",
        timeout=WAIT,
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
