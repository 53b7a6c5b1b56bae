"""Run the language-neutral cases of tests/fixtures/ot_cases.json (shared with JS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collab.ot import (
    MalformedOperation,
    OperationOutOfRange,
    apply,
    compose,
    diff,
    invert,
    normalize,
    transform,
    transform_position,
)

CASES: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "ot_cases.json").read_text("utf-8")
)
KEYS = {
    "apply": {"doc", "op", "result"},
    "normalize": {"op", "result"},
    "transform": {"doc", "a", "b", "a_prime", "b_prime"},
    "compose": {"doc", "a", "b", "result"},
    "invert": {"doc", "op", "result"},
    "transform_position": {"pos", "op", "own", "result"},
    "invalid": {"doc", "op", "error"},
    "diff": {"old", "new", "result"},
}


def cases(section: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(
        "case",
        CASES[section],
        ids=[f"{section}{i}" for i in range(len(CASES[section]))],
    )


def test_fixture_shape() -> None:
    assert CASES.keys() == KEYS.keys()
    for section, keys in KEYS.items():
        assert len(CASES[section]) >= 10, section
        assert all(case.keys() == keys for case in CASES[section]), section


@cases("apply")
def test_apply(case: dict[str, Any]) -> None:
    assert apply(case["doc"], case["op"]) == case["result"]


@cases("normalize")
def test_normalize(case: dict[str, Any]) -> None:
    assert normalize(case["op"]) == case["result"]


@cases("transform")
def test_transform(case: dict[str, Any]) -> None:
    doc, a, b = case["doc"], case["a"], case["b"]
    assert transform(a, b) == (case["a_prime"], case["b_prime"])
    assert apply(apply(doc, a), case["b_prime"]) == apply(apply(doc, b), case["a_prime"])


@cases("compose")
def test_compose(case: dict[str, Any]) -> None:
    doc, a, b = case["doc"], case["a"], case["b"]
    assert compose(a, b) == case["result"]
    assert apply(doc, case["result"]) == apply(apply(doc, a), b)


@cases("invert")
def test_invert(case: dict[str, Any]) -> None:
    assert invert(case["op"], case["doc"]) == case["result"]
    assert apply(apply(case["doc"], case["op"]), case["result"]) == case["doc"]


@cases("transform_position")
def test_transform_position(case: dict[str, Any]) -> None:
    assert transform_position(case["pos"], case["op"], own=case["own"]) == case["result"]


@cases("invalid")
def test_invalid(case: dict[str, Any]) -> None:
    error = {"malformed": MalformedOperation, "out_of_range": OperationOutOfRange}[case["error"]]
    with pytest.raises(error):
        apply(case["doc"], case["op"])


@cases("diff")
def test_diff(case: dict[str, Any]) -> None:
    assert diff(case["old"], case["new"]) == case["result"]
    assert apply(case["old"], case["result"]) == case["new"]
