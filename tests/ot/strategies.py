"""Random texts and valid ops on them, for hypothesis and seeded simulations."""

from __future__ import annotations

import random

from hypothesis import strategies as st

from collab.ot import Op

# Plain letters, an astral-plane emoji, a combining acute accent, a precomposed é,
# a ZWJ and a flag's two regional indicators: all positions count code points.
ALPHABET = ["a", "b", "c", " ", "😀", "\u0301", "é", "\u200d", "🇫", "🇷"]

texts = st.text(alphabet=st.sampled_from(ALPHABET), max_size=12)
inserts = st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=4)


@st.composite
def ops_for(draw: st.DrawFn, text: str) -> Op:
    """A valid, often unnormalized op on ``text`` (trailing retains included)."""
    op: Op = []
    pos = 0
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["retain", "insert", "delete"]))
        if kind == "insert":
            op.append(draw(inserts))
        elif pos < len(text):
            n = draw(st.integers(1, len(text) - pos))
            op.append(n if kind == "retain" else -n)
            pos += n
    return op


@st.composite
def text_and_op(draw: st.DrawFn) -> tuple[str, Op]:
    text = draw(texts)
    return text, draw(ops_for(text))


@st.composite
def text_and_two_ops(draw: st.DrawFn) -> tuple[str, Op, Op]:
    text = draw(texts)
    return text, draw(ops_for(text)), draw(ops_for(text))


def random_op(rng: random.Random, text: str) -> Op:
    """A small random valid op on ``text``, for simulations driven by a seeded RNG."""
    op: Op = []
    pos = 0
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["retain", "insert", "delete"])
        if kind == "insert":
            op.append("".join(rng.choices(ALPHABET, k=rng.randint(1, 3))))
        elif pos < len(text):
            n = (
                rng.randint(1, min(3, len(text) - pos))
                if kind == "delete"
                else rng.randint(1, len(text) - pos)
            )
            op.append(n if kind == "retain" else -n)
            pos += n
    return op
