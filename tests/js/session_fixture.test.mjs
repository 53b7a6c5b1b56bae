// The shared fixture tests/fixtures/session_cases.json, replayed on the browser's session.js
// (the Python client replays the same cases in tests/test_session_fixture.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { Session } from "../../collab/static/collab/session.js";

const FIXTURE = JSON.parse(readFileSync(new URL("../fixtures/session_cases.json", import.meta.url), "utf8"));

/** An event in the fixture's vocabulary, or null for the ones it does not compare. */
function sharedEvent(e) {
  switch (e.type) {
    case "ready":
      return { type: "ready", text: e.text };
    case "change":
      if (e.origin === "remote" || e.origin === "reset") return { type: "change", version: e.version, op: e.op, text: e.text };
      if (e.origin === "rejected") return { type: "rejected", seq: e.seq, code: e.code, text: e.text };
      return null;
    case "ack":
      return { type: "acked", seq: e.seq, version: e.version };
    default:
      return null;
  }
}

const state = (s) => ({ text: s.text, version: s.version, pending: s.pending, reconnect: s.wantReconnect });
const pick = (object, keys) => Object.fromEntries(keys.map((k) => [k, object[k]]));

function replay(c) {
  let clock = 0;
  const s = new Session({ clientId: "me", now: () => clock });
  c.steps.forEach((step, i) => {
    const [action] = Object.keys(step).filter((k) => k !== "expect");
    const value = step[action];
    const expect = step.expect || {};
    const where = `step ${i + 1} (${action})`;
    clock += 1000;
    let decision;
    if (action === "connect") s.opened();
    else if (action === "receive") s.receive(value);
    else if (action === "edit") s.edit(value);
    else if (action === "ack_timeout") s.ackTimedOut();
    else if (action === "close") decision = s.closed(value).reconnect ? "reconnect" : "give_up";
    else throw new Error(`unknown action ${action}`);
    const sent = s.takeOutgoing();
    const events = s.takeEvents().map(sharedEvent).filter((e) => e !== null);
    const expectedEvents = expect.events || [];
    assert.deepEqual(sent, expect.send || [], where);
    assert.deepEqual(
      events.map((e, k) => pick(e, Object.keys(expectedEvents[k] || e))),
      expectedEvents,
      where,
    );
    assert.deepEqual(pick(state(s), Object.keys(expect.state || {})), expect.state || {}, where);
    assert.equal(decision, expect.decision, where);
  });
}

describe("shared session fixture", () => {
  test("it has the cases", () => assert.ok(FIXTURE.cases.length >= 12));
  for (const c of FIXTURE.cases) test(c.name, () => replay(c));
  test("a wrong expectation fails", () => {
    const c = structuredClone(FIXTURE.cases[0]);
    c.steps[2].expect.send[0].payload.seq = 2;
    assert.throws(() => replay(c), /step 3/);
  });
});
