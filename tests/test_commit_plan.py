"""The commit decision (``collab.commit_plan``) on random histories and edit groups, without a database.

Each case is drawn against a running model of the document (its text at every
version, the ops, the committed (client_id, seq)), so edits can be based on
any version, including ones made earlier in the same group, and a drawn op is
valid at its base unless the case means it to be wrong::

    checked = prepare([Edit(0, [3, "!"])])
    plan(Head("abc", 0), checked, history={}, committed={}, max_chars=10).head  # Head("abc!", 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from collab.commit_plan import (
    Checked,
    Decision,
    Fresh,
    Head,
    Key,
    Plan,
    Resend,
    key_of,
    oldest_base,
    plan,
    prepare,
)
from collab.exceptions import CollabError, DocumentTooLarge, InvalidOp, VersionAhead
from collab.ot import Op, apply, base_length, normalize, transform
from tests.ot.strategies import ops_for, texts
from tests.ot.test_purity import ROOT, find_impurities

MAX_CHARS = 16


@dataclass(frozen=True)
class Edit:
    version: int
    op: Any
    client_id: str = ""
    seq: int | None = None


@dataclass
class Document:
    """The model: text at every version, the op of every version, committed keys."""

    texts: list[str]
    ops: dict[int, Op] = field(default_factory=dict)
    committed: dict[Key, int] = field(default_factory=dict)

    def copy(self) -> Document:
        return Document(list(self.texts), dict(self.ops), dict(self.committed))

    @property
    def head(self) -> Head:
        return Head(self.texts[-1], len(self.texts) - 1)

    def plan(self, edits: list[Edit], *, max_chars: int = MAX_CHARS, every: int = 0) -> Plan:
        """The plan for ``edits``, given only the history it asks for."""
        checked = prepare(edits)
        since = oldest_base(checked, self.head.version)
        history = {v: op for v, op in self.ops.items() if v > since}
        return plan(
            self.head,
            checked,
            history=history,
            committed=self.committed,
            max_chars=max_chars,
            snapshot_every=every,
        )

    def take(self, edits: list[Edit], decided: Plan) -> None:
        """Persist what ``decided`` says, as the database would."""
        for index, fresh in decided.fresh:
            assert fresh.version == len(self.texts)
            self.texts.append(apply(self.texts[-1], fresh.op))
            self.ops[fresh.version] = fresh.op
            if (key := key_of(edits[index])) is not None:
                self.committed[key] = fresh.version


KINDS = ["valid"] * 8 + ["resend", "ahead", "negative", "malformed", "past_end", "grows"]


@st.composite
def documents(draw: st.DrawFn) -> Document:
    """A document with a short random history and some (client_id, seq) already committed."""
    doc = Document([draw(texts)])
    for _ in range(draw(st.integers(0, 4))):
        op = normalize(draw(ops_for(doc.texts[-1])))
        doc.take([Edit(len(doc.texts) - 1, op)], _fresh_plan(doc, op))
    for seq in range(1, draw(st.integers(0, len(doc.texts) - 1)) + 1):
        doc.committed[("old", seq)] = seq
    return doc


def _fresh_plan(doc: Document, op: Op) -> Plan:
    return doc.plan([Edit(doc.head.version, op)], max_chars=10**6)


def draw_edit(draw: st.DrawFn, doc: Document, kind: str) -> Edit:
    """One edit of ``kind`` against the model as it is now."""
    client_id = draw(st.sampled_from(["", "a", "b"]))
    seq = draw(st.sampled_from([None, 1, 2, 3])) if client_id else None
    if kind == "resend" and doc.committed:
        client_id, seq = draw(st.sampled_from(sorted(doc.committed)))
    base = draw(st.integers(0, doc.head.version))
    op: Any = draw(ops_for(doc.texts[base]))
    if kind == "ahead":
        base = doc.head.version + draw(st.integers(1, 3))
    elif kind == "negative":
        base = -draw(st.integers(1, 3))
    elif kind == "malformed":
        op = draw(st.sampled_from([[1.5], [True], "abc", [None], ["\udc00"], [{"x": 1}]]))
    elif kind == "past_end":
        op = [*op, len(doc.texts[base]) - base_length(op) + draw(st.integers(1, 3))]
    elif kind == "grows":
        op = [*op, "x" * draw(st.integers(1, MAX_CHARS))]
    return Edit(base, op, client_id, seq)


@st.composite
def groups(draw: st.DrawFn) -> tuple[Document, list[Edit], list[Plan]]:
    """A document, a group of edits, and the plan of each edit committed on its own, in order.

    Edits are drawn one at a time against the document as the earlier ones left
    it, so later edits can be based on versions the group itself makes.
    """
    doc = draw(documents())
    start = doc.copy()
    edits: list[Edit] = []
    singles: list[Plan] = []
    for _ in range(draw(st.integers(1, 8))):
        edit = draw_edit(draw, doc, draw(st.sampled_from(KINDS)))
        single = doc.plan([edit])
        doc.take([edit], single)
        edits.append(edit)
        singles.append(single)
    return start, edits, singles


def same(a: Decision, b: Decision) -> bool:
    """Equal decisions (errors are equal by class, message and ref)."""
    if isinstance(a, CollabError) or isinstance(b, CollabError):
        return type(a) is type(b) and (a.message, a.ref) == (b.message, b.ref)  # type: ignore[union-attr]
    return a == b


@given(groups())
def test_a_group_decides_exactly_as_committing_each_edit_alone(case: Any) -> None:
    doc, edits, singles = case
    decided = doc.plan(edits)
    assert len(decided.decisions) == len(edits)
    for together, (alone,) in zip(decided.decisions, (s.decisions for s in singles), strict=True):
        assert same(together, alone)
    assert decided.head == (singles[-1].head if singles else doc.head)


@given(groups())
def test_versions_are_gapless_and_the_ops_replay_to_the_text(case: Any) -> None:
    doc, edits, _ = case
    decided = doc.plan(edits)
    versions = [fresh.version for _, fresh in decided.fresh]
    assert versions == list(range(doc.head.version + 1, decided.head.version + 1))
    text = doc.head.text
    for _, fresh in decided.fresh:
        assert normalize(fresh.op) == fresh.op
        text = apply(text, fresh.op)
    assert text == decided.head.text


@given(groups())
def test_every_client_converges_on_the_committed_text(case: Any) -> None:
    """The author of an edit made at version b applies its op at once, then the others' ops
    transformed past it (as the client state machine does): it ends on the server's text."""
    doc, edits, _ = case
    decided = doc.plan(edits)
    after = doc.copy()
    after.take(edits, decided)
    for index, fresh in decided.fresh:
        edit = edits[index]
        mine = normalize(edit.op)
        text = apply(after.texts[edit.version], mine)
        for v in range(edit.version + 1, fresh.version):
            theirs, mine = transform(after.ops[v], mine)
            text = apply(text, theirs)
        assert text == after.texts[fresh.version]


@given(groups())
def test_committing_the_same_edits_again_commits_nothing(case: Any) -> None:
    doc, edits, _ = case
    decided = doc.plan(edits)
    after = doc.copy()
    after.take(edits, decided)
    keyed = [
        (edit, d)
        for edit, d in zip(edits, decided.decisions, strict=True)
        if key_of(edit) is not None and isinstance(d, Fresh | Resend)
    ]
    again = after.plan([edit for edit, _ in keyed])
    assert again.decisions == tuple(Resend(d.version) for _, d in keyed)
    assert again.head == after.head and again.fresh == [] and again.snapshots == ()


@given(groups())
def test_an_edit_that_fails_changes_nothing(case: Any) -> None:
    doc, edits, _ = case
    decided = doc.plan(edits)
    kept = [e for e, d in zip(edits, decided.decisions, strict=True) if not isinstance(d, CollabError)]
    without = doc.plan(kept)
    assert without.head == decided.head and without.snapshots == decided.snapshots
    assert [d for d in without.decisions] == [d for d in decided.decisions if not isinstance(d, CollabError)]
    for edit, d in zip(edits, decided.decisions, strict=True):
        if isinstance(d, CollabError):
            assert d.code in {"invalid_op", "version_ahead", "document_too_large"} and d.message
            assert d.ref == ({"client_id": edit.client_id, "seq": edit.seq} if edit.client_id else None)


@given(groups(), st.integers(0, MAX_CHARS))
def test_no_commit_makes_the_text_longer_than_the_limit(case: Any, limit: int) -> None:
    doc, edits, _ = case
    decided = doc.plan(edits, max_chars=limit)
    unlimited = doc.copy()
    for edit, d in zip(edits, decided.decisions, strict=True):
        (alone,) = unlimited.plan([edit], max_chars=10**6).decisions
        if isinstance(d, DocumentTooLarge):
            assert isinstance(alone, Fresh)
            assert len(apply(unlimited.head.text, alone.op)) > limit
            continue
        assert same(d, alone)
        if isinstance(d, Fresh):
            unlimited.take([edit], unlimited.plan([edit], max_chars=10**6))
            assert len(unlimited.head.text) <= limit
    assert unlimited.head == decided.head


@given(groups(), st.sampled_from([1, 2, 3]))
def test_snapshots_fall_on_multiples_of_every(case: Any, every: int) -> None:
    doc, edits, _ = case
    decided = doc.plan(edits, every=every)
    after = doc.copy()
    after.take(edits, decided)
    expected = [
        Head(after.texts[v], v) for v in range(doc.head.version + 1, after.head.version + 1) if v % every == 0
    ]
    assert list(decided.snapshots) == expected


@given(documents(), st.data())
def test_an_op_past_the_end_of_its_base_is_refused_before_normalizing(doc: Document, data: Any) -> None:
    """A trailing retain past the end is invalid even where its normalized form would apply."""
    base = data.draw(st.integers(0, doc.head.version))
    length = len(doc.texts[base])
    over = data.draw(st.integers(1, 3))
    (refused,) = doc.plan([Edit(base, [length + over])]).decisions
    assert isinstance(refused, InvalidOp)
    assert f"spans {length + over} code points" in refused.message
    # exactly up to the end: a no-op
    (accepted,) = doc.plan([Edit(base, [length])], max_chars=10**6).decisions
    assert accepted == Fresh(doc.head.version + 1, [])


@given(documents())
def test_base_versions_outside_the_history(doc: Document) -> None:
    ahead, negative = doc.plan([Edit(doc.head.version + 1, ["x"]), Edit(-1, ["x"])]).decisions
    assert isinstance(ahead, VersionAhead)
    assert isinstance(negative, InvalidOp) and negative.message == "version must be 0 or more."


def test_oldest_base_ignores_failed_and_out_of_range_edits() -> None:
    checked = prepare([Edit(4, [1.5]), Edit(7, ["x"]), Edit(-2, ["x"]), Edit(5, ["y"]), Edit(9, ["z"])])
    assert [type(c) for c in checked] == [InvalidOp, Checked, Checked, Checked, Checked]
    assert oldest_base(checked, 8) == 5
    assert oldest_base(checked, 5) == 5, "nothing to read"


def test_commit_plan_is_pure() -> None:
    collab = ROOT / "collab"
    assert (
        find_impurities(collab / "commit_plan.py", allowed=("collab.ot", "collab.exceptions", "collab.codes"))
        == []
    )
    for imported in ("exceptions.py", "codes.py"):
        assert find_impurities(collab / imported, allowed=("collab.codes",)) == []
