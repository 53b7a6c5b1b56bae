// The browser's codes (codes.js) against the server's vocabulary (codes.json, generated from
// collab/codes.py and checked against it by tests/test_codes.py): session.js, client.js and
// presence.js must use these values, never retype them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { CLOSE_ERRORS, CLOSE_NAMES, CloseCode, ErrorCode, RECONNECT_CODES } from "../../collab/static/collab/codes.js";
import * as index from "../../collab/static/collab/index.js";
import { CLOSE_MESSAGES, RECONNECT_CODES as SESSION_RECONNECT, Session } from "../../collab/static/collab/session.js";

const CODES = JSON.parse(readFileSync(new URL("../../collab/static/collab/codes.json", import.meta.url), "utf8"));
const STATIC = new URL("../../collab/static/collab/", import.meta.url);

test("codes.js holds exactly the values of codes.json", () => {
  assert.deepEqual({ ...ErrorCode }, CODES.error_codes);
  assert.deepEqual({ ...CloseCode }, CODES.close_codes);
  assert.deepEqual([...RECONNECT_CODES].sort(), [...CODES.reconnect].sort());
  assert.deepEqual({ ...CLOSE_ERRORS }, CODES.close_errors);
  assert.deepEqual({ ...CLOSE_NAMES }, CODES.close_names);
  for (const code of [1001, 1006, 1011, 4408]) assert.ok(CODES.reconnect.includes(code), `PROTOCOL.md: ${code} reconnects`);
});

test("session.js decides reconnect or give up exactly as the vocabulary says", () => {
  assert.equal(SESSION_RECONNECT, RECONNECT_CODES);
  assert.equal(index.RECONNECT_CODES, RECONNECT_CODES);
  const codes = [...Object.values(CODES.close_codes), 1002, 1008, 3000, 4999];
  for (const code of codes) {
    const s = new Session({ clientId: "c" });
    assert.equal(s.closed(code).reconnect, CODES.reconnect.includes(code), `close code ${code}`);
  }
});

test("every close code that gives up has a message for people, and only those", () => {
  const giveUp = Object.keys(CODES.close_errors).map(Number).filter((c) => !CODES.reconnect.includes(c));
  assert.deepEqual(Object.keys(CLOSE_MESSAGES).map(Number).sort(), giveUp.sort());
});

test("the message on close is the server's own when its error matches the code", () => {
  for (const [code, error] of Object.entries(CODES.close_errors)) {
    const s = new Session({ clientId: "c" });
    s.receive({ type: "error", payload: { code: error, message: `server says ${error}`, ref: null } });
    const { reconnect, message } = s.closed(Number(code));
    assert.equal(message, reconnect ? "Connection lost; reconnecting." : `server says ${error}`);
  }
  const s = new Session({ clientId: "c" });
  s.receive({ type: "error", payload: { code: ErrorCode.NOT_FOUND, message: "not this one", ref: null } });
  assert.equal(s.closed(CloseCode.DOCUMENT_DELETED).message, CLOSE_MESSAGES[CloseCode.DOCUMENT_DELETED]);
});

/** Close codes and error codes written as literals in a module's source (1000 aside: also a number of ms). */
function literals(source) {
  const errors = new Set(Object.values(CODES.error_codes));
  const closes = new Set(Object.values(CODES.close_codes).filter((c) => c !== CODES.close_codes.NORMAL));
  const found = [];
  for (const m of source.matchAll(/"([a-z_]+)"|'([a-z_]+)'|(?<![\w.])(\d{4})(?![\w.])/g)) {
    if (m[3] ? closes.has(Number(m[3])) : errors.has(m[1] ?? m[2])) found.push(m[0]);
  }
  return found;
}

test("no module retypes a code: they all import codes.js", () => {
  for (const name of ["session.js", "client.js", "presence.js", "editor.js", "textarea.js", "list.js"]) {
    const source = readFileSync(new URL(name, STATIC), "utf8");
    assert.deepEqual(literals(source), [], name);
  }
  assert.deepEqual(literals('ws.close(4000); if (code === "history_unavailable") x = 1006 * 2;'), [
    "4000",
    '"history_unavailable"',
    "1006",
  ]);
});
