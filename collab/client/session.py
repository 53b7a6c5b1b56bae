"""The document session, sans I/O: feed it server messages, get events and messages to send.

``Session`` holds the local text, the last server version and the ot.js client
state (``collab.ot.OTClient``: synchronized, awaiting ack, awaiting ack with a
buffer), plus presence and cursors. It never touches a socket or a clock: the
caller passes ``now`` (any monotonic clock, in seconds) and moves the frames::

    >>> s = Session("c1")
    >>> s.connection_made(now=0.0)
    >>> s.receive({"type": "hello", "payload": {"session": "s1", "role": "editor",
    ...     "document": {"id": "d", "title": "t", "version": 3, "content": "abc"}}}, now=0.0)
    >>> s.insert(3, "!", now=0.1)       # returns the op, normalized
    [3, '!']
    >>> s.data_to_send()
    ['{"type":"edit","payload":{"version":3,"op":[3,"!"],"client_id":"c1","seq":1}}']
    >>> s.receive({"type": "ack", "payload": {"client_id": "c1", "seq": 1, "version": 4}}, now=0.2)
    >>> s.text, s.version, s.synced
    ('abc!', 4, True)

Reconnecting (``connection_made`` again, then the new ``hello``) sends ``sync``
from the last version seen if the hello is ahead. In the answer, our own
in-flight op (matched on client_id and seq) counts as its ack and the other ops
are transformed as usual; then the unacknowledged edit is resent exactly as
first sent (same base version, op and seq), so the server commits it once
whatever happened before the drop. A hello at our own version resends at once. A gap in versions,
or an ack overdue by ``ack_timeout``, also sends ``sync`` (and an overdue edit
is resent after the answer).

Rejected edits (``invalid_op``, ``forbidden``, ``document_too_large``, with our
client_id/seq as ``ref``) were not committed: they are undone locally (later
local edits are kept, transformed past the undo), reported as ``EditRejected``,
and a ``sync`` reconciles. If the server cannot send the history we missed
(``history_unavailable``) or the texts ever disagree, the session resends its
in-flight edit as first sent, waits for it to be acked, asks for a reconnect
(``reconnect_reason``) and rebases the rest of its local edits onto the fresh
``hello`` text, so no local edit is lost or applied twice.

The browser's session.js is the same state machine: both replay the scenarios
of tests/fixtures/session_cases.json (frames in, frames and events out).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from collab.codes import ErrorCode
from collab.ot import (
    ClientStateError,
    InvalidOperation,
    Op,
    OTClient,
    apply,
    compose,
    invert,
    normalize,
    transform,
    transform_selection,
)

from .errors import ClientClosed, CollabClientError, ReadOnly, ResumeFailed
from .events import (
    EditAcked,
    EditRejected,
    Event,
    Notice,
    Participant,
    Ready,
    RemoteEdit,
    RoleChanged,
    ServerError,
)
from .ops import fine_diff, split_op
from .presence import Room

__all__ = ["Phase", "Session"]

Phase = Literal["offline", "handshake", "resyncing", "live", "recovering"]
EDITOR_ROLES = frozenset({"owner", "editor"})
# errors about our edit after which the server dropped it, and after which it may not have processed it
REJECTED = frozenset(
    {ErrorCode.INVALID_OP, ErrorCode.FORBIDDEN, ErrorCode.DOCUMENT_TOO_LARGE, ErrorCode.INVALID_MESSAGE}
)
MAYBE_DROPPED = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.SERVER_ERROR})


def _dumps(kind: str, payload: Mapping[str, Any]) -> str:
    return json.dumps({"type": kind, "payload": payload}, separators=(",", ":"), ensure_ascii=False)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


class Session:
    """One client's side of one document across any number of connections."""

    def __init__(
        self,
        client_id: str,
        *,
        ack_timeout: float = 5.0,
        hello_timeout: float = 10.0,
        retry_delay: float = 0.5,
        edit_interval: float = 0.02,
        cursor_interval: float = 0.1,
        history: int = 256,
    ) -> None:
        if not 1 <= len(client_id) <= 64:
            raise ValueError("client_id must be 1 to 64 characters")
        self.client_id = client_id
        self.ack_timeout, self.hello_timeout, self.retry_delay = ack_timeout, hello_timeout, retry_delay
        self.sync_timeout = max(2 * ack_timeout, hello_timeout)  # a sync answer can be long
        self.edit_interval, self.cursor_interval = edit_interval, cursor_interval
        self.phase: Phase = "offline"
        self.ot: OTClient | None = None
        self.server_text = ""  # the text at ``version``: what the server has
        self.role = self.session_id = self.title = self.document_id = ""
        self.user: dict[str, Any] = {}
        self.limits: dict[str, Any] = {}
        self.fatal: CollabClientError | None = None  # set: give up, with this error
        self.reconnect_reason: str | None = None  # set: please drop this connection and reconnect
        self.last_error: tuple[str, str] = ("", "")  # (code, message) of the last error frame
        self._out: list[str] = []
        self._events: list[Event] = []
        self._conn = 0  # connection number, to know whether the in-flight edit went out on this one
        self._connected_at = 0.0
        self._next_seq = 1
        self._inflight_seq: int | None = None
        self._inflight_conn = 0
        self._sent_at = 0.0
        self._last_edit_at = -math.inf
        self._resend_due = False
        self._sync_since: int | None = None  # the version of the outstanding sync
        self._sync_at = 0.0
        self._max_seen = 0
        self._hello: tuple[int, str] | None = None  # this connection's hello, until checked
        self._recover: str | None = None  # why the next hello must rebase
        self.room = Room(history)  # presence entries and remote cursors
        self._cursor: tuple[int, int] | None = None
        self._cursor_set = self._cursor_dirty = False
        self._cursor_exact = True
        self._cursor_at = -math.inf
        self._presence: dict[str, Any] | None = None

    # -- state ---------------------------------------------------------------
    @property
    def text(self) -> str:
        return "" if self.ot is None else self.ot.text

    @property
    def version(self) -> int:
        """The last server version incorporated (-1 before the first hello)."""
        return -1 if self.ot is None else self.ot.version

    @property
    def ready(self) -> bool:
        return self.ot is not None

    @property
    def live(self) -> bool:
        return self.phase == "live"

    @property
    def pending(self) -> bool:
        """True while some local edit is not acknowledged."""
        return self.ot is not None and self.ot.state != "synchronized"

    @property
    def synced(self) -> bool:
        """Live, and every local edit is acknowledged."""
        return self.live and not self.pending

    @property
    def cursor(self) -> tuple[int, int] | None:
        return self._cursor

    @property
    def participants(self) -> list[Participant]:
        """Everyone connected, this connection included (``is_self``)."""
        return self.room.participants(self._cursor)

    # -- I/O boundary --------------------------------------------------------
    def data_to_send(self) -> list[str]:
        """Frames to send now, in order (each one WebSocket text frame)."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def connection_made(self, now: float) -> None:
        self._conn += 1
        self.phase, self._connected_at = "handshake", now
        self._out.clear()
        self._sync_since, self._hello, self.reconnect_reason = None, None, None

    def connection_lost(self, now: float) -> None:
        self.phase = "offline"
        self._out.clear()
        self._sync_since = None

    def receive_text(self, text: str, now: float) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self._notice(f"ignored a frame that is not JSON: {text[:80]!r}")
            return
        if isinstance(message, dict):
            self.receive(message, now)
        else:
            self._notice(f"ignored a frame that is not an object: {text[:80]!r}")

    def receive(self, message: Mapping[str, Any], now: float) -> None:
        """Process one server message (a decoded frame)."""
        if self.phase == "offline" or self.fatal is not None:
            return
        kind = message.get("type")
        payload = message.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        handler = (
            getattr(self, f"_on_{kind}", None) if isinstance(kind, str) and kind.isidentifier() else None
        )
        if handler is None:
            return  # unknown types are ignored (forward compatibility)
        if kind != "hello" and self.ot is None:
            if kind == "error":
                self._on_error(payload, now)
            return
        try:
            handler(payload, now)
        except (InvalidOperation, ClientStateError, KeyError, TypeError, ValueError) as exc:
            self._start_recovery(f"could not apply a {kind} message ({exc})")

    def tick(self, now: float) -> None:
        """Run what is due: timeouts, paced edits and cursors."""
        if self.phase == "handshake" and now >= self._connected_at + self.hello_timeout:
            self._reconnect(f"no hello within {self.hello_timeout:g} s")
        elif self.phase in ("resyncing", "recovering") and now >= self._sync_at + self.sync_timeout:
            self._reconnect(f"no answer from the server within {self.sync_timeout:g} s while resuming")
        elif self.phase == "live" and self.ot is not None:
            if self._sync_since is not None and now >= self._sync_at + self.sync_timeout:
                self._reconnect(f"no answer to sync within {self.sync_timeout:g} s")
            elif self.ot.inflight is not None and now >= self._sent_at + self.ack_timeout:
                self._notice(f"edit {self._inflight_seq} not acknowledged in time; syncing")
                self._resend_due, self._sent_at = True, now
                if self._sync_since is None:
                    self._send_sync(now)
            self._send_edit(now)
            self._flush_cursor(now)

    def next_deadline(self) -> float | None:
        """When ``tick`` next has something to do (same clock as ``now``), or None."""
        if self.phase == "handshake":
            return self._connected_at + self.hello_timeout
        if self.phase in ("resyncing", "recovering"):
            return self._sync_at + self.sync_timeout
        if self.phase != "live" or self.ot is None:
            return None
        times = []
        if self._sync_since is not None:
            times.append(self._sync_at + self.sync_timeout)
        if self.ot.inflight is not None:
            times.append(self._sent_at + self.ack_timeout)
        elif self.ot.buffer is not None:
            times.append(self._last_edit_at + self.edit_interval)
        if self._cursor_dirty:
            times.append(self._cursor_at + self.cursor_interval)
        return min(times) if times else None

    # -- local actions -------------------------------------------------------
    def edit(self, op: Op, now: float) -> Op:
        """Apply ``op`` to the local text and queue it; returns it normalized (``[]``: nothing to do)."""
        ot = self._editable()
        op = normalize(op)
        if op:
            ot.local(op)  # raises OperationOutOfRange before any change
            self._moved(op, own=True)
            self._send_edit(now)
        return op

    def insert(self, pos: int, text: str, now: float) -> Op:
        if not 0 <= _int(pos, "pos") <= len(self.text):
            raise IndexError(f"position {pos} is outside the text (0..{len(self.text)})")
        return self.edit([c for c in (pos, text) if c], now)

    def delete(self, pos: int, count: int, now: float) -> Op:
        if _int(pos, "pos") < 0 or _int(count, "count") < 0 or pos + count > len(self.text):
            raise IndexError(f"cannot delete {count} at {pos} from a text of {len(self.text)}")
        return self.edit([c for c in (pos, -count) if c], now)

    def replace(self, new_text: str, now: float) -> Op:
        """Make the text ``new_text`` with one op that keeps every common run (``fine_diff``)."""
        self._editable()
        return self.edit(fine_diff(self.text, new_text), now)

    def set_cursor(self, anchor: int, head: int | None, now: float) -> None:
        """Show our cursor (``head`` None: a caret at ``anchor``), in local text positions."""
        head = anchor if head is None else head
        for name, value in (("anchor", anchor), ("head", head)):
            if not 0 <= _int(value, name) <= len(self.text):
                raise IndexError(f"{name} {value} is outside the text (0..{len(self.text)})")
        self._cursor, self._cursor_set, self._cursor_dirty = (anchor, head), True, True
        self._flush_cursor(now)

    def hide_cursor(self, now: float) -> None:
        self._cursor, self._cursor_set, self._cursor_dirty = None, True, True
        self._flush_cursor(now)

    def set_presence(self, status: str, meta: Mapping[str, Any] | None, now: float) -> None:
        self._presence = {"status": status, "meta": dict(meta or {})}
        if self.live:
            self._out.append(_dumps("presence", self._presence))

    def _editable(self) -> OTClient:
        if self.ot is None:
            raise ClientClosed("the document is not loaded yet (no hello received)")
        if self.role and self.role not in EDITOR_ROLES:
            raise ReadOnly(f"your role on this document ({self.role}) does not allow editing")
        return self.ot

    # -- server messages -----------------------------------------------------
    def _on_hello(self, p: dict[str, Any], now: float) -> None:
        doc = p.get("document") or {}
        version, content = _int(doc.get("version"), "version"), doc.get("content")
        if not isinstance(content, str):
            raise ValueError("hello without document content")
        self.session_id, self.role = str(p.get("session", "")), str(p.get("role", ""))
        self.user = dict(p.get("user") or {})
        self.document_id, self.title = str(doc.get("id", "")), str(doc.get("title", ""))
        self.limits = dict(p.get("limits") or {})
        changed = self.room.reset(p.get("presence") or [], self.session_id)
        first = self.ot is None
        if self.ot is None:
            self.ot, self.server_text = OTClient(content, version), content
        elif changed is not None:
            self._events.append(changed)
        for session, at, anchor, head in self.room.entry_cursors():
            self._place_cursor(session, at, anchor, head)
        if first:
            self._go_live(now, resumed=False)
            return
        if version < self.ot.version:
            self._fail(
                ResumeFailed(
                    f"the server's document is at version {version}, behind this client's {self.ot.version}:"
                    " the server lost history, so the client cannot resume"
                )
            )
            return
        self._hello = (version, content)
        if self._recover is None and version == self.ot.version and content != self.server_text:
            self._start_recovery(f"this client's text differs from the server's at version {version}")
            return
        if self._recover is not None:
            if self.ot.inflight is not None:  # is it committed? resend it exactly as first sent
                self._resend(now)
                self.phase, self._sync_at = "recovering", now
                return
            self._rebase(version, content)
        if version == self.ot.version:  # nothing missed: the server reads hello after joining the room
            self._hello = None
            self._go_live(now, resumed=True)
            return
        self.phase = "resyncing"
        self._send_sync(now)

    def _on_ack(self, p: dict[str, Any], now: float) -> None:
        ot = self.ot
        assert ot is not None
        if p.get("client_id") != self.client_id or ot.inflight is None or p.get("seq") != self._inflight_seq:
            return  # a re-ack of an edit already acknowledged
        version = _int(p.get("version"), "version")
        if self.phase == "recovering":
            self._committed_in_recovery(version)
        elif version == ot.version + 1:
            self._acked(version, now)
        elif version > ot.version + 1:
            self._gap(version, now)
        else:
            raise ClientStateError(f"ack of edit {self._inflight_seq} for version {version}, already seen")

    def _on_op(self, p: dict[str, Any], now: float) -> None:
        self._committed(p, now)

    def _on_ops(self, p: dict[str, Any], now: float) -> None:
        items = [x for x in p.get("ops") or [] if isinstance(x, dict)]
        since = self._sync_since
        answer = since is not None and (not items or items[0].get("version") == since + 1)
        for item in items:
            if not self._committed(item, now):
                break
        if answer and self.fatal is None:
            self._sync_answered(now)

    def _on_error(self, p: dict[str, Any], now: float) -> None:
        code, message, ref = str(p.get("code", "")), str(p.get("message", "")), p.get("ref")
        self.last_error = (code, message)
        ot = self.ot
        mine = (
            ot is not None
            and ot.inflight is not None
            and isinstance(ref, dict)
            and ref.get("client_id") == self.client_id
            and ref.get("seq") == self._inflight_seq
        )
        if code == ErrorCode.VERSION_AHEAD and (mine or ref == "sync"):
            self._fail(ResumeFailed(f"the server is behind this client: {message}"))
        elif mine and code in REJECTED:
            self._reject(code, message, now)
        elif ref == "sync" and code == ErrorCode.HISTORY_UNAVAILABLE:
            self._sync_since = None
            self._start_recovery(f"the server cannot send the history we missed ({message})")
        else:
            if code in MAYBE_DROPPED and ot is not None and ot.inflight is not None and self.live:
                self._sent_at = min(self._sent_at, now - self.ack_timeout + self.retry_delay)
            self._events.append(ServerError(code, message, ref))

    def _on_role(self, p: dict[str, Any], now: float) -> None:
        self.role = str(p.get("role", ""))
        self._events.append(RoleChanged(self.role))

    def _on_presence(self, p: dict[str, Any], now: float) -> None:
        changed = self.room.update(p)
        if changed is not None:
            self._events.append(changed)

    def _on_cursor(self, p: dict[str, Any], now: float) -> None:
        session = str(p.get("session", ""))
        if session and session != self.session_id:
            anchor, head = p.get("anchor"), p.get("head")
            if anchor is None or head is None:
                self._place_cursor(session, 0, None, None)
            else:
                self._place_cursor(session, _int(p.get("version"), "version"), anchor, head)

    # -- committed ops and acks ----------------------------------------------
    def _committed(self, item: dict[str, Any], now: float) -> bool:
        """Take one committed op (ours or not) in version order; False on a gap."""
        ot = self.ot
        assert ot is not None
        version = _int(item.get("version"), "version")
        mine = (
            item.get("client_id") == self.client_id
            and ot.inflight is not None
            and item.get("seq") == self._inflight_seq
        )
        if self.phase == "recovering":
            if mine:
                self._committed_in_recovery(version)
            return True
        if version <= ot.version:
            return True
        if version > ot.version + 1:
            self._gap(version, now)
            return False
        if mine:
            self._acked(version, now)
            return True
        op = item.get("op")
        if not isinstance(op, list):
            raise ValueError(f"op {version} has no op")
        server_text = apply(self.server_text, op)
        applied = ot.remote(version, op)
        self.server_text = server_text
        self.room.committed(version, normalize(op))
        self._moved(applied, own=False)
        user = item.get("user")
        self._events.append(
            RemoteEdit(
                version,
                applied,
                ot.text,
                str(item.get("client_id") or ""),
                str(item.get("session") or ""),
                dict(user) if isinstance(user, dict) else {},
            )
        )
        self._advanced()
        return True

    def _acked(self, version: int, now: float) -> None:
        ot = self.ot
        assert ot is not None and ot.inflight is not None and self._inflight_seq is not None
        op, seq = ot.inflight, self._inflight_seq
        server_text = apply(self.server_text, op)
        ot.ack(version)
        self.server_text, self._inflight_seq, self._resend_due = server_text, None, False
        self.room.committed(version, op)
        self._events.append(EditAcked(seq, version))
        if self._cursor_set and not self._cursor_exact and ot.state == "synchronized":
            self._cursor_dirty = True
        self._advanced()
        self._send_edit(now)
        self._flush_cursor(now)

    def _advanced(self) -> None:
        ot = self.ot
        assert ot is not None
        self._events.extend(self.room.reached(ot.version, self._pending_op(), len(ot.text)))
        if self._hello is not None and ot.version >= self._hello[0]:
            hello_version, content = self._hello
            self._hello = None
            if ot.version == hello_version and self.server_text != content:
                self._start_recovery(f"this client's text differs from the server's at version {ot.version}")

    def _gap(self, version: int, now: float) -> None:
        self._max_seen = max(self._max_seen, version)
        if self._sync_since is None:
            self._send_sync(now)

    def _sync_answered(self, now: float) -> None:
        ot = self.ot
        assert ot is not None
        self._sync_since = None
        if self.phase == "resyncing":
            self._go_live(now, resumed=True)
        elif self.phase == "live" and self._resend_due and ot.inflight is not None:
            self._resend(now)
        if self.phase == "live" and self._max_seen > ot.version:
            self._send_sync(now)

    def _go_live(self, now: float, *, resumed: bool) -> None:
        ot = self.ot
        assert ot is not None
        self.phase = "live"
        self._events.append(Ready(ot.version, ot.text, resumed))
        if ot.inflight is not None and (self._resend_due or self._inflight_conn != self._conn):
            self._resend(now)
        self._send_edit(now)
        if self._presence is not None:
            self._out.append(_dumps("presence", self._presence))
        if self._cursor_set:
            self._cursor_dirty, self._cursor_at = True, -math.inf
            self._flush_cursor(now)

    # -- sending ---------------------------------------------------------------
    def _send_sync(self, now: float) -> None:
        assert self.ot is not None
        self._sync_since, self._sync_at = self.ot.version, now
        self._out.append(_dumps("sync", {"version": self.ot.version}))

    def _send_edit_frame(self, version: int, op: Op, seq: int) -> None:
        payload = {"version": version, "op": op, "client_id": self.client_id, "seq": seq}
        self._out.append(_dumps("edit", payload))

    def _send_edit(self, now: float) -> None:
        ot = self.ot
        if self.phase != "live" or ot is None or ot.inflight is not None or ot.buffer is None:
            return
        if now < self._last_edit_at + self.edit_interval:
            return  # paced: ``tick`` sends it (later edits are composed into it meanwhile)
        budget = max(int(self.limits.get("max_message_bytes") or 262144) - 512, 600) // 6
        first, rest = split_op(ot.buffer, budget)  # 6 bytes of JSON per character at worst
        ot.buffer = first
        outgoing = ot.take_outgoing()
        assert outgoing is not None
        ot.buffer = rest or None
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        self._inflight_seq, self._inflight_conn = seq, self._conn
        self._sent_at = self._last_edit_at = now
        self._send_edit_frame(outgoing[0], outgoing[1], seq)

    def _resend(self, now: float) -> None:
        """Send the in-flight edit again exactly as first sent (base version, op, seq): the server
        commits it once, transformed from that base, whether or not the first copy arrived."""
        ot = self.ot
        assert ot is not None and self._inflight_seq is not None
        sent = ot.resync_inflight()
        assert sent is not None
        self._send_edit_frame(sent[0], sent[1], self._inflight_seq)
        self._inflight_conn, self._sent_at, self._resend_due = self._conn, now, False

    def _flush_cursor(self, now: float) -> None:
        ot = self.ot
        if (
            not self._cursor_dirty
            or not self.live
            or ot is None
            or now < self._cursor_at + self.cursor_interval
        ):
            return
        payload: dict[str, Any] = {"version": ot.version, "anchor": None, "head": None}
        if self._cursor is not None:
            anchor, head = self._cursor
            pending = self._pending_op()
            if pending:  # map back to the server's text: drop our unacknowledged edits
                anchor, head = transform_selection(anchor, head, invert(pending, self.server_text))
            payload["anchor"], payload["head"] = anchor, head
        self._out.append(_dumps("cursor", payload))
        self._cursor_dirty, self._cursor_at, self._cursor_exact = False, now, not self.pending

    def _pending_op(self) -> Op:
        ot = self.ot
        assert ot is not None
        ops = [op for op in (ot.inflight, ot.buffer) if op is not None]
        return compose(ops[0], ops[1]) if len(ops) == 2 else (ops[0] if ops else [])

    # -- rejection, recovery ---------------------------------------------------
    def _reject(self, code: str, message: str, now: float) -> None:
        """The server dropped our in-flight edit: undo it locally, keep later edits."""
        ot = self.ot
        assert ot is not None and ot.inflight is not None and self._inflight_seq is not None
        undo = invert(ot.inflight, self.server_text)
        buffer = None
        if ot.buffer is not None:
            undo, buffer = transform(undo, ot.buffer)
        fresh = OTClient(self.server_text, ot.version)
        if buffer:
            fresh.local(buffer)
        seq = self._inflight_seq
        self.ot, self._inflight_seq, self._resend_due = fresh, None, False
        self._moved(undo, own=False)
        self._events.append(EditRejected(seq, code, message, undo, fresh.text))
        if self.phase == "recovering":
            self._reconnect("rebasing local edits onto the server's text")
        elif self.phase == "live":
            if self._sync_since is None:
                self._send_sync(now)
            self._send_edit(now)

    def _start_recovery(self, reason: str) -> None:
        self._notice(f"{reason}; reconnecting to rebase local edits on the server's text")
        self._recover = reason
        self._reconnect(reason)

    def _committed_in_recovery(self, version: int) -> None:
        """Our in-flight edit is committed (as ``version``): fold it into the base text."""
        ot = self.ot
        assert ot is not None and ot.inflight is not None and self._inflight_seq is not None
        base = apply(self.server_text, ot.inflight)
        fresh = OTClient(base, ot.version)
        if ot.buffer is not None:
            fresh.local(ot.buffer)
        self._events.append(EditAcked(self._inflight_seq, version))
        self.ot, self.server_text, self._inflight_seq = fresh, base, None
        self._reconnect("rebasing local edits onto the server's text")

    def _rebase(self, version: int, content: str) -> None:
        """Move our unsent edits onto ``content`` (the server's text at ``version``) by diffing."""
        ot = self.ot
        assert ot is not None and ot.inflight is None
        change, buffer = fine_diff(self.server_text, content), ot.buffer
        if buffer is not None:
            change, buffer = transform(change, buffer)
        fresh = OTClient(content, version)
        if buffer:
            fresh.local(buffer)
        self.ot, self.server_text, self._recover = fresh, content, None
        self.room.forget_history()
        self._moved(change, own=False)
        if change:
            self._events.append(RemoteEdit(version, change, fresh.text))
        self._notice(f"rebased local edits onto the server's text at version {version}")

    def _reconnect(self, reason: str) -> None:
        if self.reconnect_reason is None:
            self.reconnect_reason = reason

    def _fail(self, error: CollabClientError) -> None:
        self.fatal = error
        self._out.clear()

    def _notice(self, message: str) -> None:
        self._events.append(Notice(message))

    # -- presence and cursors --------------------------------------------------
    def _place_cursor(self, session: str, at: int, anchor: int | None, head: int | None) -> None:
        ot = self.ot
        assert ot is not None
        size = len(ot.text)
        event = self.room.place(
            session, at, anchor, head, version=ot.version, pending=self._pending_op(), size=size
        )
        if event is not None:
            self._events.append(event)

    def _moved(self, op: Op, *, own: bool) -> None:
        """The local text changed by ``op``: move every cursor through it."""
        size = len(self.text)
        self.room.moved(op, size)
        if self._cursor is not None:
            a, h = transform_selection(*self._cursor, op, own=own)
            self._cursor = (min(a, size), min(h, size))
