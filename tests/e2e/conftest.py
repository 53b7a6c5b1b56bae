"""The browser fixtures: one chromium per test module, and a context per person in a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.pages import ARGS, CHROMIUM, WAIT, sync_playwright
from tests.support.services import IN_CI

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    problem = None
    if sync_playwright is None:
        problem = "the playwright package is not installed (pip install -r requirements-dev.txt)"
    elif not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing: run scripts/ensure-browser.sh (make test does)"
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; under CI=true the browser tests must run, not skip")
        pytest.skip(problem)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts (one per person); all closed after the test."""
    made: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        context = browser.new_context(viewport={"width": 1180, "height": 720}, **kwargs)
        context.set_default_timeout(WAIT)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
