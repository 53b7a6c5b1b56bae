// The protocol session (session.js) against an in-memory server: edits, acks, remote ops,
// resume with sync, idempotent resend, gaps, errors, cursors, presence and undo.
import assert from "node:assert/strict";
import { test } from "node:test";

import { apply, transform } from "../../collab/static/collab/ot.js";
import { RECONNECT_CODES, Session } from "../../collab/static/collab/session.js";
import { cpLength } from "../../collab/static/collab/text.js";
import { FakeServer, Wire } from "./fake_server.mjs";

let clock = 0;
const now = () => clock;
const session = (id) => new Session({ clientId: id, now });
const pair = (text = "") => {
  const server = new FakeServer(text);
  const a = new Wire(server, session("a"), { name: "Ann" }).connect();
  const b = new Wire(server, session("b"), { name: "Ben" }).connect();
  a.settle();
  b.settle();
  a.settle();
  return { server, a, b };
};

test("hello makes the document ready; an edit goes out with client_id and seq and is acked", () => {
  const server = new FakeServer("hello", { version: 4 });
  const w = new Wire(server, session("c1")).connect();
  w.down();
  assert.deepEqual(w.eventsOf("ready"), [{ type: "ready", text: "hello" }]);
  assert.equal(w.session.version, 4);
  assert.equal(w.session.role, "editor");
  w.session.edit([5, " 😀"]);
  w.collect();
  assert.deepEqual(w.toServer, [{ type: "edit", payload: { version: 4, op: [5, " 😀"], client_id: "c1", seq: 1 } }]);
  assert.equal(w.session.pending, true);
  w.session.edit([7, "!"]); // buffered while the first is in flight
  w.collect();
  assert.equal(w.toServer.length, 1);
  w.settle();
  assert.equal(server.text, "hello 😀!");
  assert.equal(w.session.text, server.text);
  assert.equal(w.session.version, 6);
  assert.equal(w.session.pending, false);
  assert.deepEqual(server.ops.map((o) => o.seq), [1, 2]);
  assert.deepEqual(w.eventsOf("ack").map((e) => e.version), [5, 6]);
});

test("concurrent edits converge, the first committed winning the tie", () => {
  const { server, a, b } = pair("ab");
  a.session.edit([1, "A"]);
  b.session.edit([1, "B"]);
  a.up(); // a's edit is committed first
  b.up();
  a.settle();
  b.settle();
  assert.equal(server.text, "aABb");
  assert.equal(a.session.text, server.text);
  assert.equal(b.session.text, server.text);
  const change = b.eventsOf("change").at(-1);
  assert.equal(change.origin, "remote");
  assert.deepEqual(change.op, [1, "A"]);
  assert.equal(change.user.name, "Ann");
});

test("reconnect with nothing missed resends the op in flight exactly, and it is committed once", () => {
  const { server, a } = pair("x");
  a.session.edit([1, "y"]);
  a.collect();
  const sent = a.toServer[0];
  a.drop(1006, true); // it reached the server, the ack did not reach us
  assert.equal(server.version, 1);
  a.connect();
  a.down(1); // hello: version 1 > ours (0) -> sync first
  a.collect();
  assert.deepEqual(a.toServer, [{ type: "sync", payload: { version: 0 } }]);
  a.settle();
  assert.equal(server.version, 1, "committed once");
  assert.equal(a.session.text, "xy");
  assert.equal(a.session.pending, false);
  assert.equal(a.session.version, 1);
  assert.ok(!JSON.stringify(a.toServer).includes("edit"));
  assert.equal(sent.payload.seq, 1);
});

test("reconnect where the edit was lost: same base version, same seq", () => {
  const { server, a, b } = pair("x");
  a.session.edit([1, "y"]);
  a.collect();
  const sent = structuredClone(a.toServer[0]);
  a.drop(1006, false); // lost on the way
  b.session.edit(["B"]); // meanwhile someone else edits
  b.settle();
  a.connect();
  a.down(1);
  a.collect();
  assert.deepEqual(a.toServer, [{ type: "sync", payload: { version: 0 } }]);
  a.up();
  a.down(1); // the sync answer: b's op; now the edit is resent as first sent
  a.collect();
  assert.deepEqual(a.toServer, [sent]);
  a.settle();
  b.settle();
  assert.equal(server.text, "Bxy");
  assert.equal(a.session.text, "Bxy");
  assert.equal(b.session.text, "Bxy");
});

test("reconnect with the same version resends at once; a duplicate re-ack is ignored", () => {
  const { server, a } = pair("x");
  a.session.edit([1, "y"]);
  a.collect();
  a.drop(1006, false);
  a.connect();
  a.down(1);
  a.collect();
  assert.equal(a.toServer[0].type, "edit");
  assert.equal(a.toServer[0].payload.seq, 1);
  a.settle();
  assert.equal(server.text, "xy");
  // a stale re-ack for seq 1 (say, a second resend) changes nothing
  a.session.receive({ type: "ack", payload: { client_id: "a", seq: 1, version: 1 } });
  assert.equal(a.session.version, 1);
  assert.equal(a.session.pending, false);
});

test("edits made while offline are sent after the reconnect", () => {
  const { server, a, b } = pair("");
  a.drop(1006);
  a.session.edit(["off"]);
  a.session.edit([3, "line"]);
  a.collect();
  assert.deepEqual(a.toServer, []);
  a.connect();
  a.settle();
  b.settle();
  assert.equal(server.text, "offline");
  assert.equal(b.session.text, "offline");
});

test("a gap in versions asks for sync and ignores ops until the answer", () => {
  const { server, a, b } = pair("abc");
  b.session.edit(["1"]);
  b.settle();
  b.session.edit(["2"]);
  b.settle();
  a.conn.inbox.shift(); // lose version 1 on its way to a
  a.down();
  a.collect();
  // a saw version 2 without 1: it asked for everything after 0 ...
  assert.ok(a.toServer.some((f) => f.type === "sync" && f.payload.version === 0));
  a.settle();
  assert.equal(a.session.text, server.text);
  assert.equal(a.session.version, 2);
});

test("an ack that skips versions waits for the sync answer", () => {
  const { server, a, b } = pair("");
  b.session.edit(["b"]);
  b.settle();
  a.session.edit(["a"]);
  a.up();
  a.conn.inbox.shift(); // b's op is lost; the ack for version 2 arrives first
  a.down(1);
  a.collect();
  assert.equal(a.session.pending, true);
  assert.ok(a.toServer.some((f) => f.type === "sync"));
  a.settle();
  assert.equal(a.session.text, server.text);
  assert.equal(a.session.pending, false);
});

test("a lost ack is recovered by ackTimedOut: sync, then resend, committed once", () => {
  const { server, a } = pair("");
  a.session.edit(["z"]);
  a.up();
  a.conn.inbox = []; // the ack is lost
  a.session.ackTimedOut();
  a.settle();
  assert.equal(server.version, 1);
  assert.equal(a.session.pending, false);
  assert.equal(a.session.text, "z");
});

test("the server dropping our edit (forbidden) undoes it, keeps later edits and syncs", () => {
  const server = new FakeServer("read me");
  const v = new Wire(server, session("v"), { role: "viewer" }).connect();
  v.down();
  assert.equal(v.session.canEdit, false);
  assert.throws(() => v.session.edit(["x"]), /role \(viewer\)/);
  // an editor demoted while an edit is in flight
  const e = new Wire(server, session("e"), { role: "editor" }).connect();
  e.down();
  e.session.edit(["x"]);
  e.conn.role = "viewer";
  e.up();
  e.session.edit([8, "!"]); // typed while the first is in flight
  e.down();
  const error = e.eventsOf("error").at(-1);
  assert.equal(error.code, "forbidden");
  const undone = e.eventsOf("change").at(-1);
  assert.deepEqual([undone.origin, undone.seq, undone.code], ["rejected", 1, "forbidden"]);
  assert.equal(apply("xread me!", undone.op), "read me!");
  assert.equal(e.session.text, "read me!");
  assert.equal(e.session.wantReconnect, false);
  e.collect();
  assert.deepEqual(e.toServer, [{ type: "sync", payload: { version: 0 } }]);
  e.settle(); // after the answer the later edit goes out, and is refused in turn
  assert.equal(e.session.text, "read me");
  assert.equal(server.text, "read me");
  assert.equal(e.session.pending, false);
});

test("close codes: reconnect after 1001/1006/1011/4408, give up with a message otherwise", () => {
  for (const code of [1001, 1006, 1011, 4408]) assert.ok(RECONNECT_CODES.has(code));
  const server = new FakeServer("t");
  const w = new Wire(server, session("w")).connect();
  w.down();
  w.session.receive({ type: "error", payload: { code: "document_deleted", message: "This document was deleted.", ref: null } });
  const decision = w.drop(4410);
  assert.deepEqual(decision, { reconnect: false, message: "This document was deleted." });
  assert.equal(w.eventsOf("closed").at(-1).message, "This document was deleted.");
  const w2 = new Wire(server, session("w2")).connect();
  w2.down();
  assert.equal(w2.drop(4404).reconnect, false);
  assert.match(w2.drop(4001).message, /administrator/);
  assert.equal(w2.drop(1011).reconnect, true);
});

test("presence: joined, left, and everyone's list after a reconnect", () => {
  const { a, b } = pair("");
  const names = (w) => w.eventsOf("presence").at(-1).entries.map((e) => e.user.name);
  assert.deepEqual(names(a), ["Ann", "Ben"]);
  assert.deepEqual(names(b), ["Ann", "Ben"]);
  b.drop(1006);
  a.down();
  assert.deepEqual(names(a), ["Ann"]);
  assert.deepEqual(names(b), []); // while away, nobody is shown
  b.connect();
  b.down();
  a.down();
  assert.deepEqual(names(a), ["Ann", "Ben"]);
  assert.deepEqual(names(b), ["Ann", "Ben"]);
});

test("remote cursors land in local coordinates, moved by our pending edits", () => {
  const { a, b } = pair("hello world");
  b.session.setSelection(6, 11); // b selects "world"
  b.up();
  a.down();
  let [cursor] = a.eventsOf("cursors").at(-1).cursors;
  assert.deepEqual([cursor.anchor, cursor.head, cursor.user.name], [6, 11, "Ben"]);
  // a types at the start, not yet acknowledged: b's selection moves right locally
  a.session.edit(["😀 "]);
  a.collect();
  [cursor] = a.eventsOf("cursors").at(-1).cursors;
  assert.deepEqual([cursor.anchor, cursor.head], [8, 13]);
  // a cursor b sends now, at the version before a's edit, is also moved past it
  b.session.setSelection(0, 0);
  b.up();
  a.down();
  [cursor] = a.eventsOf("cursors").at(-1).cursors;
  assert.deepEqual([cursor.anchor, cursor.head], [0, 0]);
  // b types at its caret: its own insert pushes its caret, on a too
  b.session.setSelection(5, 5);
  b.up();
  a.settle();
  b.settle();
  b.session.edit([7, "!"]);
  b.session.setSelection(8, 8);
  b.up();
  a.down();
  [cursor] = a.eventsOf("cursors").at(-1).cursors;
  assert.equal(a.session.text, "😀 hello! world");
  // the server moves the cursor b sent (at the version before its edit) through b's
  // insert as if it were someone else's, so b sends its cursor again once acked
  b.down();
  b.up();
  a.down();
  [cursor] = a.eventsOf("cursors").at(-1).cursors;
  assert.equal(a.session.text, "😀 hello! world");
  assert.deepEqual([cursor.anchor, cursor.head], [8, 8]);
  // hiding
  b.session.setSelection(null);
  b.up();
  a.down();
  assert.deepEqual(a.eventsOf("cursors").at(-1).cursors, []);
});

test("our cursor waits while our edits are pending, then goes out at the acked version", () => {
  const { server, a, b } = pair("abc");
  a.session.edit(["XY"]);
  a.session.setSelection(5, 5); // after "XYabc" locally
  a.collect();
  assert.deepEqual(a.toServer.map((f) => f.type), ["edit"]);
  a.up();
  b.down();
  // b moves a's caret past a's own insert when the op arrives (a had shown it at 3 before)
  a.down();
  a.collect();
  const cursor = a.toServer.find((f) => f.type === "cursor");
  assert.deepEqual(cursor.payload, { version: 1, anchor: 5, head: 5 });
  a.settle();
  b.settle();
  const [seen] = b.eventsOf("cursors").at(-1).cursors;
  assert.equal(server.text, "XYabc");
  assert.deepEqual([seen.anchor, seen.head], [5, 5]);
});

test("a remote caret moves past that user's own insert as soon as the op arrives", () => {
  const { a, b } = pair("abc");
  a.session.setSelection(3, 3);
  a.settle();
  b.settle();
  assert.deepEqual(b.eventsOf("cursors").at(-1).cursors.map((c) => c.head), [3]);
  a.session.edit([3, "de"]);
  a.up();
  b.down();
  assert.deepEqual(b.eventsOf("cursors").at(-1).cursors.map((c) => c.head), [5]);
});

test("a cursor at a version we have not reached waits for it", () => {
  const { a, b } = pair("abc");
  b.session.edit(["123"]);
  b.up();
  b.down();
  b.session.setSelection(3, 3);
  b.up();
  // a gets the cursor (version 1) before the op (version 1)
  const inbox = a.conn.inbox;
  const opFrame = inbox.findIndex((f) => f.type === "op");
  const cursorFrame = inbox.findIndex((f) => f.type === "cursor");
  assert.ok(opFrame < cursorFrame);
  const [op] = inbox.splice(opFrame, 1);
  a.down();
  assert.deepEqual(a.session.cursors.size, 0);
  a.session.receive(op);
  a.collect();
  const [cursor] = a.eventsOf("cursors").at(-1).cursors;
  assert.deepEqual([cursor.anchor, cursor.head], [3, 3]);
});

test("undo undoes only our own edit, after others edited", () => {
  clock = 0;
  const { server, a, b } = pair("");
  for (const ch of "Hello") {
    clock += 100;
    a.session.edit([cpLength(a.session.text), ch].filter((c) => c !== 0));
  }
  a.settle();
  b.settle();
  b.session.edit([5, " World 😀"]);
  b.settle();
  a.settle();
  assert.equal(a.session.text, "Hello World 😀");
  assert.ok(a.session.canUndo);
  a.session.undo();
  a.settle();
  b.settle();
  assert.equal(server.text, " World 😀");
  assert.equal(a.session.text, server.text);
  assert.equal(b.session.text, server.text);
  assert.equal(a.eventsOf("change").at(-1).origin, "undo");
  assert.equal(b.session.canUndo, true);
  assert.equal(a.session.canUndo, false);
  a.session.redo();
  a.settle();
  b.settle();
  assert.equal(server.text, "Hello World 😀");
  assert.equal(b.session.text, server.text);
});

test("randomized: three clients, random delivery, drops and undo, all converge", () => {
  let seed = 1234;
  const r = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  for (let round = 0; round < 40; round++) {
    const server = new FakeServer("start");
    const wires = ["p", "q", "r"].map((id) => new Wire(server, session(`${id}${round}`)).connect());
    for (const w of wires) w.down();
    for (let step = 0; step < 120; step++) {
      const w = pick(wires);
      const k = r();
      clock += 50;
      if (!w.conn && k < 0.3) {
        w.connect();
      } else if (k < 0.35 && w.session.ot) {
        const n = cpLength(w.session.text);
        const at = Math.floor(r() * (n + 1));
        const op = r() < 0.7 || at === n ? [at, pick(["x", "😀", "yz", "é"])] : [at, -1];
        w.session.edit(op.filter((c) => c !== 0));
      } else if (k < 0.4) {
        w.session.undo();
      } else if (k < 0.43) {
        w.session.redo();
      } else if (k < 0.47 && w.conn) {
        w.drop(1006, r() < 0.5);
      } else if (k < 0.52 && w.conn) {
        w.session.setSelection(Math.floor(r() * (cpLength(w.session.text) + 1)));
      } else if (k < 0.53 && w.session.pending && w.conn) {
        w.session.ackTimedOut();
      } else if (k < 0.75) {
        w.up(1);
      } else {
        w.down(1);
      }
    }
    for (const w of wires) if (!w.conn) w.connect();
    for (let i = 0; i < 5; i++) for (const w of wires) w.settle();
    for (const w of wires) {
      assert.equal(w.session.text, server.text, `round ${round}`);
      assert.equal(w.session.version, server.version);
      assert.equal(w.session.pending, false);
      for (const c of w.session.cursors.values()) assert.ok(c.head <= cpLength(w.session.text));
    }
    // every (client_id, seq) was committed at most once, and every edit sent (resends
    // aside) exactly once
    const keys = server.ops.map((o) => `${o.client_id}/${o.seq}`);
    assert.equal(new Set(keys).size, keys.length);
    for (const w of wires) {
      const sent = w.eventsOf("sent").filter((e) => !e.resend).length;
      assert.equal(server.ops.filter((o) => o.client_id === w.session.clientId).length, sent);
    }
  }
});

test("transform helper used by the fake server matches the session's tie rule", () => {
  const [a2] = transform([1, "A"], [1, "B"]);
  assert.deepEqual(a2, [1, "A"]);
});

test("our own selection follows remote ops, and is not sent again for them", () => {
  const { a, b } = pair("abc");
  a.session.setSelection(2, 3);
  a.settle();
  b.settle();
  b.session.edit(["XY"]);
  b.settle();
  a.down();
  a.collect();
  assert.deepEqual(a.session.selection, { anchor: 4, head: 5 });
  assert.ok(!a.toServer.some((f) => f.type === "cursor"));
  a.session.edit([5, "!"]); // typing at the head moves it past the insert
  assert.deepEqual(a.session.selection, { anchor: 4, head: 6 });
});

test("a rejected edit (invalid_op) is undone after remote ops, later edits are kept and sent after the sync", () => {
  const s = session("me");
  s.opened();
  s.receive({
    type: "hello",
    payload: { session: "s1", role: "editor", user: { id: 1, name: "Me", color: "#000" }, presence: [],
      document: { id: "d", title: "T", version: 0, content: "abc" } },
  });
  s.edit([3, "X"]);
  s.receive({ type: "op", payload: { version: 1, op: ["Z"], client_id: "other", seq: 1, session: "s9", user: {} } });
  s.edit(["Y"]);
  assert.equal(s.text, "YZabcX");
  s.takeOutgoing();
  s.takeEvents();
  s.receive({ type: "error", payload: { code: "invalid_op", message: "Past the end.", ref: { client_id: "me", seq: 1 } } });
  assert.equal(s.text, "YZabc");
  const [change] = s.takeEvents().filter((e) => e.type === "change");
  assert.deepEqual([change.origin, change.op, change.seq], ["rejected", [5, -1], 1]);
  assert.deepEqual(s.takeOutgoing(), [{ type: "sync", payload: { version: 1 } }]);
  s.receive({ type: "ops", payload: { ops: [] } });
  assert.deepEqual(s.takeOutgoing(), [{ type: "edit", payload: { version: 1, op: ["Y"], client_id: "me", seq: 2 } }]);
  s.receive({ type: "ack", payload: { client_id: "me", seq: 2, version: 2 } });
  assert.equal(s.text, "YZabc");
  assert.equal(s.pending, false);
  assert.equal(s.serverText, "YZabc");
});
