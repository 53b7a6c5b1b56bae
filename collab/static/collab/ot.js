// @ts-check
/**
 * Plain-text operations, the same algebra as the server's `collab/ot/`
 * (operation.py and positions.py), and tested on the same JSON fixture.
 *
 * A document is one string; every position and length counts Unicode code
 * points (an emoji is one position). An operation ("op") is an array of
 * components applied left to right from position 0:
 *
 *     n > 0    retain n code points
 *     "s"      insert the string s
 *     -n < 0   delete n code points
 *     (whatever lies after the last component is retained)
 *
 *     apply("abcdefg", [3, "hi", -2])      // "abchifg"
 *     normalize([1, 2, -2, "x", 4])        // [3, "x", -2]
 *     transform([1, "X"], [1, "Y"])        // [[1, "X"], [2, "Y"]]: the first op wins the tie
 *
 * Errors: `InvalidOperation`, with subclasses `MalformedOperation` (not an
 * array, a component 0, "", true, 1.5...) and `OperationOutOfRange` (retains
 * or deletes past the end of the text).
 * @module
 */

import { advance, cpLength, isWellFormed } from "./text.js";

/** @typedef {number | string} Component */
/** @typedef {Component[]} Op */

/** The operation cannot be used. */
export class InvalidOperation extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** The operation's structure or component types are wrong. */
export class MalformedOperation extends InvalidOperation {}

/** The operation retains or deletes past the end of the text. */
export class OperationOutOfRange extends InvalidOperation {}

/** @param {unknown} value */
function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const text = JSON.stringify(value);
  return text === undefined ? typeof value : text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Validate the structure of `op` (not its length) and return it typed.
 * Lone UTF-16 surrogates are rejected: they are not text.
 * @param {unknown} op
 * @returns {Op}
 */
export function check(op) {
  if (!Array.isArray(op)) throw new MalformedOperation(`operation must be an array, got ${describe(op)}`);
  for (let i = 0; i < op.length; i++) {
    const c = op[i];
    if (typeof c === "string") {
      if (c === "") throw new MalformedOperation(`component ${i} must not be an empty string`);
      if (!isWellFormed(c)) throw new MalformedOperation(`component ${i} contains a lone surrogate`);
      if (c.includes("\u0000")) throw new MalformedOperation(`component ${i} contains a NUL character`);
    } else if (typeof c !== "number" || !Number.isSafeInteger(c) || c === 0) {
      throw new MalformedOperation(
        `component ${i} must be a non-zero integer or a non-empty string, got ${describe(c)}`,
      );
    }
  }
  return /** @type {Op} */ (op);
}

/**
 * How many code points a component inserts, retains or deletes.
 * @param {Component} c
 */
export function size(c) {
  return typeof c === "string" ? cpLength(c) : Math.abs(c);
}

/**
 * Collects components into a normalized op: between two retains, inserts are
 * gathered into one insert followed by one delete.
 */
class Builder {
  constructor() {
    /** @type {Op} */
    this.out = [];
    /** @type {string[]} */
    this.inserts = [];
    this.deleted = 0;
  }

  /** @param {Component} c */
  push(c) {
    if (typeof c === "string") {
      if (c) this.inserts.push(c);
    } else if (c < 0) {
      this.deleted -= c;
    } else if (c > 0) {
      this.flush();
      const last = this.out[this.out.length - 1];
      if (typeof last === "number" && last > 0) this.out[this.out.length - 1] = last + c;
      else this.out.push(c);
    }
  }

  /** @returns {Op} the normalized op, without the implied trailing retain */
  finish() {
    this.flush();
    const last = this.out[this.out.length - 1];
    if (typeof last === "number" && last > 0) this.out.pop();
    return this.out;
  }

  flush() {
    const inserted = this.inserts.join("");
    if (inserted) this.out.push(inserted);
    if (this.deleted) this.out.push(-this.deleted);
    this.inserts = [];
    this.deleted = 0;
  }
}

/** Reads an op's components, splitting them on demand; past its end, retains. */
class Reader {
  /** @param {Op} op */
  constructor(op) {
    this.op = op;
    this.sizes = op.map(size);
    this.i = 0;
    this.offset = 0; // code points of op[i] already taken
    this.offset16 = 0; // the same, in UTF-16 units (inserts only)
  }

  /** @returns {Component | undefined} the current component (maybe partly taken) */
  peek() {
    return this.op[this.i];
  }

  /**
   * Take up to `n` code points' worth; components of kind `whole` entirely.
   * @param {number} n
   * @param {"insert" | "delete"} whole
   * @returns {Component}
   */
  take(n, whole) {
    if (this.i >= this.op.length) return n;
    const c = this.op[this.i];
    const start = this.offset;
    let count = this.sizes[this.i] - start;
    const kind = typeof c === "string" ? "insert" : c < 0 ? "delete" : "retain";
    let end16 = typeof c === "string" ? c.length : 0;
    const start16 = this.offset16;
    if (kind === whole || count <= n) {
      this.i += 1;
      this.offset = 0;
      this.offset16 = 0;
    } else {
      count = n;
      this.offset = start + n;
      if (typeof c === "string") end16 = this.offset16 = advance(c, start16, n);
    }
    if (typeof c === "string") return c.slice(start16, end16);
    return c > 0 ? count : -count;
  }

  /** @returns {Op} everything not taken yet */
  rest() {
    if (this.i >= this.op.length) return [];
    const first = this.take(this.sizes[this.i], "insert");
    return [first, ...this.op.slice(this.i)];
  }
}

/**
 * Check `op` and return its normalized form (idempotent): no adjacent
 * components of one kind, inserts before deletes where they meet, no trailing
 * retain. `[-2, "x", 3]` becomes `["x", -2]`.
 * @param {unknown} op
 * @returns {Op}
 */
export function normalize(op) {
  const out = new Builder();
  for (const c of check(withoutEmpty(op))) out.push(c);
  return out.finish();
}

/**
 * `op` without zero and empty-string components (which normalizing drops);
 * only `normalize` accepts them, everything else wants real components.
 * @param {unknown} op
 * @returns {unknown}
 */
export function withoutEmpty(op) {
  return Array.isArray(op) ? op.filter((c) => c !== 0 && c !== "") : op;
}

/**
 * The minimum text length `op` needs: its retains plus its deletes.
 * @param {Op} op
 */
export function baseLength(op) {
  let n = 0;
  for (const c of check(op)) if (typeof c === "number") n += Math.abs(c);
  return n;
}

/**
 * @param {Op} op
 * @param {number} length
 */
function fits(op, length) {
  const need = baseLength(op);
  if (need > length) {
    throw new OperationOutOfRange(`operation spans ${need} characters but the text has only ${length}`);
  }
  return op;
}

/**
 * The length of a text of `length` code points after applying `op`.
 * @param {Op} op
 * @param {number} length
 */
export function targetLength(op, length) {
  for (const c of fits(op, length)) length += typeof c === "string" ? cpLength(c) : Math.min(c, 0);
  return length;
}

/**
 * Apply `op` to `text`.
 * @param {string} text
 * @param {Op} op
 * @returns {string}
 */
export function apply(text, op) {
  fits(op, cpLength(text));
  /** @type {string[]} */
  const parts = [];
  let pos = 0; // UTF-16 index into text
  for (const c of op) {
    if (typeof c === "string") {
      parts.push(c);
    } else if (c > 0) {
      const end = advance(text, pos, c);
      parts.push(text.slice(pos, end));
      pos = end;
    } else {
      pos = advance(text, pos, -c);
    }
  }
  parts.push(text.slice(pos));
  return parts.join("");
}

/**
 * True if `op` changes no text (it only retains).
 * @param {Op} op
 */
export function isNoop(op) {
  return check(op).every((c) => typeof c === "number" && c > 0);
}

/**
 * Rewrite `op` to apply after `other`; `left` ops win insert ties.
 * @param {Op} op
 * @param {Op} other
 * @param {boolean} left
 */
function transformOne(op, other, left) {
  const out = new Builder();
  const reader = new Reader(op);
  for (const c of other) {
    if (typeof c === "string") {
      if (left) {
        while (typeof reader.peek() === "string") out.push(reader.take(0, "insert"));
      }
      out.push(cpLength(c)); // step over the other op's insert
      continue;
    }
    let n = Math.abs(c);
    while (n > 0) {
      const piece = reader.take(n, "insert");
      if (typeof piece === "string") {
        out.push(piece);
        continue;
      }
      n -= Math.abs(piece);
      if (c > 0) out.push(piece); // kept text: our retain or delete stands
      // text the other op deleted: our retain or delete of it vanishes
    }
  }
  for (const piece of reader.rest()) out.push(piece);
  return out.finish();
}

/**
 * Reconcile concurrent ops `a` (committed first) and `b`.
 *
 * Returns `[a2, b2]` with `apply(apply(s, a), b2) === apply(apply(s, b), a2)`;
 * when both insert at the same position, `a`'s text ends up on the left.
 * @param {Op} a
 * @param {Op} b
 * @returns {[Op, Op]}
 */
export function transform(a, b) {
  a = normalize(a);
  b = normalize(b);
  return [transformOne(a, b, true), transformOne(b, a, false)];
}

/**
 * One op doing `a` then `b`: `apply(s, compose(a, b)) === apply(apply(s, a), b)`.
 * @param {Op} a
 * @param {Op} b
 * @returns {Op}
 */
export function compose(a, b) {
  const out = new Builder();
  const reader = new Reader(check(a));
  for (const c of check(b)) {
    if (typeof c === "string") {
      out.push(c);
      continue;
    }
    let n = Math.abs(c);
    while (n > 0) {
      const piece = reader.take(n, "delete");
      if (typeof piece === "number" && piece < 0) {
        out.push(piece); // a's deletes are invisible to b
        continue;
      }
      n -= size(piece);
      if (c > 0) out.push(piece);
      else if (typeof piece === "number") out.push(-piece); // b deletes text a retained
      // b deletes text a inserted: both vanish
    }
  }
  for (const piece of reader.rest()) out.push(piece);
  return out.finish();
}

/**
 * The op undoing `op`, where `text` is the text *before* `op`.
 *
 *     invert([1, "X", -2], "abcd")   // [1, "bc", -1]
 * @param {Op} op
 * @param {string} text
 * @returns {Op}
 */
export function invert(op, text) {
  fits(op, cpLength(text));
  const out = new Builder();
  let pos = 0; // UTF-16 index into text
  for (const c of op) {
    if (typeof c === "string") {
      out.push(-cpLength(c));
    } else if (c > 0) {
      out.push(c);
      pos = advance(text, pos, c);
    } else {
      const end = advance(text, pos, -c);
      out.push(text.slice(pos, end));
      pos = end;
    }
  }
  return out.finish();
}

/**
 * An op turning `oldText` into `newText`: common prefix, then common suffix.
 *
 *     diff("the cat", "the hat")   // [4, "h", -1]
 * @param {string} oldText
 * @param {string} newText
 * @returns {Op}
 */
export function diff(oldText, newText) {
  const a = Array.from(oldText);
  const b = Array.from(newText);
  const limit = Math.min(a.length, b.length);
  let prefix = 0;
  while (prefix < limit && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < limit - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  const out = new Builder();
  out.push(prefix);
  out.push(b.slice(prefix, b.length - suffix).join(""));
  out.push(suffix - a.length + prefix);
  return out.finish();
}

/**
 * Where a cursor at `pos` ends up after `op` is applied.
 *
 * Text inserted before the cursor pushes it right; text inserted exactly at
 * it goes after the cursor unless the op is the cursor owner's own edit
 * (`own`); a delete spanning it pulls it to the delete's start. A position
 * past the end is moved as if the text were long enough (clamp it yourself).
 * @param {number} pos
 * @param {Op} op
 * @param {boolean} [own]
 * @returns {number}
 */
export function transformPosition(pos, op, own = false) {
  if (!Number.isSafeInteger(pos) || pos < 0) throw new RangeError(`position must be a non-negative integer, got ${pos}`);
  let at = 0; // position in the text before op
  let shift = 0;
  for (const c of normalize(op)) {
    if (at > pos) break;
    if (typeof c === "string") {
      if (at < pos || own) shift += cpLength(c);
    } else if (c > 0) {
      at += c;
    } else {
      shift -= Math.min(-c, pos - at);
      at -= c;
    }
  }
  return pos + shift;
}

/**
 * Move both ends of a selection through `op` (see `transformPosition`).
 * @param {number} anchor
 * @param {number} head
 * @param {Op} op
 * @param {boolean} [own]
 * @returns {[number, number]}
 */
export function transformSelection(anchor, head, op, own = false) {
  return [transformPosition(anchor, op, own), transformPosition(head, op, own)];
}
