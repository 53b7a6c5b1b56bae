"""Laws of collab.ot, on random texts (emoji, combining marks) and ops."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from collab.ot import (
    Op,
    OTClient,
    apply,
    compose,
    diff,
    invert,
    normalize,
    transform,
    transform_position,
)

from .strategies import (
    inserts,
    ops_for,
    random_op,
    text_and_op,
    text_and_two_ops,
    texts,
)


@given(text_and_two_ops())
def test_transform_converges(case: tuple[str, Op, Op]) -> None:
    text, a, b = case
    a2, b2 = transform(a, b)
    assert apply(apply(text, a), b2) == apply(apply(text, b), a2)
    assert normalize(a2) == a2 and normalize(b2) == b2


@given(texts, st.data(), inserts, inserts)
def test_first_committed_insert_goes_left(text: str, data: st.DataObject, x: str, y: str) -> None:
    pos = data.draw(st.integers(0, len(text)))
    a, b = insert_at(pos, x), insert_at(pos, y)
    a2, b2 = transform(a, b)
    expected = text[:pos] + x + y + text[pos:]
    assert apply(apply(text, a), b2) == expected == apply(apply(text, b), a2)


@given(text_and_op(), st.data())
def test_compose(case: tuple[str, Op], data: st.DataObject) -> None:
    text, a = case
    b = data.draw(ops_for(apply(text, a)))
    ab = compose(a, b)
    assert apply(text, ab) == apply(apply(text, a), b)
    assert normalize(ab) == ab


@given(text_and_op())
def test_normalize_is_idempotent_and_preserves_apply(case: tuple[str, Op]) -> None:
    text, op = case
    once = normalize(op)
    assert normalize(once) == once
    assert apply(text, once) == apply(text, op)


@given(text_and_op())
def test_invert(case: tuple[str, Op]) -> None:
    text, op = case
    inverse = invert(op, text)
    assert apply(apply(text, op), inverse) == text
    assert normalize(inverse) == inverse


@given(texts, texts)
def test_diff(old: str, new: str) -> None:
    op = diff(old, new)
    assert apply(old, op) == new
    assert normalize(op) == op
    assert sum(1 for c in op if not (isinstance(c, int) and c > 0)) <= 2


@given(text_and_op(), st.data(), st.booleans())
def test_transform_position_stays_in_range(case: tuple[str, Op], data: st.DataObject, own: bool) -> None:
    text, op = case
    pos = data.draw(st.integers(0, len(text)))
    new_pos = transform_position(pos, op, own=own)
    assert 0 <= new_pos <= len(apply(text, op))
    tail = normalize(op)[-1:]
    foreign_append = not own and bool(tail) and isinstance(tail[0], str)
    if pos == len(text) and not foreign_append:
        assert new_pos == len(apply(text, op))  # a cursor at the end stays there


@given(text_and_op(), st.data(), st.booleans())
def test_transform_position_matches_a_marker_insert(
    case: tuple[str, Op], data: st.DataObject, own: bool
) -> None:
    """A cursor moves like a one-character insert that loses ties to its own op only."""
    text, op = case
    pos = data.draw(st.integers(0, len(text)))
    marker = insert_at(pos, "\u2603")  # a snowman: not in the test alphabet
    # own: op is committed first, so its inserts go left of the marker
    op2 = transform(op, marker)[0] if own else transform(marker, op)[1]
    marked = apply(apply(text, marker), op2)
    assert marked.index("\u2603") == transform_position(pos, op, own=own)


def insert_at(pos: int, s: str) -> Op:
    return [pos, s] if pos else [s]


def simulate(seed: int, n_clients: int) -> None:
    """A server and clients exchanging random edits with random delivery order."""
    rng = random.Random(seed)
    server_text = rng.choice(["", "hello", "e\u0301😀 ab"])
    history: list[Op] = []
    clients = [OTClient(server_text, 0) for _ in range(n_clients)]
    # FIFO queues: (sender, (base version, op)) and ("ack" | "op", version, op)
    to_server: list[tuple[int, tuple[int, Op]]] = []
    to_client: list[list[tuple[str, int, Op]]] = [[] for _ in clients]

    def server_receive() -> None:
        nonlocal server_text
        sender, (base, op) = to_server.pop(0)
        for committed in history[base:]:
            op = transform(committed, op)[1]
        server_text = apply(server_text, op)
        history.append(op)
        for i, queue in enumerate(to_client):
            queue.append(("ack" if i == sender else "op", len(history), op))

    def client_receive(i: int) -> None:
        kind, version, op = to_client[i].pop(0)
        if kind == "ack":
            clients[i].ack(version)
        else:
            clients[i].remote(version, op)

    def send(i: int) -> None:
        outgoing = clients[i].take_outgoing()
        if outgoing is not None:
            to_server.append((i, outgoing))

    for _ in range(60):
        i = rng.randrange(n_clients)
        action = rng.random()
        if action < 0.35:
            clients[i].local(random_op(rng, clients[i].text))
        elif action < 0.55:
            send(i)
        elif action < 0.75 and to_server:
            server_receive()
        elif to_client[i]:
            client_receive(i)
    while to_server or any(to_client) or any(c.inflight or c.buffer for c in clients):
        if to_server:
            server_receive()
        for i in range(n_clients):
            while to_client[i]:
                client_receive(i)
            send(i)
    assert all(c.text == server_text and c.version == len(history) for c in clients)


@given(st.integers(0, 2**32), st.integers(2, 3))
def test_clients_converge(seed: int, n_clients: int) -> None:
    simulate(seed, n_clients)


@given(text_and_two_ops())
def test_rebase_is_the_server_half_of_transform(case: tuple[str, Op, Op]) -> None:
    from collab.ot import rebase

    text, a, b = case
    a, b = normalize(a), normalize(b)
    assert rebase(b, a) == transform(a, b)[1]
    assert apply(apply(text, a), rebase(b, a)) == apply(apply(text, b), transform(a, b)[0])
