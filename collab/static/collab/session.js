// @ts-check
/**
 * The protocol session without I/O: frames in, frames and events out.
 *
 * `Session` speaks PROTOCOL.md section 4-5 for one document over any number of
 * successive connections: hello, edits with (client_id, seq), acks, remote
 * ops, `sync` after a gap, a reconnect or a lost ack, idempotent resend of the
 * op in flight, presence, remote cursors kept in local coordinates, and undo.
 * It never touches a socket, a timer or the DOM; `client.js` moves its
 * frames over a WebSocket, and the tests feed it frames by hand (the
 * scenarios of tests/fixtures/session_cases.json are shared with the Python
 * client's session, which must behave the same):
 *
 *     const s = new Session({ clientId: "c1" });
 *     s.opened();
 *     s.receive({ type: "hello", payload: { ...document at version 3 } });
 *     s.edit([5, "!"]);
 *     s.takeOutgoing();   // [{type: "edit", payload: {version: 3, op: [5, "!"], client_id: "c1", seq: 1}}]
 *     s.takeEvents();     // [{type: "ready", ...}, {type: "hello", ...}, ...]
 *
 * Events (each `{type, ...detail}`):
 * - `ready` `{text}`: the first hello; the text to show.
 * - `hello` `{role, user, session, document, first}`: every (re)connection.
 * - `change` `{op, text, origin, user?, session?}`: the text changed by
 *   something other than `edit`/`replace` (origin `remote`, `undo`, `redo`,
 *   `reset`, or `rejected` with `seq` and `code`: the server refused our edit
 *   and it was taken out); `op` is in code points, as applied to the previous
 *   local text.
 * - `presence` `{entries}`, `cursors` `{cursors}`, `role` `{role}`.
 * - `sent` `{seq}`, `ack` `{version, seq}`, `pending` `{pending}`.
 * - `error` `{code, message}`: something to tell the user.
 * - `closed` `{code, message, reconnect}`.
 * @module
 */

import { CLOSE_ERRORS, CloseCode, ErrorCode, RECONNECT_CODES } from "./codes.js";
import { apply, check, diff, invert, isNoop, transform, transformPosition } from "./ot.js";
import { OTClient } from "./otclient.js";
import { cpLength, diffAround } from "./text.js";
import { UndoManager } from "./undo.js";

/** @typedef {import("./ot.js").Op} Op */
/** @typedef {{ id: number | null, name: string, color: string }} User */
/** @typedef {{ version: number, anchor: number | null, head: number | null }} CursorAt */
/**
 * @typedef {{ session: string, user: User, role: string, status: string, meta: Record<string, unknown>,
 *   cursor: CursorAt | null, joined_at: string }} PresenceEntry
 */
/** @typedef {{ session: string, user: User, anchor: number, head: number }} RemoteCursor */
/** @typedef {{ type: string, payload: any }} Frame */
/** @typedef {{ type: string, [key: string]: any }} SessionEvent */
/** @typedef {{ version: number, op: Op, session: string }} HistoryItem */

/** Close codes after which a client reconnects (PROTOCOL.md section 4, plus the standard "try again" ones). */
export { RECONNECT_CODES };

/** What to tell a person when the server closes for good. */
export const CLOSE_MESSAGES = /** @type {Record<number, string>} */ ({
  [CloseCode.CLOSED_BY_ADMIN]: "An administrator closed this session.",
  [CloseCode.PROTOCOL_ABUSE]: "The connection was closed after too many invalid messages.",
  [CloseCode.UNAUTHORIZED]: "Sign in to open this document.",
  [CloseCode.ACCESS_REVOKED]: "Your access to this document was removed.",
  [CloseCode.NOT_FOUND]: "This document does not exist, or you cannot open it.",
  [CloseCode.DOCUMENT_DELETED]: "This document was deleted.",
  [CloseCode.TOO_LARGE]: "The change was too large for this document.",
  [CloseCode.WRONG_KIND]: "This is a Yjs document: open it with a Yjs editor.",
  [CloseCode.RATE_LIMITED]: "The connection was closed: too many messages.",
});

/** Errors about our own edit after which the server dropped it: undo it, keep later edits, `sync`. */
const EDIT_REJECTED = new Set([
  ErrorCode.FORBIDDEN, ErrorCode.INVALID_OP, ErrorCode.DOCUMENT_TOO_LARGE, ErrorCode.INVALID_MESSAGE,
]);
const EDITOR_ROLES = new Set(["editor", "owner"]);
const HISTORY_KEPT = 500;

/** @returns {string} a random client id (kept across reconnects, not across page loads) */
export function randomClientId() {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * @param {number} pos
 * @param {number} length
 */
const clamp = (pos, length) => Math.max(0, Math.min(pos, length));

export class Session {
  /**
   * @param {{ clientId?: string, now?: () => number, undo?: UndoManager }} [options]
   */
  constructor({ clientId = randomClientId(), now = () => Date.now(), undo = new UndoManager() } = {}) {
    this.clientId = clientId;
    this.now = now;
    this.undoManager = undo;
    this.seq = 0;
    /** @type {number | null} seq of the op in flight */
    this.inflightSeq = null;
    /** @type {OTClient | null} */
    this.ot = null;
    this.serverText = ""; // the text at `version`, as the server has it (without our pending edits)
    this.role = "viewer";
    /** @type {User | null} */
    this.user = null;
    /** @type {string | null} this connection's session id */
    this.sessionId = null;
    /** @type {{ id: string, title: string } | null} */
    this.document = null;
    /** @type {Record<string, number>} */
    this.limits = {};
    /** @type {Map<string, PresenceEntry>} */
    this.presence = new Map();
    /** @type {Map<string, RemoteCursor>} remote carets, in local code points */
    this.cursors = new Map();
    /** @type {Map<string, {session: string, user: User, version: number, anchor: number, head: number}>} */
    this.stashedCursors = new Map(); // cursors at a version we have not reached yet
    /** @type {HistoryItem[]} recent committed ops, as the server has them */
    this.history = [];
    this.connected = false; // hello received on the current connection
    this.syncing = false; // a sync was sent, its answer not seen yet
    this.resendAfterSync = false;
    this.resetPending = false; // take the next hello's text as is
    this.wantReconnect = false; // for the I/O layer: drop the connection and reconnect now
    /** @type {{ anchor: number, head: number } | null} our selection, local code points */
    this.selection = null;
    this.cursorStale = false;
    this.status = "active";
    /** @type {{ code: string, message: string } | null} */
    this.lastError = null;
    /** @type {Frame[]} */
    this.outbox = [];
    /** @type {SessionEvent[]} */
    this.events = [];
  }

  // -- state ------------------------------------------------------------------
  get text() {
    return this.ot ? this.ot.text : "";
  }

  get version() {
    return this.ot ? this.ot.version : -1;
  }

  get canEdit() {
    return this.ot !== null && EDITOR_ROLES.has(this.role);
  }

  /** True while some local edit is not acknowledged yet. */
  get pending() {
    return this.ot !== null && this.ot.state !== "synchronized";
  }

  get canUndo() {
    return this.canEdit && this.undoManager.canUndo;
  }

  get canRedo() {
    return this.canEdit && this.undoManager.canRedo;
  }

  /** @returns {Frame[]} frames to send, in order */
  takeOutgoing() {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  /** @returns {SessionEvent[]} events since the last call, in order */
  takeEvents() {
    const out = this.events;
    this.events = [];
    return out;
  }

  /**
   * @param {string} type
   * @param {Record<string, any>} [detail]
   */
  emit(type, detail = {}) {
    this.events.push({ type, ...detail });
  }

  /**
   * @param {string} type
   * @param {any} payload
   */
  send(type, payload) {
    this.outbox.push({ type, payload });
  }

  // -- connection lifecycle -------------------------------------------------------
  /** A new connection is open; nothing is sent before its hello. */
  opened() {
    this.connected = false;
    this.syncing = false;
    this.resendAfterSync = false;
    this.lastError = null;
  }

  /**
   * The connection closed with `code`. Says whether to reconnect.
   * @param {number} code
   * @param {boolean} [byUs] we closed it ourselves: no `closed` event
   * @returns {{ reconnect: boolean, message: string }}
   */
  closed(code, byUs = false) {
    this.connected = false;
    this.syncing = false;
    this.resendAfterSync = false;
    this.wantReconnect = false;
    this.outbox = [];
    if (this.presence.size || this.cursors.size) {
      this.presence.clear();
      this.cursors.clear();
      this.stashedCursors.clear();
      this.emitPresence();
      this.emitCursors();
    }
    const reconnect = RECONNECT_CODES.has(code);
    const message = reconnect
      ? "Connection lost; reconnecting."
      : (this.lastError && CLOSE_ERRORS[code] === this.lastError.code && this.lastError.message) ||
        CLOSE_MESSAGES[code] ||
        `The connection closed (code ${code}).`;
    if (!byUs) this.emit("closed", { code, message, reconnect });
    return { reconnect, message };
  }

  /**
   * One frame from the server (JSON text or an already parsed object).
   * @param {string | Frame} data
   */
  receive(data) {
    /** @type {Frame} */
    let frame;
    try {
      frame = typeof data === "string" ? JSON.parse(data) : data;
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
    const p = frame.payload && typeof frame.payload === "object" ? frame.payload : {};
    switch (frame.type) {
      case "hello":
        return this.onHello(p);
      case "ack":
        return this.onAck(p);
      case "op":
        return this.onOps([p]);
      case "ops":
        return this.onOps(Array.isArray(p.ops) ? p.ops : [], true);
      case "cursor":
        return this.onCursor(p);
      case "presence":
        return this.onPresence(p);
      case "role":
        return this.onRole(p);
      case "error":
        return this.onError(p);
      default:
        return; // pong, and types added later
    }
  }

  // -- local actions -------------------------------------------------------------
  /**
   * Our own edit (an op in code points on `text`); it is sent when possible.
   * @param {Op} op
   */
  edit(op) {
    if (!this.ot) throw new Error("the document is not loaded yet");
    if (!this.canEdit) throw new Error(`your role (${this.role}) does not allow editing`);
    const before = this.ot.text;
    this.applyLocal(op);
    this.undoManager.record(op, before, this.now());
  }

  /**
   * Replace the whole text by `newText` (what a textarea holds after an input
   * event); `caret` is the UTF-16 caret in `newText`, to place the change.
   * Returns the op, or null if nothing changed.
   * @param {string} newText
   * @param {number} [caret]
   * @returns {Op | null}
   */
  replace(newText, caret) {
    const op = diffAround(this.text, newText, caret);
    if (!op.length) return null;
    this.edit(op);
    return op;
  }

  /** @returns {Op | null} the op applied, or null if there is nothing to undo */
  undo() {
    return this.step("undo");
  }

  /** @returns {Op | null} the op applied, or null if there is nothing to redo */
  redo() {
    return this.step("redo");
  }

  /**
   * Our selection (code points in `text`), or null to hide our caret.
   * @param {number | null} anchor
   * @param {number | null} [head]
   */
  setSelection(anchor, head = anchor) {
    this.selection = anchor === null || head === null ? null : { anchor, head };
    this.sendCursor();
  }

  /** @param {"active" | "idle"} status */
  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    if (this.connected) this.send("presence", { status });
  }

  /** No ack came in time: ask what was committed, then resend what was not. */
  ackTimedOut() {
    if (!this.connected || !this.ot || this.ot.inflight === null) return;
    this.resendAfterSync = true;
    this.requestSync(true);
  }

  // -- server messages ------------------------------------------------------------
  /** @param {any} p */
  onHello(p) {
    const doc = p.document || {};
    this.sessionId = String(p.session);
    this.role = String(p.role);
    this.user = p.user;
    this.document = { id: String(doc.id), title: String(doc.title) };
    this.limits = p.limits || {};
    this.presence = new Map((p.presence || []).map((/** @type {PresenceEntry} */ e) => [e.session, e]));
    this.cursors.clear();
    this.stashedCursors.clear();
    const first = this.ot === null;
    if (this.ot === null || this.resetPending || doc.version < this.ot.version) {
      const old = this.ot;
      const hadPending = this.pending;
      this.ot = new OTClient(String(doc.content), Number(doc.version));
      this.serverText = this.ot.text;
      this.inflightSeq = null;
      this.history = [];
      this.undoManager.clear();
      this.resetPending = false;
      if (old === null) {
        this.emit("ready", { text: this.ot.text });
      } else {
        this.emit("change", { op: diff(old.text, this.ot.text), text: this.ot.text, origin: "reset" });
        if (hadPending) {
          this.emit("error", {
            code: "changes_discarded",
            message: "Your latest changes could not be saved and were undone.",
          });
        }
      }
    }
    this.connected = true;
    this.emit("hello", {
      role: this.role,
      user: this.user,
      session: this.sessionId,
      document: { ...this.document, version: doc.version },
      first,
    });
    this.emitPresence();
    for (const entry of this.presence.values()) {
      if (entry.cursor && entry.session !== this.sessionId) {
        this.onCursor({ session: entry.session, user: entry.user, ...entry.cursor });
      }
    }
    this.emitCursors();
    if (this.status !== "active") this.send("presence", { status: this.status });
    if (this.ot.version < doc.version) {
      // We missed ops while away: fetch them, then resend ours if still unacknowledged.
      this.resendAfterSync = this.ot.inflight !== null;
      this.requestSync(true);
    } else {
      this.resendInflight();
      this.flush();
    }
    if (this.selection) this.sendCursor();
    this.emit("pending", { pending: this.pending });
  }

  /** @param {any} p */
  onAck(p) {
    const ot = this.ot;
    if (!ot || p.client_id !== this.clientId || ot.inflight === null || p.seq !== this.inflightSeq) return;
    if (p.version <= ot.version) return; // a stale re-ack
    if (p.version !== ot.version + 1) {
      this.requestSync(); // ops are missing before ours: they (and ours) come with the answer
      return;
    }
    this.finishAck(p.version);
  }

  /**
   * @param {any[]} ops
   * @param {boolean} [batch] an `ops` frame, maybe the answer to our sync
   */
  onOps(ops, batch = false) {
    const wasSyncing = batch && this.syncing;
    if (wasSyncing) this.syncing = false;
    for (const p of ops) {
      if (!this.onOp(p)) break;
    }
    if (wasSyncing && !this.syncing) {
      if (this.resendAfterSync) {
        this.resendAfterSync = false;
        this.resendInflight();
      }
      this.flush();
    }
  }

  /**
   * One committed op; false if the rest of a batch must not be applied.
   * @param {any} p
   */
  onOp(p) {
    const ot = this.ot;
    if (!ot || !p || typeof p.version !== "number") return true;
    if (p.version <= ot.version) return true; // seen already
    if (p.version !== ot.version + 1) {
      this.requestSync();
      return false;
    }
    if (p.client_id === this.clientId && ot.inflight !== null && p.seq === this.inflightSeq) {
      this.finishAck(p.version); // our own op, met in a sync answer
      return true;
    }
    /** @type {Op} */
    let applied;
    try {
      const serverText = apply(this.serverText, check(p.op));
      applied = ot.remote(p.version, p.op);
      this.serverText = serverText;
    } catch (err) {
      this.hardReset("out_of_sync", "This page fell out of step with the server; reloading the document.");
      return false;
    }
    const session = String(p.session || "");
    this.remember({ version: p.version, op: p.op, session });
    this.undoManager.transform(applied);
    this.moveSelection(applied, false);
    this.moveCursors(applied, session);
    this.emit("change", { op: applied, text: ot.text, origin: "remote", user: p.user, session, version: p.version });
    this.releaseStashedCursors();
    this.emitCursors();
    return true;
  }

  /** @param {any} p */
  onCursor(p) {
    if (!this.ot || !p || p.session === this.sessionId) return;
    const session = String(p.session);
    if (typeof p.anchor !== "number" || typeof p.head !== "number") {
      this.stashedCursors.delete(session);
      if (this.cursors.delete(session)) this.emitCursors();
      return;
    }
    const cursor = { session, user: p.user, version: p.version, anchor: p.anchor, head: p.head };
    if (p.version > this.ot.version) {
      this.stashedCursors.set(session, cursor); // shown once we have that version
      return;
    }
    this.stashedCursors.delete(session);
    this.placeCursor(cursor);
    this.emitCursors();
  }

  /** @param {any} p */
  onPresence(p) {
    for (const entry of p.joined || []) this.presence.set(entry.session, entry);
    for (const entry of p.updated || []) {
      const old = this.presence.get(entry.session);
      this.presence.set(entry.session, old ? { ...old, ...entry } : entry);
    }
    let cursorsChanged = false;
    for (const session of p.left || []) {
      this.presence.delete(session);
      this.stashedCursors.delete(session);
      cursorsChanged = this.cursors.delete(session) || cursorsChanged;
    }
    for (const entry of this.presence.values()) {
      const cursor = this.cursors.get(entry.session);
      if (cursor) cursor.user = entry.user;
    }
    this.emitPresence();
    if (cursorsChanged) this.emitCursors();
  }

  /** @param {any} p */
  onRole(p) {
    this.role = String(p.role);
    this.emit("role", { role: this.role });
    const me = this.sessionId && this.presence.get(this.sessionId);
    if (me) {
      me.role = this.role;
      this.emitPresence();
    }
    if (!this.canEdit && this.pending) {
      this.hardReset(ErrorCode.FORBIDDEN, "You can no longer edit this document; your unsaved changes were undone.");
    }
  }

  /** @param {any} p */
  onError(p) {
    const code = String(p.code || "error");
    const message = String(p.message || "Something went wrong.");
    this.lastError = { code, message };
    const ref = p.ref;
    const mine = ref && typeof ref === "object" && ref.client_id === this.clientId;
    const inflight = mine && this.ot !== null && this.ot.inflight !== null && ref.seq === this.inflightSeq;
    if (mine && (EDIT_REJECTED.has(code) || code === ErrorCode.VERSION_AHEAD)) {
      if (inflight && code === ErrorCode.VERSION_AHEAD) this.hardReset(code, `${message} Your latest changes were undone.`);
      else if (inflight) this.reject(code, message);
      return;
    }
    if (code === ErrorCode.HISTORY_UNAVAILABLE) {
      this.hardReset(code, message);
      return;
    }
    this.emit("error", { code, message });
  }

  // -- internals ----------------------------------------------------------------------
  /** @param {Op} op */
  applyLocal(op) {
    const ot = /** @type {OTClient} */ (this.ot);
    ot.local(op);
    this.moveSelection(op, true);
    this.moveCursors(op, null);
    this.emitCursors();
    this.flush();
    this.emit("pending", { pending: this.pending });
  }

  /** @param {"undo" | "redo"} which */
  step(which) {
    if (!this.canEdit || !this.ot) return null;
    const undo = this.undoManager;
    const op = which === "undo" ? undo.popUndo() : undo.popRedo();
    if (!op) return null;
    const before = this.ot.text;
    try {
      this.applyLocal(op);
    } catch {
      undo.clear(); // cannot happen unless the stacks went wrong: forget them rather than corrupt
      return null;
    }
    if (which === "undo") undo.pushRedo(op, before);
    else undo.pushUndo(op, before);
    this.emit("change", { op, text: this.ot.text, origin: which });
    return op;
  }

  /** Send the buffered local edits if nothing is in flight. */
  flush() {
    if (!this.connected || this.syncing || !this.ot || !this.canEdit) return;
    const out = this.ot.takeOutgoing();
    if (!out) return;
    this.seq += 1;
    this.inflightSeq = this.seq;
    this.send("edit", { version: out[0], op: out[1], client_id: this.clientId, seq: this.seq });
    this.emit("sent", { seq: this.seq });
  }

  resendInflight() {
    const again = this.ot && this.ot.resyncInflight();
    if (!again || this.inflightSeq === null) return;
    this.send("edit", { version: again[0], op: again[1], client_id: this.clientId, seq: this.inflightSeq });
    this.emit("sent", { seq: this.inflightSeq, resend: true });
  }

  /** @param {boolean} [force] send even if a sync is already awaited */
  requestSync(force = false) {
    if (!this.connected || !this.ot || (this.syncing && !force)) return;
    this.syncing = true;
    this.send("sync", { version: this.ot.version });
  }

  /** @param {number} version */
  finishAck(version) {
    const ot = /** @type {OTClient} */ (this.ot);
    const op = /** @type {Op} */ (ot.inflight);
    const serverText = apply(this.serverText, op);
    ot.ack(version);
    this.serverText = serverText;
    this.resendAfterSync = false; // acked: nothing left to resend
    this.remember({ version, op, session: this.sessionId || "" });
    const seq = this.inflightSeq;
    this.inflightSeq = null;
    this.emit("ack", { version, seq });
    this.releaseStashedCursors();
    if (this.cursorStale) this.sendCursor();
    this.flush();
    this.emit("pending", { pending: this.pending });
  }

  /** @param {HistoryItem} item */
  remember(item) {
    this.history.push(item);
    if (this.history.length > HISTORY_KEPT) this.history.splice(0, this.history.length - HISTORY_KEPT);
  }

  /**
   * The server dropped our edit in flight (PROTOCOL.md: `invalid_op` and the like): take it
   * out of the local text, keep the edits typed since, and `sync` (the answer, or the edits
   * buffered meanwhile, go out as usual).
   * @param {string} code
   * @param {string} message
   */
  reject(code, message) {
    const ot = /** @type {OTClient} */ (this.ot);
    let undo = invert(/** @type {Op} */ (ot.inflight), this.serverText);
    /** @type {Op | null} */
    let buffer = ot.buffer;
    if (buffer !== null) [undo, buffer] = transform(undo, buffer);
    const fresh = new OTClient(this.serverText, ot.version);
    if (buffer !== null && buffer.length) fresh.local(buffer);
    const seq = this.inflightSeq;
    this.ot = fresh;
    this.inflightSeq = null;
    this.resendAfterSync = false;
    this.undoManager.clear(); // its steps were relative to the text with the rejected edit
    this.moveSelection(undo, false);
    this.moveCursors(undo, null);
    this.emit("change", { op: undo, text: fresh.text, origin: "rejected", seq, code });
    this.emit("error", { code, message: `${message} Your latest change was undone.` });
    this.emitCursors();
    this.requestSync();
    this.flush();
    this.emit("pending", { pending: this.pending });
  }

  /**
   * Drop local state that the server will never acknowledge and reconnect for
   * a fresh copy of the text (the I/O layer acts on `wantReconnect`).
   * @param {string} code
   * @param {string} message
   */
  hardReset(code, message) {
    this.resetPending = true;
    this.wantReconnect = true;
    this.emit("error", { code, message });
  }

  /**
   * Queue our selection for the others. Not while our own edits are pending:
   * the server would move the cursor through our insert as if it were someone
   * else's (leaving it before the text we typed). The others move our caret
   * past our ops themselves; the exact position follows once they are acked.
   */
  sendCursor() {
    if (!this.connected || !this.ot) return;
    if (this.pending) {
      this.cursorStale = true;
      return;
    }
    this.cursorStale = false;
    const length = cpLength(this.ot.text);
    const sel = this.selection;
    this.send("cursor", {
      version: this.ot.version,
      anchor: sel ? clamp(sel.anchor, length) : null,
      head: sel ? clamp(sel.head, length) : null,
    });
  }

  /**
   * Show a cursor given at `version` <= ours: move it through the ops since
   * then and through our pending edits, into local coordinates.
   * @param {{session: string, user: User, version: number, anchor: number, head: number}} c
   */
  placeCursor(c) {
    const ot = /** @type {OTClient} */ (this.ot);
    let { anchor, head } = c;
    for (const item of this.history) {
      if (item.version <= c.version) continue;
      const own = item.session === c.session;
      anchor = transformPosition(anchor, item.op, own);
      head = transformPosition(head, item.op, own);
    }
    for (const op of [ot.inflight, ot.buffer]) {
      if (!op) continue;
      anchor = transformPosition(anchor, op);
      head = transformPosition(head, op);
    }
    const length = cpLength(ot.text);
    const user = (this.presence.get(c.session) || {}).user || c.user;
    this.cursors.set(c.session, { session: c.session, user, anchor: clamp(anchor, length), head: clamp(head, length) });
  }

  releaseStashedCursors() {
    const version = this.version;
    for (const [session, c] of this.stashedCursors) {
      if (c.version <= version) {
        this.stashedCursors.delete(session);
        this.placeCursor(c);
      }
    }
  }

  /**
   * @param {Op} op an op just applied to the local text
   * @param {string | null} session whose op it is (their caret moves past their own insert)
   */
  moveCursors(op, session) {
    if (isNoop(op) || !this.cursors.size) return;
    const length = cpLength(this.text);
    for (const c of this.cursors.values()) {
      const own = c.session === session;
      c.anchor = clamp(transformPosition(c.anchor, op, own), length);
      c.head = clamp(transformPosition(c.head, op, own), length);
    }
  }

  /**
   * Keep our own selection in place through an op (ours: `own`, the caret
   * moves past what we typed).
   * @param {Op} op
   * @param {boolean} own
   */
  moveSelection(op, own) {
    if (!this.selection || isNoop(op)) return;
    const length = cpLength(this.text);
    this.selection = {
      anchor: clamp(transformPosition(this.selection.anchor, op, own), length),
      head: clamp(transformPosition(this.selection.head, op, own), length),
    };
  }

  emitPresence() {
    const entries = [...this.presence.values()].sort((a, b) =>
      a.joined_at < b.joined_at ? -1 : a.joined_at > b.joined_at ? 1 : 0,
    );
    this.emit("presence", { entries });
  }

  emitCursors() {
    this.emit("cursors", { cursors: [...this.cursors.values()].map((c) => ({ ...c })) });
  }
}
