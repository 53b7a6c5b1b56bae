// CollabClient (client.js): the WebSocket side, with a fake socket and a fake clock:
// backoff with jitter, which close codes reconnect, resume, ack timeout, heartbeat,
// cursor throttling.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CollabClient, backoffDelay, websocketUrl } from "../../collab/static/collab/client.js";
import { FakeServer } from "./fake_server.mjs";

class FakeClock {
  constructor() {
    this.t = 0;
    this.timers = new Map();
    this.next = 1;
  }
  now = () => this.t;
  setTimeout = (fn, ms) => {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (id) => this.timers.delete(id);
  /** Advance time, firing due timers in order. */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

/** Sockets connected to a FakeServer, delivered by hand (`flush`). */
function socketsFor(server, { refuse = () => false } = {}) {
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
    }
    send(text) {
      if (this.readyState !== 1) throw new Error("not open");
      this.sent.push(JSON.parse(text));
      if (this.conn) server.receive(this.conn, text);
    }
    close() {
      if (this.conn) server.disconnect(this.conn);
      this.conn = null;
      this.readyState = 3;
    }
    // test side
    open() {
      if (refuse()) return this.serverClose(1006);
      this.readyState = 1;
      this.onopen?.({});
      this.conn = server.connect();
      this.flush();
    }
    flush() {
      while (this.conn && this.conn.inbox.length && this.readyState === 1) {
        this.onmessage?.({ data: JSON.stringify(this.conn.inbox.shift()) });
      }
    }
    serverClose(code) {
      if (this.conn) server.disconnect(this.conn);
      this.conn = null;
      this.readyState = 3;
      this.onclose?.({ code });
    }
  }
  return { FakeSocket, sockets };
}

function setup(text = "doc", options = {}) {
  const server = new FakeServer(text);
  const clock = new FakeClock();
  const { FakeSocket, sockets } = socketsFor(server, options);
  const client = new CollabClient("ws://test/ws/documents/doc/", {
    WebSocket: FakeSocket, clock, random: () => 0.5, autoConnect: false, clientId: "cid", ...options,
  });
  const states = [];
  client.on("state", (d) => states.push(d.state));
  client.connect();
  return { server, clock, sockets, client, states, last: () => sockets.at(-1) };
}

test("backoff grows exponentially, is capped, and is jittered between half and all of the step", () => {
  const opts = { initial: 500, max: 8000, factor: 2 };
  assert.equal(backoffDelay(1, opts, () => 0), 250);
  assert.equal(backoffDelay(1, opts, () => 1), 500);
  assert.equal(backoffDelay(3, opts, () => 1), 2000);
  assert.equal(backoffDelay(10, opts, () => 1), 8000);
  assert.equal(backoffDelay(10, opts, () => 0), 4000);
  const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
  assert.ok(seen.size > 10, "random jitter spreads clients out");
  for (const d of seen) assert.ok(d >= 2000 && d <= 4000);
});

test("websocketUrl turns a path into ws(s):// and adds a token", () => {
  assert.equal(websocketUrl("ws://h/ws/documents/1/", "k y"), "ws://h/ws/documents/1/?token=k+y");
  assert.equal(websocketUrl("https://h:8443/ws/presence/"), "wss://h:8443/ws/presence/");
});

test("connects, edits, and reconnects after 1006 with backoff, keeping the edit", () => {
  const { server, clock, sockets, client, states, last } = setup("doc");
  const texts = [];
  client.on("ready", (d) => texts.push(d.text));
  last().open();
  assert.deepEqual(texts, ["doc"]);
  assert.equal(client.state, "connected");
  client.replace("doc!", 4);
  assert.equal(server.text, "doc!");
  last().flush();
  assert.equal(client.pending, false);

  // the server dies; an edit is made while away
  last().serverClose(1006);
  assert.equal(client.state, "reconnecting");
  client.replace("doc!?", 5);
  assert.equal(sockets.length, 1);
  clock.advance(374); // attempt 1: 500 * (0.5 + 0.5 * 0.5) = 375 ms
  assert.equal(sockets.length, 1);
  clock.advance(1);
  assert.equal(sockets.length, 2);
  last().serverClose(1006); // still down: attempt 2 waits longer
  clock.advance(749);
  assert.equal(sockets.length, 2);
  clock.advance(1);
  assert.equal(sockets.length, 3);
  last().open();
  assert.equal(client.state, "connected");
  assert.equal(server.text, "doc!?");
  last().flush();
  assert.equal(client.pending, false);
  assert.equal(client.attempt, 0);
  assert.deepEqual(states, ["connecting", "connected", "reconnecting", "connecting", "reconnecting", "connecting", "connected"]);
});

test("gives up on 4410, 4403, 4404, 4401 and 4001 with the server's message", () => {
  for (const code of [4410, 4403, 4404, 4401, 4001]) {
    const { clock, sockets, client, last } = setup();
    const closed = [];
    client.on("closed", (d) => closed.push(d));
    last().open();
    last().onmessage({ data: JSON.stringify({ type: "error", payload: { code: "x", message: "Gone for good.", ref: null } }) });
    last().serverClose(code);
    clock.advance(60000);
    assert.equal(sockets.length, 1, `no reconnect after ${code}`);
    assert.equal(client.state, "closed");
    assert.equal(closed.length, 1);
    assert.equal(closed[0].reconnect, false);
    assert.ok(closed[0].message.length > 10);
  }
});

test("reconnects after 1001, 1011 and 4408", () => {
  for (const code of [1001, 1011, 4408]) {
    const { clock, sockets, last } = setup();
    last().open();
    last().serverClose(code);
    clock.advance(1000);
    assert.equal(sockets.length, 2, `reconnect after ${code}`);
  }
});

test("an ack that does not come in time triggers sync and a resend of the same seq", () => {
  const { server, clock, client, last } = setup("a", { ackTimeout: 5000 });
  last().open();
  const socket = last();
  socket.conn.inbox.length = 0;
  client.replace("ab", 2);
  socket.conn.inbox.length = 0; // the ack is lost
  clock.advance(4999);
  assert.ok(!socket.sent.some((f) => f.type === "sync"));
  clock.advance(1);
  assert.ok(socket.sent.some((f) => f.type === "sync"));
  socket.flush(); // the sync answer contains our op: it counts as the ack
  assert.equal(client.pending, false);
  assert.equal(server.version, 1);
});

test("a silent connection is pinged, then dropped and reconnected", () => {
  const { clock, sockets, last } = setup("a", { pingInterval: 1000, pongTimeout: 500 });
  last().open();
  const socket = last();
  clock.advance(1000);
  assert.deepEqual(socket.sent.at(-1), { type: "ping", payload: {} });
  socket.flush(); // pong: alive
  clock.advance(900);
  assert.equal(sockets.length, 1);
  clock.advance(100); // ping again
  socket.conn.inbox.length = 0; // ... and nothing comes back
  clock.advance(500);
  assert.equal(sockets.length, 2, "dropped and reconnected at once");
});

test("cursor messages are throttled: the last position wins", () => {
  const { clock, client, last } = setup("hello", { cursorInterval: 50 });
  last().open();
  const socket = last();
  client.select(1);
  clock.advance(0);
  client.select(2);
  client.select(3);
  client.select(4);
  clock.advance(49);
  assert.deepEqual(socket.sent.filter((f) => f.type === "cursor").map((f) => f.payload.head), [1]);
  clock.advance(1);
  assert.deepEqual(socket.sent.filter((f) => f.type === "cursor").map((f) => f.payload.head), [1, 4]);
});

test("close() stops for good; connect() starts again", () => {
  const { clock, sockets, client, last } = setup();
  last().open();
  client.close();
  assert.equal(client.state, "closed");
  clock.advance(60000);
  assert.equal(sockets.length, 1);
  client.connect();
  assert.equal(sockets.length, 2);
});

test("events reach listeners added right after construction (autoConnect waits a microtask)", async () => {
  const server = new FakeServer("x");
  const { FakeSocket, sockets } = socketsFor(server);
  const client = new CollabClient("ws://t/ws/documents/x/", { WebSocket: FakeSocket, clock: new FakeClock() });
  const states = [];
  client.on("state", (d) => states.push(d.state));
  await Promise.resolve();
  assert.deepEqual(states, ["connecting"]);
  assert.equal(sockets.length, 1);
  client.close();
});

test("a connection that never says hello is abandoned after connectTimeout, with backoff", () => {
  const { clock, sockets, client } = setup("a", { connectTimeout: 3000 });
  assert.equal(sockets.length, 1); // never opened: a black-holed network
  clock.advance(2999);
  assert.equal(sockets.length, 1);
  clock.advance(1);
  assert.equal(client.state, "reconnecting");
  clock.advance(375);
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.equal(client.state, "connected");
  clock.advance(9000); // hello cleared the connect timeout
  assert.equal(sockets.length, 2);
  assert.equal(client.state, "connected");
});
