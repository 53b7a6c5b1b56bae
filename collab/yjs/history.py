"""History of yjs documents: the state at a kept version, its text for people, and restoring it.

A yjs document's log is compacted into snapshots as it goes (``storage``), so
a past state is available when a version keeps it (``DocumentVersion.state``:
named and automatic versions) or while the log still covers it (the latest
snapshot generations and the updates after them). The text people read of a
state (``readable``) is the root ``Y.Text`` ``content`` (what REST serves);
when that is empty, the text of the root ``Y.XmlFragment`` ``default``
(TipTap's), one line per paragraph.

Restoring builds, on a copy of the current state, the edits that make every
root ``Y.Text`` and ``Y.XmlFragment`` what it was at the version, and applies
them as one update through the ordinary write path
(``documents.apply_update``: stored, then published to live providers)::

    parts = state_at(document, 12)
    readable(parts)                  # "hello"
    restore(document, parts, user=alice)
"""

from __future__ import annotations

from typing import Any

import pycrdt

from collab.exceptions import HistoryUnavailable, NotFound
from collab.models import Document, DocumentVersion, YjsSnapshot, YjsUpdate
from collab.ot import Op
from collab.textdiff import text_op
from collab.yjs import documents, storage
from collab.yjs.storage import Appended, Parts, YDoc

RICH_TEXT_ROOT = "default"  # TipTap's Collaboration extension


def _doc(parts: Parts | bytes) -> YDoc:
    return storage.doc_of(parts.parts if isinstance(parts, Parts) else (parts,))


def _from_log(document_id: Any, version: int) -> Parts | None:
    """The state at ``version`` from a stored snapshot and the updates after it, if the log still has them."""
    snapshot = (
        YjsSnapshot.objects.filter(document_id=document_id, version__lte=version)
        .order_by("-version")
        .values_list("version", "state")
        .first()
    )
    if snapshot is None:
        return None
    rows = list(
        YjsUpdate.objects.filter(document_id=document_id, version__gt=snapshot[0], version__lte=version)
        .order_by("version")
        .values_list("version", "data")
    )
    if [v for v, _ in rows] != list(range(snapshot[0] + 1, version + 1)):
        return None
    return Parts(version, (bytes(snapshot[1]), *(bytes(d) for _, d in rows)))


def state_at(document: Document, version: int | None = None) -> Parts:
    """The state at ``version`` (default current); NotFound beyond the current version,
    HistoryUnavailable where neither a kept version nor the log has it."""
    if version is None or version == document.version:
        return storage.load(document.pk)
    if version < 0 or version > document.version:
        raise NotFound(f"Version {version} does not exist; the current version is {document.version}.")
    kept = (
        DocumentVersion.objects.filter(document=document, version=version, state__isnull=False)
        .values_list("state", flat=True)
        .first()
    )
    if kept is not None:
        return Parts(version, (bytes(kept),))
    found = _from_log(document.pk, version)
    if found is None:
        raise HistoryUnavailable(
            f"The state at version {version} is no longer kept: yjs documents keep the versions in "
            "their history list and the latest stretch of their update log."
        )
    return found


def merged(parts: Parts) -> bytes:
    return storage.merged(parts)


def _xml_text(node: Any) -> str:
    return "".join(str(chunk) for chunk, _ in node.diff())


def _xml_lines(node: Any, out: list[str]) -> None:
    """One line per block (an element holding only text), in document order."""
    children = list(node.children)
    if isinstance(node, pycrdt.XmlElement) and all(isinstance(c, pycrdt.XmlText) for c in children):
        out.append("".join(_xml_text(c) for c in children))
        return
    for child in children:
        if isinstance(child, pycrdt.XmlText):
            out.append(_xml_text(child))
        else:
            _xml_lines(child, out)


def readable(parts: Parts | bytes) -> str:
    """The text people read of a state: the Y.Text ``content``, else the rich text of ``default``."""
    text = str(_doc(parts).get(storage.CONTENT, type=pycrdt.Text))
    if text:
        return text
    lines: list[str] = []
    _xml_lines(_doc(parts).get(RICH_TEXT_ROOT, type=pycrdt.XmlFragment), lines)
    return "".join(f"{line}\n" for line in lines)


def _root_kind(parts: Parts | bytes, name: str) -> str:
    """What a root holds, judged on a throwaway copy: "text", "xml" or "" (empty or something else)."""
    if str(_doc(parts).get(name, type=pycrdt.Text)):
        return "text"
    if len(_doc(parts).get(name, type=pycrdt.XmlFragment).children):
        return "xml"
    return ""


def apply_text_op(ytext: pycrdt.Text, current: str, op: Op) -> None:
    """Apply an op (code points) to a Y.Text holding ``current`` (pycrdt counts UTF-8 bytes)."""
    pos = 0
    for component in op:
        if isinstance(component, int) and component > 0:
            pos += component
        elif isinstance(component, str):
            ytext.insert(len(current[:pos].encode("utf-8")), component)
            current = current[:pos] + component + current[pos:]
            pos += len(component)
        else:
            start = len(current[:pos].encode("utf-8"))
            end = len(current[: pos - component].encode("utf-8"))
            del ytext[start:end]
            current = current[:pos] + current[pos - component :]


def _copy_xml(source: Any, target_children: Any) -> None:
    for node in source.children:
        if isinstance(node, pycrdt.XmlText):
            text = target_children.append(pycrdt.XmlText())
            for chunk, attrs in node.diff():
                text.insert(len(text), str(chunk), attrs or None)
        else:
            element = target_children.append(pycrdt.XmlElement(node.tag, dict(node.attributes)))
            _copy_xml(node, element.children)


def restore(document: Document, parts: Parts, *, user: Any) -> Appended | None:
    """Make every Y.Text and Y.XmlFragment root what it is in ``parts``; one stored, published update."""
    current_parts = storage.load(document.pk)
    names = set(_doc(current_parts).keys()) | set(_doc(parts).keys())
    kinds = {name: (_root_kind(current_parts, name), _root_kind(parts, name)) for name in names}
    doc, old = _doc(current_parts), _doc(parts)
    changes: list[bytes] = []
    subscription = doc.observe(lambda event: changes.append(bytes(event.update)))
    try:
        with doc.transaction():
            for name, (now_kind, then_kind) in sorted(kinds.items()):
                if "text" in (now_kind, then_kind):
                    ytext = doc.get(name, type=pycrdt.Text)
                    current = str(ytext)
                    target = str(old.get(name, type=pycrdt.Text)) if then_kind == "text" else ""
                    apply_text_op(ytext, current, text_op(current, target))
                elif "xml" in (now_kind, then_kind):
                    fragment = doc.get(name, type=pycrdt.XmlFragment)
                    if len(fragment.children):
                        del fragment.children[0 : len(fragment.children)]
                    if then_kind == "xml":
                        _copy_xml(old.get(name, type=pycrdt.XmlFragment), fragment.children)
    finally:
        doc.unobserve(subscription)
    if not changes:
        return None
    return documents.apply_update(document, bytes(pycrdt.merge_updates(*changes)), user=user)
