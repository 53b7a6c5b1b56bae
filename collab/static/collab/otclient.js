// @ts-check
/**
 * The ot.js client state machine without any I/O, the same as the server's
 * `collab/ot/client.py`.
 *
 * The client keeps at most one op in flight (sent, awaiting the server's ack)
 * and composes further local edits into a buffer. Remote ops are transformed
 * past both, the remote op winning insert ties because the server committed
 * it first. The caller moves messages; this class only keeps the state:
 *
 *     const c = new OTClient("hello", 7);
 *     c.local([5, "!"]);
 *     c.takeOutgoing();          // [7, [5, "!"]]: send (base version, op)
 *     c.remote(8, ["Oh, "]);     // someone else's op, committed as v8
 *     c.text, c.inflight;        // "Oh, hello!", [9, "!"]
 *     c.ack(9);                  // ours was committed as v9
 *     c.state, c.version;        // "synchronized", 9
 *
 * States: `synchronized` (nothing pending), `buffered` (local edits not sent
 * yet, nothing in flight: call `takeOutgoing`), `awaiting_ack` and
 * `awaiting_ack_with_buffer`. Messages must arrive in commit order.
 * @module
 */

import { apply, compose, normalize, transform } from "./ot.js";

/** @typedef {import("./ot.js").Op} Op */
/** @typedef {"synchronized" | "buffered" | "awaiting_ack" | "awaiting_ack_with_buffer"} ClientState */

/** A message arrived that the client's state cannot accept. */
export class ClientStateError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ClientStateError";
  }
}

export class OTClient {
  /**
   * @param {string} text
   * @param {number} version
   */
  constructor(text, version) {
    /** Local text, including unacknowledged edits. */
    this.text = text;
    /** Last server version incorporated. */
    this.version = version;
    /** @type {Op | null} sent, awaiting ack (rebased on remote ops) */
    this.inflight = null;
    /** @type {Op | null} local edits not sent yet, composed */
    this.buffer = null;
    /** @type {[number, Op] | null} inflight exactly as sent */
    this.sent = null;
  }

  /** @returns {ClientState} */
  get state() {
    if (this.inflight === null) return this.buffer === null ? "synchronized" : "buffered";
    return this.buffer === null ? "awaiting_ack" : "awaiting_ack_with_buffer";
  }

  /**
   * Apply a local edit to `text` and add it to the buffer.
   * @param {Op} op
   */
  local(op) {
    const text = apply(this.text, op); // throws before any state changes
    const buffer = this.buffer === null ? normalize(op) : compose(this.buffer, op);
    this.text = text;
    this.buffer = buffer.length ? buffer : null;
  }

  /**
   * If nothing is in flight, move the buffer in flight and return
   * `[base version, op]` to send; otherwise null.
   * @returns {[number, Op] | null}
   */
  takeOutgoing() {
    if (this.inflight !== null || this.buffer === null) return null;
    this.inflight = this.buffer;
    this.buffer = null;
    this.sent = [this.version, [...this.inflight]];
    return [this.version, [...this.inflight]];
  }

  /**
   * The in-flight op was committed as `version`.
   * @param {number} version
   */
  ack(version) {
    if (this.inflight === null) {
      throw new ClientStateError(`ack for version ${version} but no operation is in flight`);
    }
    this.expect(version);
    this.inflight = null;
    this.sent = null;
    this.version = version;
  }

  /**
   * Another client's op, committed as `version`; returns it as applied here.
   * @param {number} version
   * @param {Op} op
   * @returns {Op}
   */
  remote(version, op) {
    this.expect(version);
    let { inflight, buffer } = this;
    if (inflight !== null) [op, inflight] = transform(op, inflight);
    if (buffer !== null) [op, buffer] = transform(op, buffer);
    this.text = apply(this.text, op); // throws before any state changes
    this.inflight = inflight;
    this.buffer = buffer && buffer.length ? buffer : null;
    this.version = version;
    return op;
  }

  /**
   * After a reconnect: the in-flight op to resend, exactly as first sent.
   * @returns {[number, Op] | null}
   */
  resyncInflight() {
    return this.sent === null ? null : [this.sent[0], [...this.sent[1]]];
  }

  /** @param {number} version */
  expect(version) {
    if (version !== this.version + 1) {
      throw new ClientStateError(`expected version ${this.version + 1}, got ${version}`);
    }
  }
}
