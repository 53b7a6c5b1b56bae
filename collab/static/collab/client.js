// @ts-check
/**
 * The browser client: a `Session` (session.js) over a WebSocket, with
 * reconnect (exponential backoff and jitter), resume, an ack timeout and a
 * heartbeat. No dependencies and no build step: import it as an ES module.
 *
 *     import { CollabClient } from "/static/collab/client.js";
 *
 *     const client = new CollabClient(`/ws/documents/${id}/`);
 *     client.on("ready", ({ text }) => { textarea.value = text; });
 *     client.on("change", ({ op, text }) => { textarea.value = text; });
 *     client.on("state", ({ state, delay }) => { badge.textContent = state; });
 *     textarea.oninput = () => client.replace(textarea.value, textarea.selectionEnd);
 *
 * Positions in `edit`, `select` and every event are code points (an emoji is
 * one position); `replace` takes a UTF-16 caret, as the DOM gives it. The
 * events are those of `Session` plus `state` (`{state, delay?, attempt}`):
 * `connecting`, `connected`, `reconnecting` (in `delay` ms), `offline` (the
 * browser is offline; retried when it is back) and `closed` (for good:
 * `close()` was called or the server said not to come back).
 * @module
 */

import { CloseCode } from "./codes.js";
import { Session, randomClientId } from "./session.js";

export { Session, randomClientId };

/** @typedef {import("./ot.js").Op} Op */
/** @typedef {"idle" | "connecting" | "connected" | "reconnecting" | "offline" | "closed"} ConnectionState */
/** @typedef {{ initial?: number, max?: number, factor?: number }} BackoffOptions */
/**
 * @typedef {{
 *   setTimeout: (fn: () => void, ms: number) => any,
 *   clearTimeout: (handle: any) => void,
 *   now: () => number,
 * }} Clock
 */
/**
 * @typedef {object} ClientOptions
 * @property {string} [token] an API token (default: the session cookie); it buys a ticket, or is sent as `?token=`
 * @property {string | null} [ticketUrl] where to get a single-use WebSocket ticket before each connect
 *   (default in a page: `/api/ws-ticket/`; `null`: no tickets, the cookie or `?token=` instead)
 * @property {typeof fetch} [fetch] the fetch function (tests pass a fake)
 * @property {string} [clientId] kept across reconnects; random by default
 * @property {BackoffOptions} [backoff] reconnect delays in ms (initial 500, max 15000, factor 2)
 * @property {number} [ackTimeout] ms to wait for an ack before `sync` and resend (default 8000)
 * @property {number} [pingInterval] ms of silence before a ping (default 20000)
 * @property {number} [pongTimeout] ms to wait for any frame after a ping (default 10000)
 * @property {number} [cursorInterval] ms between cursor messages at most (default 50)
 * @property {number} [connectTimeout] ms to wait for the server's hello after connecting (default 10000)
 * @property {boolean} [autoConnect] connect right away (default true)
 * @property {typeof WebSocket} [WebSocket] the WebSocket class (tests pass a fake)
 * @property {Clock} [clock] timers and time (tests pass a fake)
 * @property {() => number} [random] for jitter (default Math.random)
 */

const OPEN = 1;

/**
 * Reconnect delay before attempt `attempt` (1, 2, ...): exponential, capped,
 * with "equal jitter" (between half and all of the step) so that clients
 * dropped together do not come back together.
 * @param {number} attempt
 * @param {BackoffOptions} [options]
 * @param {() => number} [random]
 */
export function backoffDelay(attempt, { initial = 500, max = 15000, factor = 2 } = {}, random = Math.random) {
  const step = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/**
 * An absolute ws:// or wss:// URL for `path` on this page's host.
 * @param {string | URL} path
 * @param {string} [token]
 */
export function websocketUrl(path, token) {
  const base = globalThis.location ? globalThis.location.href : "http://localhost/";
  const url = new URL(String(path), base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

/** @type {Clock} */
const realClock = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle),
  now: () => Date.now(),
};

export class CollabClient extends EventTarget {
  /**
   * @param {string | URL} url the document's WebSocket, e.g. `/ws/documents/<id>/`
   * @param {ClientOptions} [options]
   */
  constructor(url, options = {}) {
    super();
    this.options = options;
    this.url = websocketUrl(url, options.token);
    this.bareUrl = websocketUrl(url);
    /** @type {string | null} */
    this.ticketUrl = options.ticketUrl !== undefined ? options.ticketUrl : globalThis.location ? "/api/ws-ticket/" : null;
    this.fetchImpl = options.fetch || (globalThis.fetch ? globalThis.fetch.bind(globalThis) : null);
    this.opening = false;
    this.clock = options.clock || realClock;
    this.random = options.random || Math.random;
    this.WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    this.session = new Session({ clientId: options.clientId || randomClientId(), now: () => this.clock.now() });
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {ConnectionState} */
    this.state = "idle";
    this.attempt = 0;
    /** @type {number | null} when the next attempt starts (clock ms) */
    this.retryAt = null;
    this.stopped = false;
    /** @type {Record<string, any>} */
    this.timers = {};
    /** @type {any} */
    this.pendingCursor = null;
    this.lastCursorAt = -Infinity;
    this.lastHeard = 0;
    this.onOnline = () => {
      if (this.state === "offline" || this.state === "reconnecting") this.reconnectNow();
    };
    if (typeof globalThis.addEventListener === "function") globalThis.addEventListener("online", this.onOnline);
    if (options.autoConnect !== false) queueMicrotask(() => this.state === "idle" && this.connect());
  }

  // -- what the application reads ---------------------------------------------------------
  /** The local text (code points as a JS string), with unacknowledged edits. */
  get text() {
    return this.session.text;
  }
  get version() {
    return this.session.version;
  }
  get role() {
    return this.session.role;
  }
  get canEdit() {
    return this.session.canEdit;
  }
  get canUndo() {
    return this.session.canUndo;
  }
  get canRedo() {
    return this.session.canRedo;
  }
  /** True while some local edit is not acknowledged yet. */
  get pending() {
    return this.session.pending;
  }
  get user() {
    return this.session.user;
  }
  get sessionId() {
    return this.session.sessionId;
  }
  get clientId() {
    return this.session.clientId;
  }
  get presence() {
    return [...this.session.presence.values()];
  }
  get cursors() {
    return [...this.session.cursors.values()];
  }

  /**
   * Listen to an event's detail; returns a function that stops listening.
   * @param {string} type
   * @param {(detail: any) => void} fn
   */
  on(type, fn) {
    /** @param {Event} event */
    const listener = (event) => fn(/** @type {CustomEvent} */ (event).detail);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  // -- what the application does ------------------------------------------------------------
  /** @param {Op} op an edit in code points on `text` */
  edit(op) {
    this.session.edit(op);
    this.pump();
  }

  /**
   * The text is now `newText` (say, a textarea's value after an input event);
   * `caret` is the UTF-16 caret after the change. Returns the op sent.
   * @param {string} newText
   * @param {number} [caret]
   */
  replace(newText, caret) {
    const op = this.session.replace(newText, caret);
    this.pump();
    return op;
  }

  /**
   * Our selection in code points (show it to the others), or null to hide it.
   * @param {number | null} anchor
   * @param {number | null} [head]
   */
  select(anchor, head = anchor) {
    this.session.setSelection(anchor, head);
    this.pump();
  }

  /** Undo this user's latest edit; returns the op applied or null. */
  undo() {
    const op = this.session.undo();
    this.pump();
    return op;
  }

  /** Redo the latest undone edit; returns the op applied or null. */
  redo() {
    const op = this.session.redo();
    this.pump();
    return op;
  }

  /** @param {"active" | "idle"} status */
  setStatus(status) {
    this.session.setStatus(status);
    this.pump();
  }

  /** Open the connection (again, after `close()`). */
  connect() {
    this.stopped = false;
    this.clear("reconnect");
    this.retryAt = null;
    if (this.ws || this.opening) return;
    this.setState("connecting");
    if (!this.ticketUrl || !this.fetchImpl) {
      this.open(this.url);
      return;
    }
    this.opening = true;
    this.ticketedUrl().then((url) => {
      this.opening = false;
      if (!this.stopped && !this.ws) this.open(url);
    });
  }

  /**
   * The URL for this attempt: with a fresh single-use ticket (the session cookie or
   * the token buys it), so no long-lived credential rides in the URL; without one
   * where the server has no tickets (404) or gives none (anonymous).
   * @returns {Promise<string>}
   */
  async ticketedUrl() {
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    if (this.options.token) headers.Authorization = `Token ${this.options.token}`;
    else {
      const csrf = (globalThis.document?.cookie || "").match(/(?:^|;\s*)csrftoken=([^;]+)/);
      if (!csrf) return this.url; // no signed-in session here: nothing to buy a ticket with
      headers["X-CSRFToken"] = decodeURIComponent(csrf[1]);
    }
    try {
      const resp = await /** @type {typeof fetch} */ (this.fetchImpl)(/** @type {string} */ (this.ticketUrl), {
        method: "POST",
        credentials: "same-origin",
        headers,
        signal: AbortSignal.timeout?.(this.options.connectTimeout ?? 10000),
      });
      if (resp.ok) {
        const { ticket } = await resp.json();
        const url = new URL(this.bareUrl);
        url.searchParams.set("ticket", ticket);
        return url.toString();
      }
      if (resp.status === 404 || resp.status === 405) this.ticketUrl = null; // an older server
    } catch {
      // offline or the server is down: the WebSocket attempt says so and backs off
    }
    return this.url;
  }

  /** @param {string} url */
  open(url) {
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new this.WebSocketImpl(url);
    } catch (err) {
      this.emit("error", { code: "connect_failed", message: String(err) });
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.arm("connect", this.options.connectTimeout ?? 10000, () => this.drop(false));
    ws.onopen = () => {
      this.session.opened();
      this.heard();
    };
    ws.onmessage = (event) => {
      this.heard();
      this.session.receive(typeof event.data === "string" ? event.data : "");
      this.pump();
    };
    ws.onclose = (event) => this.closedWith(event.code);
  }

  /** Skip the wait and try to reconnect now. */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    this.attempt = Math.max(0, this.attempt - 1);
    this.connect();
  }

  /** Close for good (until `connect()`). */
  close() {
    this.stopped = true;
    for (const name of Object.keys(this.timers)) this.clear(name);
    const ws = this.ws;
    if (ws) {
      this.detach(ws);
      ws.close(CloseCode.NORMAL);
    }
    this.ws = null;
    this.session.closed(CloseCode.NORMAL, true);
    this.pump();
    this.setState("closed");
    if (typeof globalThis.removeEventListener === "function") globalThis.removeEventListener("online", this.onOnline);
  }

  // -- internals -------------------------------------------------------------------------------
  /**
   * @param {string} type
   * @param {Record<string, any>} [detail]
   */
  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * @param {ConnectionState} state
   * @param {Record<string, any>} [extra]
   */
  setState(state, extra = {}) {
    this.state = state;
    this.emit("state", { state, attempt: this.attempt, ...extra });
  }

  /** Send what the session queued and hand its events to the listeners. */
  pump() {
    const ws = this.ws;
    const open = ws !== null && ws.readyState === OPEN;
    for (const frame of this.session.takeOutgoing()) {
      if (!open) continue; // the session resends what matters after the next hello
      if (frame.type === "cursor") {
        this.pendingCursor = frame;
        this.scheduleCursor();
      } else {
        /** @type {WebSocket} */ (ws).send(JSON.stringify(frame));
      }
    }
    for (const { type, ...detail } of this.session.takeEvents()) {
      if (type === "hello") {
        this.clear("connect");
        this.attempt = 0;
        this.setState("connected");
      }
      if (type === "sent") this.arm("ack", this.options.ackTimeout ?? 8000, () => this.ackTimedOut());
      if (type === "ack") this.clear("ack");
      this.emit(type, detail);
    }
    if (this.session.wantReconnect) {
      this.session.wantReconnect = false;
      this.drop();
    }
  }

  ackTimedOut() {
    this.session.ackTimedOut();
    if (this.session.pending && this.session.inflightSeq !== null) {
      this.arm("ack", this.options.ackTimeout ?? 8000, () => this.ackTimedOut());
    }
    this.pump();
  }

  scheduleCursor() {
    if (this.timers.cursor) return;
    const interval = this.options.cursorInterval ?? 50;
    const wait = Math.max(0, this.lastCursorAt + interval - this.clock.now());
    this.arm("cursor", wait, () => {
      const frame = this.pendingCursor;
      this.pendingCursor = null;
      if (frame && this.ws && this.ws.readyState === OPEN) {
        this.ws.send(JSON.stringify(frame));
        this.lastCursorAt = this.clock.now();
      }
    });
  }

  /** Any frame is a sign of life: re-arm the heartbeat. */
  heard() {
    this.lastHeard = this.clock.now();
    this.arm("heartbeat", this.options.pingInterval ?? 20000, () => {
      if (this.ws && this.ws.readyState === OPEN) this.ws.send(JSON.stringify({ type: "ping", payload: {} }));
      this.arm("heartbeat", this.options.pongTimeout ?? 10000, () => this.drop());
    });
  }

  /**
   * Give up on the current socket (it looks dead, or we need a fresh hello) and reconnect.
   * @param {boolean} [now] at once, rather than after the backoff delay
   */
  drop(now = true) {
    const ws = this.ws;
    if (!ws) return;
    this.detach(ws);
    try {
      ws.close(CloseCode.CLIENT_RECONNECTING, "reconnecting");
    } catch {
      // already closing
    }
    this.closedWith(CloseCode.ABNORMAL, now);
  }

  /**
   * @param {number} code
   * @param {boolean} [now] reconnect without waiting
   */
  closedWith(code, now = false) {
    if (this.ws) this.detach(this.ws);
    this.ws = null;
    this.clear("ack");
    this.clear("connect");
    this.clear("heartbeat");
    this.clear("cursor");
    this.pendingCursor = null;
    if (this.stopped) return;
    const { reconnect } = this.session.closed(code);
    this.pump();
    if (now) {
      this.connect();
    } else if (reconnect) {
      this.scheduleReconnect();
    } else {
      this.stopped = true;
      this.setState("closed", { code });
    }
  }

  scheduleReconnect() {
    if (typeof navigator !== "undefined" && navigator.onLine === false) {
      this.setState("offline");
      return;
    }
    this.attempt += 1;
    const delay = backoffDelay(this.attempt, this.options.backoff, this.random);
    this.retryAt = this.clock.now() + delay;
    this.arm("reconnect", delay, () => this.connect());
    this.setState("reconnecting", { delay, retryAt: this.retryAt });
  }

  /**
   * @param {string} name
   * @param {number} ms
   * @param {() => void} fn
   */
  arm(name, ms, fn) {
    this.clear(name);
    this.timers[name] = this.clock.setTimeout(() => {
      delete this.timers[name];
      fn();
    }, ms);
  }

  /** @param {string} name */
  clear(name) {
    if (this.timers[name] !== undefined) {
      this.clock.clearTimeout(this.timers[name]);
      delete this.timers[name];
    }
  }

  /** @param {WebSocket} ws */
  detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }
}
