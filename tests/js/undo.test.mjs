// UndoManager (undo.js): our edits only, transformed past everyone else's.
import assert from "node:assert/strict";
import { test } from "node:test";

import { apply, transform } from "../../collab/static/collab/ot.js";
import { UndoManager } from "../../collab/static/collab/undo.js";

/** A tiny local document: our edits recorded, others' transformed in. */
function doc(text) {
  const undo = new UndoManager({ mergeWindow: 1000 });
  const d = {
    text,
    undo,
    mine(op, at) {
      undo.record(op, d.text, at);
      d.text = apply(d.text, op);
    },
    theirs(op) {
      d.text = apply(d.text, op);
      undo.transform(op);
    },
    doUndo() {
      const op = undo.popUndo();
      if (!op) return false;
      const before = d.text;
      d.text = apply(d.text, op);
      undo.pushRedo(op, before);
      return true;
    },
    doRedo() {
      const op = undo.popRedo();
      if (!op) return false;
      const before = d.text;
      d.text = apply(d.text, op);
      undo.pushUndo(op, before);
      return true;
    },
  };
  return d;
}

test("undo removes our edit and keeps others' edits made since", () => {
  const d = doc("hello");
  d.mine([5, " world"], 0);
  d.theirs(["Oh, "]);
  d.theirs([4, -1, "H"]);
  assert.equal(d.text, "Oh, Hello world");
  assert.ok(d.doUndo());
  assert.equal(d.text, "Oh, Hello");
  assert.ok(d.doRedo());
  assert.equal(d.text, "Oh, Hello world");
  assert.ok(d.doUndo());
  assert.equal(d.text, "Oh, Hello");
  assert.ok(!d.doUndo());
});

test("a run of typing is one step; a pause or another kind starts a new one", () => {
  const d = doc("");
  d.mine(["H"], 0);
  d.mine([1, "i"], 100);
  d.mine([2, "😀"], 200);
  d.mine([3, "!"], 5000); // after a pause
  d.mine([3, -1], 5100); // a delete
  assert.equal(d.text, "Hi😀");
  d.doUndo();
  assert.equal(d.text, "Hi😀!");
  d.doUndo();
  assert.equal(d.text, "Hi😀");
  d.doUndo();
  assert.equal(d.text, "");
  assert.equal(d.undo.canUndo, false);
  d.doRedo();
  d.doRedo();
  assert.equal(d.text, "Hi😀!");
});

test("a new edit clears redo; seal starts a new step", () => {
  const d = doc("ab");
  d.mine([2, "c"], 0);
  d.doUndo();
  assert.equal(d.undo.canRedo, true);
  d.mine(["x"], 10);
  assert.equal(d.undo.canRedo, false);
  d.undo.seal();
  d.mine(["y"], 20);
  d.doUndo();
  assert.equal(d.text, "xab");
});

test("an edit others erased is skipped", () => {
  const d = doc("abc");
  d.mine([1, "XY"], 0);
  d.undo.seal();
  d.mine([5, "Z"], 10);
  d.theirs([5, -1]); // someone deleted our Z
  assert.equal(d.text, "aXYbc");
  assert.ok(d.doUndo()); // skips the erased step, undoes XY
  assert.equal(d.text, "abc");
});

test("undo after concurrent edits converges with the other side", () => {
  // Both sides start at "shared"; we type, they type, the ops cross.
  const ours = doc("shared");
  let theirs = "shared";
  const mine = [6, " text"];
  ours.mine(mine, 0);
  const other = ["my "];
  const [otherAfterMine, mineAfterOther] = transform(other, mine); // the server committed theirs first
  ours.theirs(otherAfterMine);
  theirs = apply(apply(theirs, other), mineAfterOther);
  assert.equal(ours.text, theirs);
  ours.doUndo();
  assert.equal(ours.text, "my shared");
});
