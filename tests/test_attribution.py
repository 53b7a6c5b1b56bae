"""Attribution runs, diff spans and text diffs, property-tested against per-character models (no database)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collab import attribution
from collab.attribution import WINDOW, Attribution, blame, spans
from collab.ot import Op, apply, compose, normalize
from collab.textdiff import text_op, unified


@st.composite
def op_on(draw: st.DrawFn, length: int) -> Op:
    """A valid op on a text of ``length`` code points."""
    parts: list[Any] = []
    pos = 0
    while pos < length and draw(st.booleans()):
        keep = draw(st.integers(0, length - pos))
        parts.append(keep)
        pos += keep
        if draw(st.booleans()):
            parts.append(draw(st.text(alphabet="xyé😀\n", min_size=1, max_size=4)))
        else:
            cut = draw(st.integers(0, length - pos))
            parts.append(-cut)
            pos += cut
    if draw(st.booleans()):
        parts.append(draw(st.text(alphabet="qz", min_size=1, max_size=3)))
    return normalize(parts)


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, list[tuple[int, Op, int | None]]]:
    text = draw(st.text(alphabet="abc\n", max_size=8))
    ops = []
    length = len(text)
    for version in range(1, draw(st.integers(1, 25)) + 1):
        op = draw(op_on(length))
        user = draw(st.sampled_from([1, 2, None]))
        ops.append((version, op, user))
        length = len(apply("?" * length, op))
    return text, ops


def per_character(text: str, ops: list[tuple[int, Op, int | None]]) -> list[tuple[int, int | None]]:
    """The obvious model: (version, user) of every code point."""
    chars = [(0, None)] * len(text)
    for version, op, user in ops:
        out: list[tuple[int, int | None]] = []
        pos = 0
        for c in op:
            if isinstance(c, str):
                out += [(version, user)] * len(c)
            elif c > 0:
                out += chars[pos : pos + c]
                pos += c
            else:
                pos -= c
        chars = out + chars[pos:]
    return chars


@settings(max_examples=120, deadline=None)
@given(histories(), st.sampled_from([1, 2, 32]))
def test_runs_say_who_wrote_every_code_point(history: Any, block: int) -> None:
    text, ops = history
    saved = attribution.BLOCK
    attribution.BLOCK = block  # small blocks exercise block splits and joins
    try:
        authors = Attribution.of_text(text).replay(ops)
    finally:
        attribution.BLOCK = saved
    model = per_character(text, ops)
    flat = [(first, last, user) for length, first, last, user in authors.runs for _ in range(length)]
    assert len(flat) == len(model) == authors.length
    for (first, last, user), (version, who) in zip(flat, model, strict=True):
        assert user == who and first <= version <= last and last - first < WINDOW


@settings(max_examples=120, deadline=None)
@given(histories())
def test_spans_rebuild_both_texts_and_name_the_authors_of_inserted_text(history: Any) -> None:
    text, ops = history
    final = text
    for _, op, _ in ops:
        final = apply(final, op)
    composed: Op = []
    for _, op, _ in ops:
        composed = compose(composed, op)
    authors = Attribution.of_text(text).replay(ops)
    out = spans(text, composed, final, authors.runs)
    assert "".join(s.text for s in out if s.kind != "inserted") == text
    assert "".join(s.text for s in out if s.kind != "deleted") == final
    model = per_character(text, ops)
    pos = 0
    for span in out:
        if span.kind == "deleted":
            continue
        for version, user in model[pos : pos + len(span.text)]:
            if span.kind == "inserted":
                assert span.user == user and span.first is not None and span.last is not None
                assert span.first <= version <= span.last
        pos += len(span.text)
    # blame is the attribution cut into spans
    assert "".join(s.text for s in blame(final, authors.runs)) == final


def test_one_typist_stays_a_few_runs_and_turns_take_their_own_runs() -> None:
    authors = Attribution.of_text("")
    for version in range(1, 251):
        authors.apply(normalize([version - 1, "x"]), version, 7)
    assert [r[0] for r in authors.runs] == [100, 100, 50]  # a run spans fewer than WINDOW versions
    authors.apply([10, "BOB"], 251, 8)
    assert [(r[0], r[3]) for r in authors.runs][:3] == [(10, 7), (3, 8), (90, 7)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab\n😀", max_size=30), st.text(alphabet="ab\n😀", max_size=30))
def test_text_op_turns_one_text_into_the_other(old: str, new: str) -> None:
    op = text_op(old, new)
    assert apply(old, op) == new
    assert op == normalize(op)


def test_text_op_keeps_separate_changes_separate() -> None:
    old = "one\ntwo\nthree\nfour\n"
    new = "ONE\ntwo\nthree\nfour!\n"
    op = text_op(old, new)
    kept = sum(c for c in op if isinstance(c, int) and c > 0)
    assert kept >= len("\ntwo\nthree\nfour"), op  # not one block from the first change to the last


def test_unified_diff_reads_like_diff_u() -> None:
    text = unified("a\nb\nc\n", "a\nB\nc", "version 1", "version 2")
    assert text.splitlines() == [
        "--- version 1",
        "+++ version 2",
        "@@ -1,3 +1,3 @@",
        " a",
        "-b",
        "-c",
        "+B",
        "+c",
        "\\ No newline at end of file",
    ]
    assert unified("same", "same", "a", "b") == ""
