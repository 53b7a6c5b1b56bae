"""The editor page's history panel in a real browser (docs/history.md, collab/static/collab/history.js).

Alice (the owner) types, names the version, types more, previews the named
version with its diff against now highlighted, and restores it; Bob, a viewer
in a second context, sees the restored text arrive live, and the list and
preview without a restore button or a naming form. Every step waits on a
condition of the page, never on time. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.e2e.pages import editors, expect, no_page_errors, screenshot, wait_synced
from tests.support.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.live]


def type_at_end(page: Page, text: str) -> None:
    page.focus("#text")
    page.keyboard.press("Control+End")
    page.keyboard.type(text)
    page.wait_for_function("t => document.querySelector('#text').value.endsWith(t)", arg=text)
    wait_synced(page)


def test_name_preview_with_diff_and_restore_a_version_seen_live_by_a_viewer(
    live: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    token = live.tokens["alice"]
    doc = live.create_document(token, "History panel", "Plan:\n", public_role="viewer")
    alice, bob = editors(contexts, live, doc["id"], "alice", "bob")

    type_at_end(alice, "buy milk")
    alice.click("#history summary")
    expect(alice.locator("#history-name")).to_be_visible()
    alice.fill("#history-name-input", "First draft")
    alice.click("#history-name button[type=submit]")
    first = alice.locator("#history-list li[data-automatic=false]")
    expect(first).to_have_count(1)
    expect(first).to_contain_text("First draft")
    expect(alice.locator("#history-status")).to_contain_text("First draft")

    type_at_end(alice, " and eggs")
    first.locator("button").click()
    expect(alice.locator("#history-preview")).to_be_visible()
    expect(alice.locator("#history-diff ins")).to_have_text([" and eggs"])
    expect(alice.locator("#history-diff del")).to_have_count(0)
    expect(alice.locator("#history-diff")).to_have_text("Plan:\nbuy milk and eggs")
    screenshot(alice, "history-preview.png")

    expect(bob.locator("#text")).to_have_value("Plan:\nbuy milk and eggs")
    alice.click("#history-restore")
    expect(alice.locator("#history-status")).to_contain_text("Restored version")
    expect(bob.locator("#text")).to_have_value("Plan:\nbuy milk")  # live, through the ordinary edit
    expect(alice.locator("#text")).to_have_value("Plan:\nbuy milk")
    wait_synced(alice)

    bob.click("#history summary")
    listed = bob.locator("#history-list li[data-automatic=false]")
    expect(listed).to_contain_text("First draft")
    expect(bob.locator("#history-name")).to_be_hidden()
    listed.locator("button").click()
    expect(bob.locator("#history-preview")).to_be_visible()
    expect(bob.locator("#history-diff")).to_have_text("Plan:\nbuy milk")
    expect(bob.locator("#history-restore")).to_be_hidden()
    screenshot(bob, "history-viewer.png")
    no_page_errors(alice, bob)
