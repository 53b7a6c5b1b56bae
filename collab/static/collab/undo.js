// @ts-check
/**
 * Undo and redo of this user's own edits in a shared document.
 *
 * Each stack entry is the inverse of one of our edits (or of a run of typing),
 * kept applicable to the current text: when someone else's op arrives, every
 * entry is transformed past it (as ot.js's UndoManager does), so undo removes
 * exactly what we typed and never what others typed since.
 *
 *     const undo = new UndoManager();
 *     undo.record([5, " world"], "hello", 0);   // we typed; the text before was "hello"
 *     undo.transform(["Oh, "]);                 // someone else's op, as applied here
 *     undo.popUndo();                           // [9, -6]: removes " world" only
 *
 * The caller applies the popped op as a new local edit and pushes its inverse
 * with `pushRedo` (and the other way round for redo).
 * @module
 */

import { compose, invert, isNoop, transform } from "./ot.js";

/** @typedef {import("./ot.js").Op} Op */
/** @typedef {{ op: Op, kind: string, at: number }} Entry */

/**
 * "insert", "delete" or "replace": runs of one kind merge into one undo step.
 * @param {Op} op
 */
function kindOf(op) {
  let inserts = false;
  let deletes = false;
  for (const c of op) {
    if (typeof c === "string") inserts = true;
    else if (c < 0) deletes = true;
  }
  return inserts && deletes ? "replace" : inserts ? "insert" : "delete";
}

/**
 * Transform a stack past `op` (an op applied to the text the top entry applies to).
 * @param {Entry[]} stack
 * @param {Op} op
 * @returns {Entry[]}
 */
function transformStack(stack, op) {
  const out = new Array(stack.length);
  for (let i = stack.length - 1; i >= 0; i--) {
    const [entry, rest] = transform(stack[i].op, op);
    out[i] = { ...stack[i], op: entry };
    op = rest;
  }
  return out;
}

export class UndoManager {
  /**
   * @param {{ maxDepth?: number, mergeWindow?: number }} [options]
   *   maxDepth: steps kept; mergeWindow: ms within which edits of one kind merge
   */
  constructor({ maxDepth = 500, mergeWindow = 800 } = {}) {
    this.maxDepth = maxDepth;
    this.mergeWindow = mergeWindow;
    /** @type {Entry[]} */
    this.undoStack = [];
    /** @type {Entry[]} */
    this.redoStack = [];
    this.sealed = false;
  }

  get canUndo() {
    return this.undoStack.some((e) => !isNoop(e.op));
  }

  get canRedo() {
    return this.redoStack.some((e) => !isNoop(e.op));
  }

  /**
   * A new edit of ours (`op` applied to `before`), made at time `now` (ms).
   * Clears the redo stack; merges with the previous step if it is of the same
   * kind and recent.
   * @param {Op} op
   * @param {string} before
   * @param {number} now
   */
  record(op, before, now) {
    if (isNoop(op)) return;
    const inverse = invert(op, before);
    const kind = kindOf(op);
    const top = this.undoStack[this.undoStack.length - 1];
    this.redoStack = [];
    if (top && !this.sealed && kind !== "replace" && top.kind === kind && now - top.at <= this.mergeWindow) {
      // undo the new edit first, then the older ones
      this.undoStack[this.undoStack.length - 1] = { op: compose(inverse, top.op), kind, at: now };
    } else {
      this.undoStack.push({ op: inverse, kind, at: now });
      if (this.undoStack.length > this.maxDepth) this.undoStack.shift();
    }
    this.sealed = false;
  }

  /** The next edit starts a new undo step (call when the caret jumps, say). */
  seal() {
    this.sealed = true;
  }

  /**
   * Someone else's op, as applied to the current text.
   * @param {Op} op
   */
  transform(op) {
    if (isNoop(op)) return;
    this.undoStack = transformStack(this.undoStack, op);
    this.redoStack = transformStack(this.redoStack, op);
  }

  /** @returns {Op | null} the op undoing our latest edit (skipping ones others already erased) */
  popUndo() {
    return this.pop(this.undoStack);
  }

  /** @returns {Op | null} the op redoing the latest undone edit */
  popRedo() {
    return this.pop(this.redoStack);
  }

  /**
   * After applying an undo op to `before`: remember how to redo it.
   * @param {Op} op
   * @param {string} before
   */
  pushRedo(op, before) {
    this.redoStack.push({ op: invert(op, before), kind: "redo", at: 0 });
  }

  /**
   * After applying a redo op to `before`: remember how to undo it again.
   * @param {Op} op
   * @param {string} before
   */
  pushUndo(op, before) {
    this.undoStack.push({ op: invert(op, before), kind: "undo", at: 0 });
    this.sealed = true;
  }

  clear() {
    this.undoStack = [];
    this.redoStack = [];
  }

  /** @param {Entry[]} stack */
  pop(stack) {
    this.sealed = true;
    while (stack.length) {
      const entry = /** @type {Entry} */ (stack.pop());
      if (!isNoop(entry.op)) return entry.op;
    }
    return null;
  }
}
