// @ts-check
/**
 * Who is in which document, live, without the documents' edit streams: the
 * presence room `/ws/presence/` (subscribe to up to 100 document ids).
 *
 *     import { PresenceRoom } from "/static/collab/presence.js";
 *
 *     const room = new PresenceRoom();
 *     room.on("presence", ({ document, entries }) => render(document, entries));
 *     room.subscribe([id1, id2]);
 *
 * Reconnects with the same backoff as `CollabClient` and subscribes again.
 * Events: `presence` `{document, entries}` (the full list for that document
 * after each change), `state` `{state}`, `error` `{code, message, ref}`.
 * @module
 */

import { backoffDelay, websocketUrl } from "./client.js";
import { CloseCode, RECONNECT_CODES } from "./codes.js";

/** @typedef {import("./session.js").PresenceEntry} PresenceEntry */

const OPEN = 1;

export class PresenceRoom extends EventTarget {
  /**
   * @param {{ url?: string, token?: string, WebSocket?: typeof WebSocket,
   *   backoff?: import("./client.js").BackoffOptions }} [options]
   */
  constructor(options = {}) {
    super();
    this.options = options;
    this.url = websocketUrl(options.url || "/ws/presence/", options.token);
    this.WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    /** @type {Set<string>} */
    this.documents = new Set();
    /** @type {Map<string, Map<string, PresenceEntry>>} */
    this.entries = new Map();
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    /** @type {any} */
    this.timer = null;
    this.state = "idle";
  }

  /**
   * @param {string} type
   * @param {(detail: any) => void} fn
   */
  on(type, fn) {
    /** @param {Event} event */
    const listener = (event) => fn(/** @type {CustomEvent} */ (event).detail);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  /** @param {string[]} ids */
  subscribe(ids) {
    const fresh = ids.filter((id) => !this.documents.has(id));
    for (const id of fresh) this.documents.add(id);
    if (!this.ws && !this.stopped) this.connect();
    else if (fresh.length) this.sendDocuments("subscribe", fresh);
  }

  /** @param {string[]} ids */
  unsubscribe(ids) {
    const gone = ids.filter((id) => this.documents.delete(id));
    for (const id of gone) this.entries.delete(id);
    if (gone.length) this.sendDocuments("unsubscribe", gone);
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(CloseCode.NORMAL);
    }
    this.ws = null;
    this.setState("closed");
  }

  connect() {
    clearTimeout(this.timer);
    this.setState("connecting");
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("connected");
      this.sendDocuments("subscribe", [...this.documents]);
    };
    ws.onmessage = (event) => this.receive(String(event.data));
    ws.onclose = (event) => {
      this.ws = null;
      for (const id of this.entries.keys()) this.entries.set(id, new Map());
      for (const id of this.entries.keys()) this.emitDocument(id);
      if (this.stopped || !RECONNECT_CODES.has(event.code)) {
        this.setState("closed");
        return;
      }
      this.attempt += 1;
      const delay = backoffDelay(this.attempt, this.options.backoff);
      this.timer = setTimeout(() => this.connect(), delay);
      this.setState("reconnecting", { delay });
    };
  }

  /** @param {string} data */
  receive(data) {
    /** @type {any} */
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    const p = (frame && frame.payload) || {};
    if (frame.type === "presence" && typeof p.document === "string") {
      const map = this.entries.get(p.document) || new Map();
      this.entries.set(p.document, map);
      for (const e of [...(p.joined || []), ...(p.updated || [])]) map.set(e.session, e);
      for (const session of p.left || []) map.delete(session);
      this.emitDocument(p.document);
    } else if (frame.type === "subscribed" && Array.isArray(p.documents)) {
      for (const id of [...this.entries.keys()]) {
        if (!p.documents.includes(id)) {
          this.entries.delete(id);
          this.emitDocument(id);
        }
      }
    } else if (frame.type === "error") {
      this.dispatchEvent(new CustomEvent("error", { detail: p }));
    }
  }

  /** @param {string} id */
  emitDocument(id) {
    const entries = [...(this.entries.get(id) || new Map()).values()];
    this.dispatchEvent(new CustomEvent("presence", { detail: { document: id, entries } }));
  }

  /**
   * @param {string} type
   * @param {string[]} ids
   */
  sendDocuments(type, ids) {
    if (!this.ws || this.ws.readyState !== OPEN) return; // sent on (re)connect
    for (let i = 0; i < ids.length; i += 100) {
      this.ws.send(JSON.stringify({ type, payload: { documents: ids.slice(i, i + 100) } }));
    }
  }

  /**
   * @param {string} state
   * @param {Record<string, any>} [extra]
   */
  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...extra } }));
  }
}
