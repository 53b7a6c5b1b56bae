// OTClient (otclient.js) mirrors collab/ot/client.py: the same cases as tests/ot/test_client.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import { OperationOutOfRange } from "../../collab/static/collab/ot.js";
import { ClientStateError, OTClient } from "../../collab/static/collab/otclient.js";

test("states and messages", () => {
  const c = new OTClient("abc", 3);
  assert.equal(c.state, "synchronized");
  assert.equal(c.takeOutgoing(), null);
  c.local([3, "d"]);
  assert.equal(c.state, "buffered");
  assert.equal(c.text, "abcd");
  assert.deepEqual(c.takeOutgoing(), [3, [3, "d"]]);
  assert.equal(c.state, "awaiting_ack");
  assert.equal(c.takeOutgoing(), null);
  c.local([4, "e"]);
  c.local([5, "f"]);
  assert.equal(c.state, "awaiting_ack_with_buffer");
  assert.deepEqual(c.buffer, [4, "ef"]);
  assert.deepEqual(c.remote(4, ["X"]), ["X"]);
  assert.deepEqual([c.text, c.inflight, c.buffer, c.version], ["Xabcdef", [4, "d"], [5, "ef"], 4]);
  c.ack(5);
  assert.equal(c.state, "buffered");
  assert.deepEqual(c.takeOutgoing(), [5, [5, "ef"]]);
  c.ack(6);
  assert.equal(c.state, "synchronized");
  assert.equal(c.version, 6);
});

test("remote wins insert ties and is returned as applied", () => {
  const c = new OTClient("ab", 0);
  c.local([1, "mine"]);
  c.takeOutgoing();
  c.local([5, "!"]);
  assert.deepEqual(c.remote(1, [1, "theirs"]), [1, "theirs"]);
  assert.equal(c.text, "atheirsmine!b");
  assert.deepEqual([c.inflight, c.buffer], [[7, "mine"], [11, "!"]]);
});

test("local edits that cancel leave nothing to send", () => {
  const c = new OTClient("ab", 0);
  c.local([1, "x"]);
  c.local([1, -1]);
  assert.equal(c.state, "synchronized");
  assert.equal(c.takeOutgoing(), null);
  c.local([2]);
  assert.equal(c.state, "synchronized");
});

test("an in-flight op emptied by a remote op still awaits its ack", () => {
  const c = new OTClient("abc", 0);
  c.local([1, -1]);
  c.takeOutgoing();
  c.remote(1, [-3]);
  assert.deepEqual([c.text, c.inflight, c.state], ["", [], "awaiting_ack"]);
  c.ack(2);
  assert.equal(c.state, "synchronized");
});

test("version and ack errors", () => {
  const c = new OTClient("abc", 5);
  assert.throws(() => c.ack(6), { name: "ClientStateError", message: /no operation is in flight/ });
  assert.throws(() => c.remote(7, ["x"]), { message: "expected version 6, got 7" });
  c.local(["x"]);
  c.takeOutgoing();
  assert.throws(() => c.ack(8), ClientStateError);
});

test("invalid ops leave the state untouched", () => {
  const c = new OTClient("abc", 0);
  assert.throws(() => c.local([4, "x"]), OperationOutOfRange);
  assert.throws(() => c.remote(1, [-4]), OperationOutOfRange);
  assert.deepEqual([c.text, c.version, c.state], ["abc", 0, "synchronized"]);
});

test("resyncInflight resends the op as first sent", () => {
  const c = new OTClient("abc", 2);
  assert.equal(c.resyncInflight(), null);
  c.local(["x"]);
  const sent = c.takeOutgoing();
  c.remote(3, ["y"]);
  assert.deepEqual(c.inflight, [1, "x"]);
  assert.deepEqual(c.resyncInflight(), sent);
  assert.deepEqual(sent, [2, ["x"]]);
  c.ack(4);
  assert.equal(c.resyncInflight(), null);
});

test("returned ops are copies", () => {
  const c = new OTClient("", 0);
  c.local(["x"]);
  const sent = c.takeOutgoing();
  sent[1].push(-1);
  assert.deepEqual(c.inflight, ["x"]);
  assert.deepEqual(c.resyncInflight(), [0, ["x"]]);
});
