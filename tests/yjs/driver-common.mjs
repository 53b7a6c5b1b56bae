// The JSON-lines loop shared by the Yjs client drivers (driver-ywebsocket.mjs, driver-hocuspocus.mjs).
//
// A driver is started with one JSON argument (its configuration), then reads one command per line
// on stdin and writes one JSON object per line on stdout:
//
//   in:  {"id": 1, "cmd": "insert", "doc": "<name>"?, "index": 3, "text": "hi😀"}
//   out: {"id": 1, "ok": true, ...result}   or   {"id": 1, "ok": false, "error": "..."}
//   out: {"event": "status", "doc": "<name>", ...}   at any time, for what the provider reports
//
// Positions and lengths are Unicode code points (Python's str indexing), converted here to the
// UTF-16 indexes that Y.Text uses; with "clamp": true they are cut to the text's current length
// (remote edits may have shortened it since the caller looked). The document's text is the root
// Y.Text named "content".

import { createInterface } from "node:readline";
import * as Y from "yjs";

/** @param {object} message */
export function emit(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * The UTF-16 index of code point `cp` in `text`.
 * @param {string} text
 * @param {number} cp
 */
export function utf16Index(text, cp) {
  let units = 0;
  let seen = 0;
  for (const ch of text) {
    if (seen === cp) return units;
    units += ch.length;
    seen += 1;
  }
  if (seen === cp) return units;
  throw new Error(`position ${cp} is past the end of the text (${seen} code points)`);
}

/** @param {string} text */
const cpLength = (text) => [...text].length;

/**
 * Resolve when `check()` is true (checked now and after every `on(name)` of `emitter`), or reject
 * after `timeout` ms.
 * @param {() => boolean} check
 * @param {number} timeout
 * @param {string} what
 */
export function waitUntil(check, timeout, what) {
  return new Promise((resolve, reject) => {
    if (check()) return resolve(true);
    const started = Date.now();
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve(true);
      } else if (Date.now() - started > timeout) {
        clearInterval(timer);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}`));
      }
    }, 5);
  });
}

/**
 * The commands every driver answers on a Y.Doc and its Awareness: `target(args)` picks them.
 * @param {(args: any) => {doc: Y.Doc, awareness: import("y-protocols/awareness").Awareness | null}} target
 */
export function documentCommands(target) {
  return {
    /** @param {{index: number, text: string, clamp?: boolean}} a */
    insert(a) {
      const { doc } = target(a);
      const ytext = doc.getText("content");
      const text = ytext.toString();
      ytext.insert(utf16Index(text, a.clamp ? Math.min(a.index, cpLength(text)) : a.index), a.text);
      return { text: ytext.toString() };
    },
    /** @param {{index: number, length: number, clamp?: boolean}} a */
    delete(a) {
      const { doc } = target(a);
      const ytext = doc.getText("content");
      const text = ytext.toString();
      const index = a.clamp ? Math.min(a.index, cpLength(text)) : a.index;
      const end = a.clamp ? Math.min(index + a.length, cpLength(text)) : index + a.length;
      const start = utf16Index(text, index);
      ytext.delete(start, utf16Index(text, end) - start);
      return { text: ytext.toString() };
    },
    text(/** @type {object} */ a) {
      return { text: target(a).doc.getText("content").toString() };
    },
    state(/** @type {object} */ a) {
      return { state: Buffer.from(Y.encodeStateAsUpdate(target(a).doc)).toString("base64") };
    },
    /** @param {{update: string}} a */
    apply(a) {
      Y.applyUpdate(target(a).doc, Buffer.from(a.update, "base64"), "driver");
      return { text: target(a).doc.getText("content").toString() };
    },
    /** @param {{state?: object | null, field?: string, value?: any}} a */
    awareness_set(a) {
      const { awareness } = target(a);
      if (!awareness) throw new Error("this provider has no awareness");
      if (a.field !== undefined) awareness.setLocalStateField(a.field, a.value);
      else awareness.setLocalState(a.state ?? null);
      return { client_id: awareness.clientID };
    },
    awareness_get(/** @type {object} */ a) {
      const { awareness } = target(a);
      if (!awareness) throw new Error("this provider has no awareness");
      return { client_id: awareness.clientID, states: Object.fromEntries(awareness.getStates()) };
    },
  };
}

/**
 * Report a doc's awareness changes as `awareness` events (the ids added, updated and removed).
 * @param {import("y-protocols/awareness").Awareness} awareness
 * @param {string} name
 */
export function reportAwareness(awareness, name) {
  awareness.on("change", (/** @type {any} */ change, /** @type {any} */ origin) => {
    if (origin === "local") return;
    emit({
      event: "awareness",
      doc: name,
      added: change.added,
      updated: change.updated,
      removed: change.removed,
      states: Object.fromEntries(awareness.getStates()),
    });
  });
}

/**
 * Read commands from stdin until it closes, answer each one; `close` ends the process.
 * @param {Record<string, (args: any) => any>} commands
 * @param {() => Promise<void> | void} shutdown
 */
export function serve(commands, shutdown) {
  const lines = createInterface({ input: process.stdin });
  const finish = async () => {
    try {
      await shutdown();
    } finally {
      // let stdout drain, then leave even if a provider still holds a timer
      setTimeout(() => process.exit(0), 50);
    }
  };
  lines.on("line", async (line) => {
    if (!line.trim()) return;
    /** @type {any} */
    let message;
    try {
      message = JSON.parse(line);
    } catch (err) {
      emit({ ok: false, error: `not JSON: ${err}` });
      return;
    }
    const { id, cmd, ...args } = message;
    if (cmd === "close") {
      emit({ id, ok: true });
      await finish();
      return;
    }
    const handler = commands[cmd];
    if (!handler) {
      emit({ id, ok: false, error: `unknown command ${JSON.stringify(cmd)}` });
      return;
    }
    try {
      emit({ id, ok: true, ...((await handler(args)) || {}) });
    } catch (err) {
      emit({ id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  });
  lines.on("close", finish);
}

/** The configuration: the one JSON argument. */
export function config() {
  const raw = process.argv[2];
  if (!raw) throw new Error("usage: node driver.mjs '<json config>'");
  return JSON.parse(raw);
}
