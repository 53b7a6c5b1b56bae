"""Where PostgreSQL and Redis are, and whether they answer (skip outside CI, fail in CI)."""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432/test"


def answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 1):
            return True
    except OSError:
        return False


def skip_unless_ci(reason: str) -> None:
    """Skip with ``reason``, or fail under CI=true, where every test must run."""
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true this test must run, not skip")
    pytest.skip(reason)


def _missing(what: str, url: str) -> None:
    skip_unless_ci(f"{what} does not answer at {url} (start it, or set TEST_{what.upper()}_URL)")


def program_or_skip(name: str, reason: str) -> str:
    """The path of the program ``name``; skips (fails under CI) with ``reason`` when it is not installed."""
    path = shutil.which(name)
    if path is None:
        skip_unless_ci(reason)
    return str(path)


def redis_url_or_skip() -> str:
    if not answers(REDIS_URL, 6379):
        _missing("redis", REDIS_URL)
    return REDIS_URL


def postgres_url_or_skip() -> str:
    if not answers(POSTGRES_URL, 5432):
        _missing("postgres", POSTGRES_URL)
    return POSTGRES_URL
