// @ts-check
/**
 * The demo page of a yjs document: TipTap (ProseMirror) on a Y.Doc, synced with the stock
 * `WebsocketProvider` (y-websocket, `/ws/yjs/{id}`) or, with `?provider=hocuspocus` in the page's
 * URL, the stock `HocuspocusProvider` (`/ws/hocuspocus`). Both sign in with the session cookie.
 * Other people's carets and selections come from awareness (CollaborationCaret); the people here
 * are listed from the same awareness states. Viewers get a read-only editor.
 *
 * Built by scripts/build-frontend.mjs (esbuild) into static/collab/build/yjs-editor.js.
 * @module
 */

import { HocuspocusProvider } from "@hocuspocus/provider";
import { Editor } from "@tiptap/core";
import Collaboration from "@tiptap/extension-collaboration";
import CollaborationCaret from "@tiptap/extension-collaboration-caret";
import StarterKit from "@tiptap/starter-kit";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

/** What a permanent close (y-websocket) or a denial (Hocuspocus) means, in a sentence. */
const CLOSED = {
  4401: "Sign in to open this document.",
  4403: "Your access to this document was removed.",
  4404: "No such document, or it was not shared with you.",
  4410: "This document was deleted.",
  4413: "Your last change was too large: it was not saved.",
  4415: "This is not a rich-text document.",
};
const DENIED = {
  document_too_large: CLOSED[4413],
  message_too_large: CLOSED[4413],
  wrong_kind: CLOSED[4415],
};

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} text */
function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = false;
}

/** @param {"connecting" | "connected" | "disconnected" | "closed"} state @param {string} [label] */
function showStatus(state, label) {
  const badge = $("status");
  badge.dataset.state = state;
  badge.textContent =
    label || { connecting: "Connecting…", connected: "Connected", disconnected: "Reconnecting…", closed: "Offline" }[state];
  if (window.collab) window.collab.state = state;
}

/**
 * The people here, one entry per awareness client (a tab), from the states' `user` fields.
 * @param {import("y-protocols/awareness").Awareness} awareness
 */
function drawPeople(awareness) {
  const items = [...awareness.getStates()]
    .filter(([, state]) => state && state.user)
    .map(([client, state]) => {
      const li = document.createElement("li");
      li.dataset.client = String(client);
      if (client === awareness.clientID) li.dataset.self = "true";
      li.style.setProperty("--color", state.user.color || "#888");
      const dot = document.createElement("span");
      dot.className = "avatar";
      dot.textContent = (String(state.user.name).trim()[0] || "?").toUpperCase();
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = String(state.user.name);
      li.append(dot, name);
      return li;
    });
  $("presence").replaceChildren(...items);
  $("presence-count").textContent = String(items.length);
}

/** @param {Editor} editor @param {boolean} editable */
function setEditable(editor, editable) {
  editor.setEditable(editable);
  $("readonly").hidden = editable;
  for (const button of document.querySelectorAll(".toolbar [data-mark]")) {
    /** @type {HTMLButtonElement} */ (button).disabled = !editable;
  }
}

/** @param {Editor} editor */
function bindToolbar(editor) {
  const marks = /** @type {NodeListOf<HTMLButtonElement>} */ (document.querySelectorAll(".toolbar [data-mark]"));
  for (const button of marks) {
    button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
    button.addEventListener("click", () => {
      editor.chain().focus().toggleMark(/** @type {string} */ (button.dataset.mark)).run();
    });
  }
  const refresh = () => {
    for (const button of marks) button.setAttribute("aria-pressed", String(editor.isActive(button.dataset.mark || "")));
  };
  editor.on("selectionUpdate", refresh);
  editor.on("transaction", refresh);
}

function main() {
  const config = JSON.parse(($("collab-config") || {}).textContent || "{}");
  const ydoc = new Y.Doc();
  const origin = `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}`;
  const useHocuspocus = new URLSearchParams(window.location.search).get("provider") === "hocuspocus";
  /** @type {any} */
  let provider;
  if (useHocuspocus) {
    // an empty token: the server signs the socket in with the session cookie
    provider = new HocuspocusProvider({ url: `${origin}/ws/hocuspocus`, name: config.documentId, document: ydoc, token: "" });
  } else {
    provider = new WebsocketProvider(`${origin}/ws/yjs`, config.documentId, ydoc);
  }

  const editor = new Editor({
    element: $("editor"),
    extensions: [
      StarterKit.configure({ undoRedo: false }), // Collaboration brings its own (per-user) undo
      Collaboration.configure({ document: ydoc }),
      CollaborationCaret.configure({ provider, user: { name: config.user.name, color: config.user.color } }),
    ],
    editable: config.role !== "viewer",
  });
  window.collab = { editor, ydoc, provider, provider_name: useHocuspocus ? "hocuspocus" : "y-websocket", synced: false, state: "connecting", role: config.role };
  setEditable(editor, config.role !== "viewer");
  bindToolbar(editor);
  provider.awareness.on("change", () => drawPeople(provider.awareness));
  drawPeople(provider.awareness);

  provider.on("status", (/** @type {{status: string}} */ { status }) => {
    if (window.collab.state === "closed") return;
    showStatus(status === "connected" ? "connected" : status === "connecting" ? "connecting" : "disconnected");
  });
  if (useHocuspocus) {
    provider.on("synced", () => {
      window.collab.synced = true;
    });
    provider.on("authenticated", () => {
      if (provider.authorizedScope === "readonly") setEditable(editor, false);
    });
    provider.on("authenticationFailed", (/** @type {{reason: string}} */ { reason }) => {
      showMessage(DENIED[/** @type {keyof DENIED} */ (reason)] || CLOSED[4404]);
      setEditable(editor, false);
      showStatus("closed");
    });
    provider.on("close", (/** @type {{event: {reason: string}}} */ { event }) => {
      const text = DENIED[/** @type {keyof DENIED} */ (event && event.reason)];
      if (text) showMessage(text);
    });
  } else {
    provider.on("sync", (/** @type {boolean} */ synced) => {
      window.collab.synced = synced;
    });
    provider.on("closed", (/** @type {{code: number}} */ { code }) => {
      showMessage(CLOSED[/** @type {keyof CLOSED} */ (code)] || `The server closed the connection (${code}).`);
      setEditable(editor, false);
      showStatus("closed");
    });
  }
}

main();
