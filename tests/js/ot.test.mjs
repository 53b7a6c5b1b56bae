// The shared fixture tests/fixtures/ot_cases.json, run against the browser's ot.js
// (the Python side runs the same cases in tests/ot/test_fixture.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import {
  MalformedOperation,
  OperationOutOfRange,
  apply,
  compose,
  diff,
  invert,
  isNoop,
  normalize,
  targetLength,
  transform,
  transformPosition,
} from "../../collab/static/collab/ot.js";
import { cpLength } from "../../collab/static/collab/text.js";

const CASES = JSON.parse(readFileSync(new URL("../fixtures/ot_cases.json", import.meta.url), "utf8"));

const each = (section, fn) => {
  describe(section, () => {
    CASES[section].forEach((c, i) => test(`${section}${i}: ${JSON.stringify(c).slice(0, 90)}`, () => fn(c)));
  });
};

test("fixture has every section with at least ten cases", () => {
  for (const section of ["apply", "normalize", "transform", "compose", "invert", "transform_position", "invalid", "diff"]) {
    assert.ok(CASES[section].length >= 10, section);
  }
});

each("apply", (c) => assert.equal(apply(c.doc, c.op), c.result));

each("normalize", (c) => assert.deepEqual(normalize(c.op), c.result));

each("transform", (c) => {
  assert.deepEqual(transform(c.a, c.b), [c.a_prime, c.b_prime]);
  assert.equal(apply(apply(c.doc, c.a), c.b_prime), apply(apply(c.doc, c.b), c.a_prime));
});

each("compose", (c) => {
  assert.deepEqual(compose(c.a, c.b), c.result);
  assert.equal(apply(c.doc, c.result), apply(apply(c.doc, c.a), c.b));
});

each("invert", (c) => {
  assert.deepEqual(invert(c.op, c.doc), c.result);
  assert.equal(apply(apply(c.doc, c.op), c.result), c.doc);
});

each("transform_position", (c) => assert.equal(transformPosition(c.pos, c.op, c.own), c.result));

each("invalid", (c) => {
  const error = { malformed: MalformedOperation, out_of_range: OperationOutOfRange }[c.error];
  assert.throws(() => apply(c.doc, c.op), error);
});

each("diff", (c) => {
  assert.deepEqual(diff(c.old, c.new), c.result);
  assert.equal(apply(c.old, c.result), c.new);
});

// -- properties, with a small seeded generator (no dependencies) -------------------
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const ALPHABET = ["a", "b", "c", " ", "😀", "é", "e\u0301", "🇫🇷", "\n"];
function randomText(r, max = 8) {
  let s = "";
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}
function randomOp(r, length) {
  const op = [];
  let left = length;
  while (left > 0 || r() < 0.3) {
    const k = r();
    if (k < 0.3) op.push(randomText(r, 3) || "x");
    else if (left === 0) break;
    else {
      const n = 1 + Math.floor(r() * left);
      op.push(k < 0.65 ? n : -n);
      left -= n;
    }
    if (r() < 0.15) break;
  }
  return op;
}

test("transform converges (TP1) and compose/invert agree with apply, on random ops", () => {
  const r = rng(42);
  for (let i = 0; i < 2000; i++) {
    const doc = randomText(r, 10);
    const n = cpLength(doc);
    const a = randomOp(r, n);
    const b = randomOp(r, n);
    const [a2, b2] = transform(a, b);
    const left = apply(apply(doc, a), b2);
    assert.equal(left, apply(apply(doc, b), a2), JSON.stringify({ doc, a, b }));
    assert.equal(cpLength(left), targetLength(b2, targetLength(a, n)));
    const c = randomOp(r, cpLength(apply(doc, a)));
    assert.equal(apply(doc, compose(a, c)), apply(apply(doc, a), c));
    assert.equal(apply(apply(doc, a), invert(a, doc)), doc);
    assert.deepEqual(normalize(normalize(a)), normalize(a));
  }
});

test("isNoop and errors carry their class", () => {
  assert.ok(isNoop([3]) && isNoop([]) && !isNoop(["x"]));
  assert.throws(() => normalize([1.5]), (e) => e instanceof MalformedOperation && e.name === "MalformedOperation");
  assert.throws(() => transformPosition(-1, []), RangeError);
});
