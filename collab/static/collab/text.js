// @ts-check
/**
 * Code points and UTF-16: the protocol counts code points (an emoji is one
 * position), browsers count UTF-16 code units (an emoji is two). Convert at
 * the edge, where text meets the DOM:
 *
 *     cpLength("a😀b")          // 3   ("a😀b".length is 4)
 *     cpToUtf16("a😀b", 2)      // 3   (the UTF-16 index of "b")
 *     utf16ToCp("a😀b", 3)      // 2
 *     diffAround("ab", "a😀b", 3) // [1, "😀"]
 *
 * No DOM, no I/O: this module runs the same in node and in the browser.
 * @module
 */

/** @param {number} c */
const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
/** @param {number} c */
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/**
 * The number of code points in `s` (a lone surrogate counts as one).
 * @param {string} s
 * @returns {number}
 */
export function cpLength(s) {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/**
 * The UTF-16 index reached from UTF-16 index `i` after `n` code points
 * (stops at the end of `s`).
 * @param {string} s
 * @param {number} i
 * @param {number} n
 * @returns {number}
 */
export function advance(s, i, n) {
  const len = s.length;
  while (n > 0 && i < len) {
    i += isHigh(s.charCodeAt(i)) && i + 1 < len && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
    n--;
  }
  return i;
}

/**
 * The UTF-16 index of code point position `cp` (clamped to the end of `s`).
 * @param {string} s
 * @param {number} cp
 */
export function cpToUtf16(s, cp) {
  return advance(s, 0, cp);
}

/**
 * The code point position of UTF-16 index `i`; an index inside a surrogate
 * pair is rounded down to the pair's start.
 * @param {string} s
 * @param {number} i
 */
export function utf16ToCp(s, i) {
  i = Math.max(0, Math.min(i, s.length));
  let n = 0;
  for (let j = 0; j < i; j++) {
    if (isHigh(s.charCodeAt(j)) && j + 1 < s.length && isLow(s.charCodeAt(j + 1))) {
      if (j + 1 >= i) break; // i splits this pair
      j++;
    }
    n++;
  }
  return n;
}

/**
 * `s` sliced by code point positions, like Python's `s[start:end]` for
 * non-negative bounds.
 * @param {string} s
 * @param {number} start
 * @param {number} [end]
 */
export function cpSlice(s, start, end) {
  const a = advance(s, 0, start);
  if (end === undefined) return s.slice(a);
  return s.slice(a, advance(s, a, Math.max(0, end - start)));
}

/**
 * True if `s` has no lone surrogate (it is text that can be stored).
 * @param {string} s
 */
export function isWellFormed(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isHigh(c)) {
      if (i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
      else return false;
    } else if (isLow(c)) return false;
  }
  return true;
}

/**
 * Common prefix length of `a` and `b` in UTF-16 units, never splitting a pair.
 * @param {string} a
 * @param {string} b
 * @param {number} limit
 */
function commonPrefix16(a, b, limit) {
  let i = 0;
  while (i < limit && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i > 0 && isHigh(a.charCodeAt(i - 1)) && i < a.length && isLow(a.charCodeAt(i))) i--;
  return i;
}

/**
 * Common suffix length of `a` and `b` in UTF-16 units, never splitting a pair.
 * @param {string} a
 * @param {string} b
 * @param {number} limit
 */
function commonSuffix16(a, b, limit) {
  let i = 0;
  while (i < limit && a.charCodeAt(a.length - 1 - i) === b.charCodeAt(b.length - 1 - i)) i++;
  if (i > 0 && i < a.length && isLow(a.charCodeAt(a.length - i)) && isHigh(a.charCodeAt(a.length - i - 1))) i--;
  return i;
}

/**
 * The op (in code points) turning `oldText` into `newText`, where the change
 * ends at UTF-16 index `cursor` of `newText` (the caret after typing).
 *
 * A plain prefix/suffix diff is ambiguous on repeated characters: typing "a"
 * after "a" could be an insert at 0 or at 1. The caret says which, so remote
 * carets and undo land where the user typed. Pass `cursor = newText.length`
 * (or omit it) for a plain diff.
 *
 * @param {string} oldText
 * @param {string} newText
 * @param {number} [cursor]
 * @returns {(number | string)[]}
 */
export function diffAround(oldText, newText, cursor = newText.length) {
  if (oldText === newText) return [];
  cursor = Math.max(0, Math.min(cursor, newText.length));
  // The changed region of newText ends at or after the caret: keep the suffix
  // after the caret, and a prefix no longer than the caret.
  let suffix = commonSuffix16(oldText, newText, Math.min(oldText.length, newText.length, newText.length - cursor));
  let prefix = commonPrefix16(oldText, newText, Math.min(oldText.length - suffix, newText.length - suffix, cursor));
  // The caret may sit after unchanged text (e.g. a paste replaced by the same text
  // followed by deletion elsewhere): widen to a plain diff if needed.
  if (prefix + suffix < Math.min(oldText.length, newText.length)) {
    const more = commonSuffix16(
      oldText.slice(prefix),
      newText.slice(prefix),
      Math.min(oldText.length, newText.length) - prefix,
    );
    suffix = Math.max(suffix, more);
    prefix = commonPrefix16(oldText, newText, Math.min(oldText.length - suffix, newText.length - suffix));
  }
  /** @type {(number | string)[]} */
  const op = [];
  const retain = utf16ToCp(oldText, prefix);
  if (retain) op.push(retain);
  const inserted = newText.slice(prefix, newText.length - suffix);
  if (inserted) op.push(inserted);
  const deleted = cpLength(oldText.slice(prefix, oldText.length - suffix));
  if (deleted) op.push(-deleted);
  return op;
}

/**
 * An op (code points) as UTF-16 changes on `text`, the text before the op:
 * `{from, to, insert}` with `from`/`to` indices into `text`, in order and
 * not overlapping (the shape CodeMirror 6's `changes` takes).
 *
 *     utf16Changes("a😀b", [2, "x", -1])   // [{from: 3, to: 4, insert: "x"}]
 * @param {string} text
 * @param {(number | string)[]} op
 * @returns {{ from: number, to: number, insert: string }[]}
 */
export function utf16Changes(text, op) {
  /** @type {{ from: number, to: number, insert: string }[]} */
  const out = [];
  let i = 0;
  for (const c of op) {
    const last = out[out.length - 1];
    if (typeof c === "string") {
      if (last && last.to === i && last.from === i) last.insert += c;
      else out.push({ from: i, to: i, insert: c });
    } else if (c > 0) {
      i = advance(text, i, c);
    } else {
      const end = advance(text, i, -c);
      if (last && last.to === i) last.to = end;
      else out.push({ from: i, to: end, insert: "" });
      i = end;
    }
  }
  return out;
}
