"""Worked examples for collab.ot.operation and collab.ot.positions."""

from __future__ import annotations

import doctest
import re

import pytest

import collab.ot
from collab.ot import (
    InvalidOperation,
    MalformedOperation,
    OperationOutOfRange,
    _components,
    apply,
    base_length,
    check,
    client,
    compose,
    diff,
    invert,
    is_noop,
    normalize,
    operation,
    positions,
    target_length,
    transform,
    transform_position,
    transform_selection,
)

EMOJI = "😀"
MUST = "must be a non-zero integer or a non-empty string"
ACUTE = "\u0301"


@pytest.mark.parametrize("module", [collab.ot, operation, positions, client, _components])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("text", "op", "expected"),
    [
        ("abcdefg", [3, "hi", -2], "abchifg"),
        ("abc", [], "abc"),
        ("", ["x"], "x"),
        ("abc", [-3], ""),
        ("abc", [3], "abc"),
        ("abc", [3, "d"], "abcd"),
        ("abc", ["x", 1, "y", 1, "z"], "xaybzc"),
        ("abc", [-2, "x"], "xc"),
        (f"a{EMOJI}b", [1, -1, "c"], "acb"),
        (f"a{EMOJI}b", [2, EMOJI], f"a{EMOJI}{EMOJI}b"),
        (f"e{ACUTE}x", [1, -1], "ex"),
        (f"e{ACUTE}x", [2, ACUTE], f"e{ACUTE}{ACUTE}x"),
    ],
)
def test_apply(text: str, op: list[int | str], expected: str) -> None:
    assert apply(text, op) == expected
    assert target_length(op, len(text)) == len(expected)


def test_code_point_lengths() -> None:
    assert len(f"a{EMOJI}b") == 3
    assert len(f"e{ACUTE}") == 2
    assert base_length([1, "xyz", -2]) == 3


def test_apply_is_linear_on_large_text() -> None:
    text = "x" * 1_000_000
    op: list[int | str] = [1 if i % 2 else -1 for i in range(10_000)]  # alternating retain 1 / delete 1
    assert len(apply(text, op)) == 1_000_000 - 5_000


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ([], []),
        ([5], []),
        ([1, 2], []),
        ([1, 2, "a"], [3, "a"]),
        (["a", "b"], ["ab"]),
        ([-1, -2], [-3]),
        ([-2, "x"], ["x", -2]),
        (["a", -1, "b"], ["ab", -1]),
        ([-1, "a", -1, "b", 2], ["ab", -2]),
        ([1, -2, "x", 4, -1], [1, "x", -2, 4, -1]),
        ([2, "x", 3], [2, "x"]),
    ],
)
def test_normalize(op: list[int | str], expected: list[int | str]) -> None:
    assert normalize(op) == expected
    assert normalize(expected) == expected


def test_normalize_is_linear_on_long_ops() -> None:
    assert normalize(["a", -1] * 300_000) == ["a" * 300_000, -300_000]


def test_zero_and_empty_components_only_normalize_accepts() -> None:
    for op, normalized in (([1, "a", 0], [1, "a"]), ([""], []), ([0, -1, ""], [-1])):
        assert normalize(op) == normalized
        with pytest.raises(MalformedOperation, match="non-zero integer or a non-empty string"):
            check(op)
        with pytest.raises(MalformedOperation):
            apply("abc", op)
    with pytest.raises(MalformedOperation):
        normalize([False])  # False is not a zero


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ([True], f"component 0 {MUST}, got True"),
        ([1, False], f"component 1 {MUST}, got False"),
        ([1, 1.5], f"component 1 {MUST}, got 1.5"),
        ([1.0], f"component 0 {MUST}, got 1.0"),
        ([None], f"component 0 {MUST}, got None"),
        ([[1]], f"component 0 {MUST}, got [1]"),
        ([{"d": 1}], f"component 0 {MUST}, got " + "{'d': 1}"),
        (["x" * 100 + "\ud83d"], "component 0 contains a lone surrogate U+D83D"),
        ("abc", "operation must be a list, got str"),
        ((1, "a"), "operation must be a list, got tuple"),
        ({"op": []}, "operation must be a list, got dict"),
        (None, "operation must be a list, got NoneType"),
        (3, "operation must be a list, got int"),
    ],
)
def test_malformed(op: object, message: str) -> None:
    with pytest.raises(MalformedOperation, match=re.escape(message) + "$"):
        check(op)
    with pytest.raises(MalformedOperation):
        normalize(op)
    with pytest.raises(InvalidOperation):
        apply("abc", op)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"operation must be a list|component"):
        transform([], op)  # type: ignore[arg-type]


def test_long_component_repr_is_truncated() -> None:
    with pytest.raises(MalformedOperation) as info:
        check([[1] * 1000])
    assert len(str(info.value)) < 120


@pytest.mark.parametrize(
    ("text", "op"),
    [("abc", [4]), ("abc", [-4]), ("abc", [2, -2]), ("", [1]), (f"a{EMOJI}b", [3, -1])],
)
def test_out_of_range(text: str, op: list[int | str]) -> None:
    with pytest.raises(OperationOutOfRange, match=rf"spans {base_length(op)} .* only {len(text)}"):
        apply(text, op)
    with pytest.raises(OperationOutOfRange):
        invert(op, text)
    with pytest.raises(OperationOutOfRange):
        target_length(op, len(text))


def test_exception_tree() -> None:
    assert issubclass(MalformedOperation, InvalidOperation)
    assert issubclass(OperationOutOfRange, InvalidOperation)
    assert issubclass(InvalidOperation, ValueError)


def test_transform_examples() -> None:
    assert transform([1, "X"], [1, "Y"]) == ([1, "X"], [2, "Y"])
    assert transform([1, "Y"], [1, "X"]) == ([1, "Y"], [2, "X"])
    assert transform([-3], [1, -1]) == ([-2], [])
    assert transform([1, -2], [2, "x"]) == ([1, -1, 1, -1], [1, "x"])
    assert transform([], [3, "x"]) == ([], [3, "x"])
    assert transform([EMOJI], [1, -1]) == ([EMOJI], [2, -1])


def test_compose_examples() -> None:
    assert compose(["abc"], [1, -1]) == ["ac"]
    assert compose([-2], ["x"]) == ["x", -2]
    assert compose([1, "x"], [3, "y"]) == [1, "x", 1, "y"]
    assert compose(["x"], [-1]) == []


def test_invert_examples() -> None:
    assert invert([1, "X", -2], "abcd") == [1, "bc", -1]
    assert invert([], "abc") == []
    assert invert([-1, EMOJI], f"{EMOJI}a") == [EMOJI, -1]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("", "", []),
        ("abc", "abc", []),
        ("", "abc", ["abc"]),
        ("abc", "", [-3]),
        ("the cat", "the hat", [4, "h", -1]),
        ("aa", "aaa", [2, "a"]),
        (f"e{ACUTE}", f"e{ACUTE}{ACUTE}", [2, ACUTE]),
        (f"x{EMOJI}y", "xy", [1, -1]),
    ],
)
def test_diff(old: str, new: str, expected: list[int | str]) -> None:
    assert diff(old, new) == expected
    assert apply(old, expected) == new


def test_diff_large() -> None:
    old = "a" * 500_000 + "b" + "c" * 500_000
    assert diff(old, old.replace("b", "BB")) == [500_000, "BB", -1]


def test_is_noop() -> None:
    assert is_noop([]) and is_noop([3]) and is_noop([1, 2])
    assert not is_noop(["x"]) and not is_noop([1, -1])
    with pytest.raises(MalformedOperation):
        is_noop([0])


@pytest.mark.parametrize(
    ("pos", "op", "own", "expected"),
    [
        (2, [1, "xy"], False, 4),
        (2, [2, "xy"], False, 2),
        (2, [2, "xy"], True, 4),
        (0, ["x"], False, 0),
        (0, ["x"], True, 1),
        (3, [1, -4], False, 1),
        (3, [4, -1], False, 3),
        (3, [-1], False, 2),
        (3, [3, -1], False, 3),
        (3, [3, -1], True, 3),
        (5, [], False, 5),
        (1, ["x", -2], False, 1),
        (9, [1, "ab"], False, 11),
    ],
)
def test_transform_position(pos: int, op: list[int | str], own: bool, expected: int) -> None:
    assert transform_position(pos, op, own=own) == expected


def test_transform_position_rejects_negative() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        transform_position(-1, [])


def test_transform_selection() -> None:
    assert transform_selection(1, 3, [2, "xy"]) == (1, 5)
    assert transform_selection(3, 3, [3, "x"], own=True) == (4, 4)
