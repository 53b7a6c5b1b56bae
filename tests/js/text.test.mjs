// Code points versus UTF-16 (text.js), and the caret-aware diff the editor sends.
import assert from "node:assert/strict";
import { test } from "node:test";

import { apply, diff } from "../../collab/static/collab/ot.js";
import {
  advance,
  cpLength,
  cpSlice,
  cpToUtf16,
  diffAround,
  isWellFormed,
  utf16ToCp,
} from "../../collab/static/collab/text.js";

test("lengths and indices in code points", () => {
  assert.equal(cpLength(""), 0);
  assert.equal(cpLength("a😀b"), 3);
  assert.equal(cpLength("🇫🇷"), 2); // two regional indicators
  assert.equal(cpLength("e\u0301"), 2); // a combining accent is its own code point
  assert.equal(cpLength("\ud83d"), 1); // a lone surrogate counts as one
  assert.equal(cpToUtf16("a😀b", 2), 3);
  assert.equal(cpToUtf16("a😀b", 9), 4);
  assert.equal(utf16ToCp("a😀b", 3), 2);
  assert.equal(utf16ToCp("a😀b", 2), 1); // inside the pair: rounded down
  assert.equal(utf16ToCp("a😀b", 99), 3);
  assert.equal(advance("😀😀x", 2, 1), 4);
  assert.equal(cpSlice("a😀b😀", 1, 3), "😀b");
  assert.equal(cpSlice("a😀b😀", 2), "b😀");
  for (const s of ["", "abc", "😀😀", "a😀b🇫🇷c"]) {
    const n = cpLength(s);
    for (let cp = 0; cp <= n; cp++) assert.equal(utf16ToCp(s, cpToUtf16(s, cp)), cp);
    assert.equal(n, Array.from(s).length);
  }
  assert.ok(isWellFormed("a😀") && !isWellFormed("a\ud83d") && !isWellFormed("\ude00a"));
});

test("diffAround places the change at the caret", () => {
  // typing "a" after "a": the caret says where
  assert.deepEqual(diffAround("a", "aa", 2), [1, "a"]);
  assert.deepEqual(diffAround("a", "aa", 1), ["a"]);
  assert.deepEqual(diffAround("ab", "aab", 1), ["a"]);
  // backspace and delete
  assert.deepEqual(diffAround("abc", "ac", 1), [1, -1]);
  assert.deepEqual(diffAround("aaa", "aa", 0), [-1]);
  assert.deepEqual(diffAround("aaa", "aa", 2), [2, -1]);
  // emoji in code points
  assert.deepEqual(diffAround("ab", "a😀b", 3), [1, "😀"]);
  assert.deepEqual(diffAround("😀😀", "😀", 2), [1, -1]);
  assert.deepEqual(diffAround("x😀y", "x😃y", 3), [1, "😃", -1]); // same high surrogate, not split
  // replacing a selection
  assert.deepEqual(diffAround("hello world", "hello there", 11), [6, "there", -5]);
  assert.deepEqual(diffAround("same", "same", 2), []);
});

test("diffAround always produces an op from old to new", () => {
  const samples = ["", "a", "aa", "abc", "😀", "a😀😀b", "🇫🇷x", "e\u0301e"];
  for (const a of samples) {
    for (const b of samples) {
      for (let caret = 0; caret <= b.length; caret++) {
        const op = diffAround(a, b, caret);
        assert.equal(apply(a, op), b, JSON.stringify({ a, b, caret, op }));
      }
      assert.deepEqual(diffAround(a, b), diff(a, b));
    }
  }
});

test("changeEnd: where the caret goes after undo or redo", async () => {
  const { changeEnd } = await import("../../collab/static/collab/textarea.js");
  assert.equal(changeEnd([5, "😀ab"]), 8);
  assert.equal(changeEnd([3, -4]), 3);
  assert.equal(changeEnd([1, "x", 2, -1, 4]), 4);
  assert.equal(changeEnd([]), 0);
});

test("index.js exports the public surface", async () => {
  const api = await import("../../collab/static/collab/index.js");
  for (const name of ["CollabClient", "PresenceRoom", "Session", "bindTextarea", "cpToUtf16", "UndoManager"]) {
    assert.equal(typeof api[name], "function", name);
  }
  assert.equal(typeof api.ot.transform, "function");
});

test("utf16Changes: an op as UTF-16 changes on the old text", async () => {
  const { utf16Changes } = await import("../../collab/static/collab/text.js");
  assert.deepEqual(utf16Changes("a😀b", [2, "x", -1]), [{ from: 3, to: 4, insert: "x" }]);
  assert.deepEqual(utf16Changes("😀😀", [-1, 1, "!"]), [{ from: 0, to: 2, insert: "" }, { from: 4, to: 4, insert: "!" }]);
  // applying the changes from the end reproduces apply()
  const samples = [["hello 😀 world", [6, -1, "🎉", 1, -5, "there"]], ["", ["x"]], ["ab", [-2]]];
  for (const [text, op] of samples) {
    let out = text;
    for (const ch of utf16Changes(text, op).reverse()) out = out.slice(0, ch.from) + ch.insert + out.slice(ch.to);
    assert.equal(out, apply(text, op));
  }
});
