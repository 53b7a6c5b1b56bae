"""Yjs documents from synchronous code (REST views, the admin): create, read the text, write.

A write from here is stored first (``storage.append``) and then published like
an update from another process, so live rooms (this process's and the
others') apply it and relay it to their clients::

    document = create(owner=alice, title="Notes", content="hello")
    text(document)                                   # "hello"
    replace_text(document, "hello world", user=alice)  # one Yjs insert of " world"
    apply_update(document, update_bytes, user=alice)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import pycrdt
from django.db import transaction

from collab.conf import collab_settings
from collab.exceptions import CollabError, DocumentTooLarge
from collab.models import Document, Kind, YjsSnapshot
from collab.ot import diff
from collab.yjs import storage
from collab.yjs.storage import Appended, Incoming, Parts, YDoc, limits

__all__ = ["InvalidUpdate", "WrongType", "apply_update", "create", "limits", "replace_text", "state", "text"]


class InvalidUpdate(CollabError):
    code = "invalid_update"


class WrongType(CollabError):
    code = "wrong_type"


def _holds_other_type(parts: Parts) -> bool:
    """True if the root ``content`` holds XML (a rich-text editor's document), not text."""
    fragment = storage.doc_of(parts.parts).get(storage.CONTENT, type=pycrdt.XmlFragment)
    return len(fragment.children) > 0


def _check_size(state: bytes) -> None:
    maximum = int(collab_settings["MAX_DOCUMENT_BYTES"])
    if len(state) > maximum:
        raise DocumentTooLarge(f"The document would take {len(state)} bytes; at most {maximum} are allowed.")


def create(*, owner: Any, title: str, content: str = "", public_role: str = "none") -> Document:
    """A new yjs document at version 0; ``content`` (if any) is the root Y.Text ``content``."""
    doc = storage.doc_of()
    if content:
        doc[storage.CONTENT] = pycrdt.Text(content)
    state = bytes(doc.get_update())
    _check_size(state)
    with transaction.atomic():
        document = Document.objects.create(owner=owner, title=title, public_role=public_role, kind=Kind.YJS)
        YjsSnapshot.objects.create(document=document, version=0, state=state)
    return document


_texts: OrderedDict[tuple[str, int], str] = OrderedDict()  # (id, version) -> text, most recent last
_texts_lock = threading.Lock()
_TEXTS_MAX = 256


def text(document: Document) -> str:
    """The text of the root Y.Text ``content`` at the document's current version."""
    key = (str(document.pk), document.version)
    with _texts_lock:
        found = _texts.get(key)
        if found is not None:
            _texts.move_to_end(key)
            return found
    parts = storage.load(document.pk)
    value = storage.text_of(parts)
    with _texts_lock:
        _texts[(str(document.pk), parts.version)] = value
        while len(_texts) > _TEXTS_MAX:
            _texts.popitem(last=False)
    return value


def state(document: Document) -> tuple[int, bytes]:
    parts = storage.load(document.pk)
    return parts.version, storage.merged(parts)


def _store(document: Document, doc: YDoc, parts: Parts, edit: Any, *, user: Any) -> Appended | None:
    """Run ``edit(doc)``; store and publish what it changed (nothing changed: None)."""
    changes: list[bytes] = []
    subscription = doc.observe(lambda event: changes.append(bytes(event.update)))
    try:
        edit(doc)
    finally:
        doc.unobserve(subscription)
    if not changes:
        return None
    _check_size(bytes(pycrdt.merge_updates(*parts.parts, *changes)))
    done = storage.append(document.pk, [Incoming(c, user) for c in changes], known=parts.version)
    _publish(str(document.pk), done, changes)
    return done


def _publish(document_id: str, done: Appended, changes: list[bytes]) -> None:
    from collab.realtime.hub import hub
    from collab.yjs.events import YjsUpdated

    event = YjsUpdated(document_id, done.first, done.last, changes)
    transaction.on_commit(lambda: hub().publish_from_sync(document_id, event))


def apply_update(document: Document, update: bytes, *, user: Any) -> Appended | None:
    """Apply a Yjs update (v1) as a live one would be: stored, then relayed. None if it held nothing new."""
    try:
        storage.check_update(update)
    except ValueError:
        raise InvalidUpdate("The body is not a Yjs update (v1 encoding).") from None
    parts = storage.load(document.pk)
    doc = storage.doc_of(parts.parts)
    return _store(document, doc, parts, lambda d: d.apply_update(update), user=user)


def _byte_offset(text: str, index: int) -> int:
    """pycrdt's Y.Text positions count UTF-8 bytes; the contract counts code points."""
    return len(text[:index].encode("utf-8"))


def replace_text(document: Document, new_text: str, *, user: Any) -> Appended | None:
    """Change the root Y.Text ``content`` into ``new_text`` by the smallest edit (never delete-all)."""
    parts = storage.load(document.pk)
    doc = storage.doc_of(parts.parts)
    ytext = doc.get(storage.CONTENT, type=pycrdt.Text)
    old = str(ytext)
    if not old and _holds_other_type(parts):
        raise WrongType(
            "The root type 'content' of this document is not a Y.Text; change it with a Yjs update instead."
        )
    op = diff(old, new_text)

    def edit(d: YDoc) -> None:
        with d.transaction():
            pos, current = 0, old
            for component in op:
                if isinstance(component, int) and component > 0:
                    pos += component
                elif isinstance(component, str):
                    ytext.insert(_byte_offset(current, pos), component)
                    current = current[:pos] + component + current[pos:]
                    pos += len(component)
                else:
                    start = _byte_offset(current, pos)
                    end = _byte_offset(current, pos - component)
                    del ytext[start:end]
                    current = current[:pos] + current[pos - component :]

    return _store(document, doc, parts, edit, user=user)
