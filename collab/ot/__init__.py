"""Operational transformation for one plain-text document, with no I/O.

    >>> from collab.ot import apply, transform
    >>> a, b = [5, " world"], ["Oh, "]  # concurrent edits of "hello", a first
    >>> a2, b2 = transform(a, b)
    >>> apply(apply("hello", a), b2)
    'Oh, hello world'

Modules: ``operation`` (the op format and its algebra), ``positions`` (moving
cursors through ops) and ``client`` (the client-side state machine).
"""

from __future__ import annotations

from .client import ClientState, ClientStateError, OTClient
from .operation import (
    Component,
    InvalidOperation,
    MalformedOperation,
    Op,
    OperationOutOfRange,
    apply,
    base_length,
    check,
    compose,
    diff,
    invert,
    is_noop,
    normalize,
    rebase,
    target_length,
    transform,
    without_empty,
)
from .positions import transform_position, transform_selection

__all__ = [
    "ClientState",
    "ClientStateError",
    "Component",
    "InvalidOperation",
    "MalformedOperation",
    "OTClient",
    "Op",
    "OperationOutOfRange",
    "apply",
    "base_length",
    "check",
    "compose",
    "diff",
    "invert",
    "is_noop",
    "normalize",
    "rebase",
    "target_length",
    "transform",
    "transform_position",
    "transform_selection",
    "without_empty",
]
