// @ts-check
/**
 * Bind a plain `<textarea>` to a `CollabClient`, and draw remote carets over it.
 *
 *     import { CollabClient } from "/static/collab/client.js";
 *     import { bindTextarea, drawCursors } from "/static/collab/textarea.js";
 *
 *     const client = new CollabClient(`/ws/documents/${id}/`);
 *     bindTextarea(textarea, client);
 *     client.on("cursors", ({ cursors }) => drawCursors(overlay, client.text, cursors));
 *
 * `overlay` is an element laid over the textarea with the same font, padding
 * and wrapping and transparent text (see `.editor .overlay` in app.css).
 * @module
 */

import { transformPosition } from "./ot.js";
import { cpLength, cpToUtf16, utf16ToCp } from "./text.js";

/** @typedef {import("./ot.js").Op} Op */
/** @typedef {import("./session.js").RemoteCursor} RemoteCursor */
/** @typedef {import("./client.js").CollabClient} CollabClient */

/**
 * Where the caret goes after undo or redo: the end of the last change.
 * @param {Op} op
 */
export function changeEnd(op) {
  let pos = 0;
  let end = 0;
  for (const c of op) {
    if (typeof c === "string") end = pos += cpLength(c);
    else if (c > 0) pos += c;
    else end = pos;
  }
  return end;
}

/**
 * Keep `textarea` and `client` in step: local typing becomes ops, remote ops
 * update the text while keeping the local selection in place, Ctrl+Z / Ctrl+Y
 * undo and redo this user's own edits only. Returns a function that unbinds.
 * @param {HTMLTextAreaElement} textarea
 * @param {CollabClient} client
 * @param {{ onLocalChange?: () => void }} [hooks]
 */
export function bindTextarea(textarea, client, hooks = {}) {
  /** @type {[number, number] | null} last selection told to the client, code points */
  let lastSelection = null;

  const selection = () => {
    const text = textarea.value;
    const start = utf16ToCp(text, textarea.selectionStart);
    const end = utf16ToCp(text, textarea.selectionEnd);
    return textarea.selectionDirection === "backward" ? [end, start] : [start, end];
  };

  const sendSelection = () => {
    if (client.version < 0) return;
    const [anchor, head] = selection();
    if (lastSelection && lastSelection[0] === anchor && lastSelection[1] === head) return;
    lastSelection = [anchor, head];
    client.select(anchor, head);
  };

  /**
   * Show `text` keeping the selection where it belongs after `op` (code points).
   * @param {string} text
   * @param {Op | null} op
   * @param {number | null} caret put the caret here instead (undo, redo)
   */
  const show = (text, op, caret) => {
    const old = textarea.value;
    let [anchor, head] = selection();
    if (caret !== null) anchor = head = caret;
    else if (op) {
      anchor = transformPosition(Math.min(anchor, cpLength(old)), op);
      head = transformPosition(Math.min(head, cpLength(old)), op);
    }
    const top = textarea.scrollTop;
    textarea.value = text;
    const a = cpToUtf16(text, anchor);
    const h = cpToUtf16(text, head);
    textarea.setSelectionRange(Math.min(a, h), Math.max(a, h), h < a ? "backward" : "forward");
    textarea.scrollTop = top;
    // The session moved our selection through the op the same way: nothing to resend.
    lastSelection = caret === null ? [anchor, head] : null;
  };

  const onInput = () => {
    if (!client.canEdit) {
      show(client.text, null, null); // cannot happen with readOnly set; never diverge anyway
      return;
    }
    client.replace(textarea.value, textarea.selectionEnd);
    if (client.text !== textarea.value) show(client.text, null, null);
    sendSelection();
    hooks.onLocalChange?.();
  };

  /** @param {boolean} redo */
  const history = (redo) => {
    if (textarea.readOnly) return;
    if (redo) client.redo();
    else client.undo();
  };

  /** @param {KeyboardEvent} e */
  const onKeydown = (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === "z" || key === "y") {
      e.preventDefault(); // the browser's own undo would undo others' edits too
      history(key === "y" || e.shiftKey);
    }
  };

  /** @param {InputEvent} e */
  const onBeforeInput = (e) => {
    if (e.inputType === "historyUndo" || e.inputType === "historyRedo") {
      e.preventDefault();
      history(e.inputType === "historyRedo");
    }
  };

  const onSelectionChange = () => {
    if (document.activeElement === textarea) sendSelection();
  };

  const offs = [
    client.on("ready", ({ text }) => show(text, null, 0)),
    client.on("change", ({ op, text, origin }) => {
      const caret = origin === "undo" || origin === "redo" ? changeEnd(op) : null;
      show(text, op, caret);
      if (caret !== null) sendSelection();
    }),
  ];
  textarea.addEventListener("input", onInput);
  textarea.addEventListener("keydown", onKeydown);
  textarea.addEventListener("beforeinput", onBeforeInput);
  for (const type of ["select", "keyup", "mouseup", "focus"]) textarea.addEventListener(type, sendSelection);
  document.addEventListener("selectionchange", onSelectionChange);
  return () => {
    offs.forEach((off) => off());
    textarea.removeEventListener("input", onInput);
    textarea.removeEventListener("keydown", onKeydown);
    textarea.removeEventListener("beforeinput", onBeforeInput);
    for (const type of ["select", "keyup", "mouseup", "focus"]) textarea.removeEventListener(type, sendSelection);
    document.removeEventListener("selectionchange", onSelectionChange);
  };
}

/**
 * Lay `overlay` exactly over `textarea`'s text box (call on resize) and follow its scrolling.
 * @param {HTMLTextAreaElement} textarea
 * @param {HTMLElement} overlay
 */
export function placeOverlay(textarea, overlay) {
  overlay.style.top = `${textarea.offsetTop + textarea.clientTop}px`;
  overlay.style.left = `${textarea.offsetLeft + textarea.clientLeft}px`;
  overlay.style.width = `${textarea.clientWidth}px`;
  overlay.style.height = `${textarea.clientHeight}px`;
  overlay.scrollTop = textarea.scrollTop;
}

/**
 * `#d94f4f` with some transparency, for selections.
 * @param {string} color
 * @param {number} alpha
 */
function translucent(color, alpha) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/**
 * Draw remote carets and selections in `overlay`, a box laid out exactly like
 * the textarea (same font, padding and wrapping) with transparent text.
 * @param {HTMLElement} overlay
 * @param {string} text
 * @param {RemoteCursor[]} cursors
 */
export function drawCursors(overlay, text, cursors) {
  const length = cpLength(text);
  /** @type {Set<number>} */
  const cuts = new Set([0, length]);
  for (const c of cursors) {
    cuts.add(Math.min(c.anchor, length));
    cuts.add(Math.min(c.head, length));
  }
  const points = [...cuts].sort((a, b) => a - b);
  const frag = document.createDocumentFragment();
  let i16 = 0;
  for (let k = 0; k < points.length; k++) {
    const at = points[k];
    for (const c of cursors) {
      if (Math.min(c.head, length) !== at) continue;
      const caret = document.createElement("span");
      caret.className = "caret";
      caret.dataset.session = c.session;
      caret.dataset.anchor = String(c.anchor);
      caret.dataset.head = String(c.head);
      caret.style.setProperty("--caret", c.user.color);
      const flag = document.createElement("span");
      flag.className = "caret-flag";
      flag.textContent = c.user.name;
      caret.append(flag);
      frag.append(caret);
    }
    if (k + 1 === points.length) break;
    const next = points[k + 1];
    const end16 = cpToUtf16(text, next);
    const piece = text.slice(i16, end16);
    i16 = end16;
    const covering = cursors.filter((c) => Math.min(c.anchor, c.head) <= at && next <= Math.max(c.anchor, c.head));
    if (covering.length) {
      const mark = document.createElement("span");
      mark.className = "sel";
      mark.dataset.session = covering.map((c) => c.session).join(" ");
      mark.style.background = translucent(covering[covering.length - 1].user.color, 0.22);
      mark.textContent = piece;
      frag.append(mark);
    } else {
      frag.append(piece);
    }
  }
  frag.append("\u200b"); // a trailing newline still makes a line, as in the textarea
  overlay.replaceChildren(frag);
}
