"""Presence colours are unique per room while free colours remain (issue 15).

The rule (``collab.realtime.presence_store``): the colour the user already has in the
room, else the user's hashed colour if free, else the first free one. Proven on both
stores by a property test over any join/leave sequence, across two Redis stores (two
processes) joining at once, and end to end on a text room and the REST presence list.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collab.realtime.presence_store import LocalPresence, PresenceRegistry, RedisPresence, choose_color
from collab.users import PALETTE, color_for
from tests.test_consumers import join, new_doc
from tests.test_presence import rest_presence

DOC = "doc-colors"
SAME = PALETTE[3]  # every test user hashes here: the worst case for uniqueness


def entry(session: str, user_id: int | None, color: str = SAME) -> dict[str, Any]:
    return {
        "session": session, "user": {"id": user_id, "name": f"u{user_id}", "color": color},
        "role": "editor", "status": "active", "meta": {}, "cursor": None, "joined_at": session,
    }  # fmt: skip


def test_choose_color_rule() -> None:
    assert choose_color(SAME, 1, []) == SAME  # free: the user's own hashed colour
    assert choose_color(SAME, 2, [(1, SAME)]) == PALETTE[0]  # taken: the first free one
    assert choose_color(SAME, 2, [(1, SAME), (3, PALETTE[0])]) == PALETTE[1]
    assert choose_color(SAME, 1, [(1, PALETTE[5])]) == PALETTE[5]  # a second tab shares its colour
    assert choose_color(SAME, None, [(None, SAME)]) == PALETTE[0]  # guests are never "the same user"
    full = [(i, c) for i, c in enumerate(PALETTE)]
    assert choose_color(SAME, 99, full) == SAME  # none free: the hashed colour


def colors_by_user(reg: PresenceRegistry, doc: str) -> dict[Any, set[str]]:
    by_user: dict[Any, set[str]] = {}
    for e in reg.entries(doc):
        key = e["user"]["id"] if e["user"]["id"] is not None else e["session"]
        by_user.setdefault(key, set()).add(e["user"]["color"])
    assert all(len(colors) == 1 for colors in by_user.values()), by_user  # one colour per user
    return by_user


# (join, user id or None for a guest) or (leave, index into the live sessions)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.one_of(st.none(), st.integers(1, 14))),
        st.tuples(st.just("leave"), st.integers(0, 30)),
    ),
    max_size=40,
)


def run_steps(reg: PresenceRegistry, doc: str, sequence: list[tuple[str, Any]]) -> None:
    """Each join takes a colour no other user in the room has while one is free; so while the
    room has not held more users than colours (since it was last empty), all colours differ."""
    live: list[str] = []
    overflowed = False
    for n, (op, arg) in enumerate(sequence):
        if op == "join":
            before = colors_by_user(reg, doc)
            session = f"s{n:03d}"
            preferred = color_for(f"user:{arg}") if arg is not None else SAME
            color = reg.join(doc, entry(session, arg, preferred))["user"]["color"]
            assert color in PALETTE
            if arg is not None and arg in before:
                assert {color} == before[arg]  # a second connection shares its user's colour
            elif len({c for cs in before.values() for c in cs}) < len(PALETTE):
                assert all(color not in cs for cs in before.values()), (color, before)
            live.append(session)
        elif live:
            assert reg.leave(doc, live.pop(arg % len(live))) is True
        by_user = colors_by_user(reg, doc)
        overflowed = bool(live) and (overflowed or len(by_user) > len(PALETTE))
        if not overflowed:
            assert len({next(iter(c)) for c in by_user.values()}) == len(by_user), by_user


@settings(max_examples=200, deadline=None)
@given(steps)
def test_any_join_leave_sequence_keeps_colours_unique_in_memory(sequence: list[tuple[str, Any]]) -> None:
    run_steps(LocalPresence(ttl=30), DOC, sequence)


@pytest.mark.redis
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_any_join_leave_sequence_keeps_colours_unique_on_redis(
    redis_url: str, sequence: list[tuple[str, Any]]
) -> None:
    reg = RedisPresence(redis_url, ttl=30, prefix=f"test-{uuid.uuid4().hex[:8]}")
    try:
        run_steps(reg, DOC, sequence)
    finally:
        reg.clear()


def colors_of(reg: PresenceRegistry) -> list[dict[str, Any]]:
    return [{"session": e["session"], "user": e["user"]} for e in reg.entries(DOC)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.redis
def test_two_redis_stores_joining_at_once_pick_distinct_colours(redis_url: str) -> None:
    """Two processes sharing Redis, racing: the choice and the write are one atomic step."""
    clock = Clock()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    stores = [RedisPresence(redis_url, ttl=30, clock=clock, prefix=prefix) for _ in range(2)]
    start = threading.Barrier(2)

    def joiner(k: int) -> None:
        start.wait()
        for i in range(5):  # users 1..10, all hashing to the same colour
            stores[k].join(DOC, entry(f"s{k}{i}", 1 + k * 5 + i))

    try:
        threads = [threading.Thread(target=joiner, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        colors = [e["user"]["color"] for e in stores[1].entries(DOC)]
        assert sorted(colors) == sorted(PALETTE)  # ten users, ten colours
        # a colour is free again once its holder leaves...
        freed = next(e["user"]["color"] for e in colors_of(stores[0]) if e["session"] == "s00")
        stores[0].leave(DOC, "s00")
        assert stores[1].join(DOC, entry("late", 42))["user"]["color"] == freed
        clock.now += 31  # ...or its lease runs out (not yet swept: already free)
        assert stores[1].join(DOC, entry("after", 43))["user"]["color"] == SAME
    finally:
        stores[0].clear()


def colliding_users() -> tuple[User, User]:
    """Two users whose hashed colours collide (pigeonhole: eleven users, ten colours)."""
    seen: dict[str, User] = {}
    for i in range(len(PALETTE) + 1):
        user = User.objects.create_user(f"c{i}-{uuid.uuid4().hex[:6]}", password="pw")
        color = color_for(f"user:{user.pk}")
        if color in seen:
            return seen[color], user
        seen[color] = user
    raise AssertionError("unreachable")


@pytest.mark.django_db(transaction=True)
async def test_users_whose_hashed_colours_collide_get_different_colours() -> None:
    first, second = await database_sync_to_async(colliding_users)()
    doc = await new_doc(first, public_role="editor")
    a = await join(doc.pk, first)
    b = await join(doc.pk, second)
    a2 = await join(doc.pk, first)  # a second tab keeps the user's colour
    ca, cb = a.hello["payload"]["user"]["color"], b.hello["payload"]["user"]["color"]
    assert ca == color_for(f"user:{first.pk}") and cb != ca and cb in PALETTE
    assert a2.hello["payload"]["user"]["color"] == ca
    joined = (await a.recv_type("presence"))["payload"]["joined"][0]
    assert joined["user"]["color"] == cb  # what the others see is what the joiner was told
    rest = await database_sync_to_async(rest_presence)(doc.pk, first)
    assert {e["session"]: e["user"]["color"] for e in rest} == {
        a.hello["payload"]["session"]: ca,
        b.hello["payload"]["session"]: cb,
        a2.hello["payload"]["session"]: ca,
    }
    for client in (a, b, a2):
        await client.close()
