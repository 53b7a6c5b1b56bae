"""Shared fixtures: users and API clients, service detection (PostgreSQL, Redis), live servers.

Services: a test that needs PostgreSQL or Redis skips with the reason when the
service does not answer, except under ``CI=true``, where it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from collab.realtime import hub
from collab.realtime.presence_store import registry as presence_registry
from collab.text import committer
from collab.yjs import room as yjs_rooms
from tests.support.live import LiveServer
from tests.support.publications import Publication, recording
from tests.support.services import postgres_url_or_skip, redis_url_or_skip

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# property tests judge results, not speed: on a loaded 2-core machine one example may take
# longer than hypothesis' 200 ms default deadline (speed is measured in bench/)
hypothesis_settings.register_profile(
    "collab", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
hypothesis_settings.load_profile("collab")
# no webhook worker thread in the test process (importing project.asgi would start one);
# live servers run theirs, tests/test_webhooks*.py drive the worker themselves
settings.COLLAB["WEBHOOKS_WORKER"] = "off"


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    cache.clear()  # the handshake caches: a rolled-back test leaves no signal to forget them
    presence_registry().clear()
    committer.reset()
    hub.reset()
    yjs_rooms.reset()
    yield
    presence_registry().clear()


@pytest.fixture
def published() -> Iterator[list[Publication]]:
    """Every ``ops_committed`` sent during the test (needs ``django_db(transaction=True)``)."""
    with recording() as seen:
        yield seen


def make_user(username: str, **extra: Any) -> User:
    return User.objects.create_user(username=username, password=f"{username}-pw", **extra)


@pytest.fixture
def alice(db: Any) -> User:
    return make_user("alice", first_name="Alice", last_name="Liddell")


@pytest.fixture
def bob(db: Any) -> User:
    return make_user("bob")


@pytest.fixture
def carol(db: Any) -> User:
    return make_user("carol")


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(alice: User) -> APIClient:
    return client_for(alice)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
def postgres_url() -> str:
    return postgres_url_or_skip()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A daphne process for the module, with users alice, bob, carol, dave (``live.tokens``)."""
    server = LiveServer(tmp_path_factory.mktemp("live")).start()
    server.create_users("alice", "bob", "carol", "dave")
    yield server
    server.stop()
