// CollabClient (client.js) with WebSocket tickets: a fresh ticket before each connect,
// bought with the token or the session's CSRF cookie; the URL never carries the token;
// an older server (404) or an anonymous visitor connects as before.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CollabClient } from "../../collab/static/collab/client.js";

function recorder() {
  const urls = [];
  class Socket {
    constructor(url) {
      urls.push(url);
      this.readyState = 0;
    }
    send() {}
    close() {}
  }
  return { urls, Socket };
}

function fakeFetch(answer) {
  const calls = [];
  let n = 0;
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const status = typeof answer === "function" ? answer() : answer;
    n += 1;
    return { ok: status === 200, status, json: async () => ({ ticket: `t${n}`, expires_in: 60 }) };
  };
  return { calls, fetch };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test("with a token: a ticket before each connect, and the token never in the URL", async () => {
  const { urls, Socket } = recorder();
  const { calls, fetch } = fakeFetch(200);
  const client = new CollabClient("ws://h/ws/documents/1/", {
    token: "SECRET", ticketUrl: "/api/ws-ticket/", fetch, WebSocket: Socket, autoConnect: false,
  });
  client.connect();
  await settle();
  assert.deepEqual(urls, ["ws://h/ws/documents/1/?ticket=t1"]);
  assert.equal(calls[0].url, "/api/ws-ticket/");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.headers.Authorization, "Token SECRET");
  client.closedWith(1006, true); // dropped: reconnect now, with a new ticket
  await settle();
  assert.deepEqual(urls, ["ws://h/ws/documents/1/?ticket=t1", "ws://h/ws/documents/1/?ticket=t2"]);
  assert.ok(urls.every((u) => !u.includes("SECRET")));
  client.close();
});

test("a server without tickets (404) gets ?token= and is not asked again", async () => {
  const { urls, Socket } = recorder();
  const { calls, fetch } = fakeFetch(404);
  const client = new CollabClient("ws://h/ws/documents/1/", {
    token: "SECRET", ticketUrl: "/api/ws-ticket/", fetch, WebSocket: Socket, autoConnect: false,
  });
  client.connect();
  await settle();
  client.closedWith(1006, true);
  await settle();
  assert.deepEqual(urls, ["ws://h/ws/documents/1/?token=SECRET", "ws://h/ws/documents/1/?token=SECRET"]);
  assert.equal(calls.length, 1);
  client.close();
});

test("a session: the CSRF cookie buys the ticket; without one (anonymous) no request is made", async () => {
  const { urls, Socket } = recorder();
  const { calls, fetch } = fakeFetch(200);
  globalThis.document = { cookie: "other=1; csrftoken=abc%3D" };
  try {
    const client = new CollabClient("ws://h/ws/documents/1/", {
      ticketUrl: "/api/ws-ticket/", fetch, WebSocket: Socket, autoConnect: false,
    });
    client.connect();
    await settle();
    assert.equal(calls[0].init.headers["X-CSRFToken"], "abc=");
    assert.equal(calls[0].init.credentials, "same-origin");
    assert.deepEqual(urls, ["ws://h/ws/documents/1/?ticket=t1"]);
    client.close();
    globalThis.document = { cookie: "" };
    const anonymous = new CollabClient("ws://h/ws/documents/2/", {
      ticketUrl: "/api/ws-ticket/", fetch, WebSocket: Socket, autoConnect: false,
    });
    anonymous.connect();
    await settle();
    assert.equal(calls.length, 1);
    assert.equal(urls[1], "ws://h/ws/documents/2/");
    anonymous.close();
  } finally {
    delete globalThis.document;
  }
});

test("close() while the ticket is on its way opens nothing", async () => {
  const { urls, Socket } = recorder();
  const { fetch } = fakeFetch(200);
  const client = new CollabClient("ws://h/ws/documents/1/", {
    token: "SECRET", ticketUrl: "/api/ws-ticket/", fetch, WebSocket: Socket, autoConnect: false,
  });
  client.connect();
  client.close();
  await settle();
  assert.deepEqual(urls, []);
});
