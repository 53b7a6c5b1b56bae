// @ts-check
/**
 * The demo page of a yjs document: TipTap (ProseMirror) on a Y.Doc, synced with the stock
 * `WebsocketProvider` (y-websocket, `/ws/yjs/{id}`) or, with `?provider=hocuspocus` in the page's
 * URL, the stock `HocuspocusProvider` (`/ws/hocuspocus`). Both sign in with the session cookie.
 * Other people's carets and selections come from awareness (CollaborationCaret); the people here
 * are listed from the same awareness states (ourselves too while disconnected, marked offline).
 *
 * The page also watches the document's presence (the presence room, `/ws/presence/`): the entry
 * whose `meta.awareness` lists our awareness clientID is ours, and it carries the colour the
 * server gave this connection (unique in the room: our caret and name take it) and our role as
 * it is now, so a downgrade makes the editor read-only at once on either provider (y-websocket
 * has no message for it). Losing access or the document says so and stops saying our old role.
 * Who can open the document, and the owners' share panel: share.js.
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
import { PresenceRoom } from "../static/collab/presence.js";
import { Sharing } from "../static/collab/share.js";

/** What a permanent close (y-websocket) or a denial (Hocuspocus) means, in a sentence. */
const CLOSED = {
  4001: "An administrator closed this session.",
  4401: "Sign in to open this document.",
  4403: "Your access to this document was removed.",
  4404: "No such document, or it was not shared with you.",
  4410: "This document was deleted.",
  4413: "Your last change was too large: it was not saved.",
  4415: "This is not a rich-text document.",
};
/** Hocuspocus denial reasons, as the close code y-websocket would get. */
const DENIED = {
  session_closed: 4001,
  unauthorized: 4401,
  access_revoked: 4403,
  not_found: 4404,
  document_deleted: 4410,
  document_too_large: 4413,
  message_too_large: 4413,
  wrong_kind: 4415,
};
/** Codes after which the document is no longer ours to see, and what the role pill says then. */
const GONE = { 4401: "no access", 4403: "no access", 4404: "no access", 4410: "deleted" };

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} text @param {"error" | "info"} [kind] */
function showMessage(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

/** @param {"connecting" | "connected" | "disconnected" | "closed"} state @param {string} [label] */
function showStatus(state, label) {
  const badge = $("status");
  badge.dataset.state = state;
  badge.textContent =
    label || { connecting: "Connecting…", connected: "Connected", disconnected: "Reconnecting…", closed: "Offline" }[state];
  if (window.collab) window.collab.state = state;
}

/** @param {string} role */
const canEdit = (role) => role === "owner" || role === "editor";

/**
 * The presence entry of the connection that introduced awareness client `client` (the newest, after
 * a reconnect), or undefined until the server has seen that client's awareness.
 * @param {import("../static/collab/session.js").PresenceEntry[]} entries
 * @param {number} client our awareness clientID
 */
export function entryOf(entries, client) {
  return entries
    .filter((e) => e.meta && Array.isArray(e.meta.awareness) && e.meta.awareness.includes(client))
    .sort((a, b) => String(b.joined_at).localeCompare(String(a.joined_at)))[0];
}

/**
 * The people here, one entry per awareness client (a tab), from the states' `user` fields; their
 * roles from the presence entries that introduced them; ourselves marked offline while disconnected.
 * @param {import("y-protocols/awareness").Awareness} awareness
 * @param {import("../static/collab/session.js").PresenceEntry[]} entries
 * @param {boolean} online
 */
function drawPeople(awareness, entries, online) {
  const items = [...awareness.getStates()]
    .filter(([, state]) => state && state.user)
    .map(([client, state]) => {
      const self = client === awareness.clientID;
      const entry = entryOf(entries, client);
      const status = self && !online ? "offline" : (entry && entry.status) || "active";
      const li = document.createElement("li");
      li.className = "person";
      li.dataset.client = String(client);
      li.dataset.self = String(self);
      li.dataset.status = status;
      li.style.setProperty("--color", state.user.color || "#888");
      const dot = document.createElement("span");
      dot.className = "avatar";
      dot.textContent = (String(state.user.name).trim()[0] || "?").toUpperCase();
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = String(state.user.name);
      li.append(dot, name);
      if (self) {
        const you = document.createElement("span");
        you.className = "you";
        you.textContent = "you";
        li.append(you);
      }
      if (status === "offline" || entry) {
        const pill = document.createElement("span"); // offline: our role is not known to be current
        pill.className = "pill";
        pill.dataset.role = status === "offline" || !entry ? "none" : entry.role;
        pill.textContent = status === "offline" || !entry ? "offline" : entry.role;
        li.dataset.role = pill.dataset.role;
        li.append(pill);
      }
      return li;
    });
  $("presence").replaceChildren(...items);
  $("presence-count").textContent = String(items.length);
}

/** @param {Editor} editor @param {boolean} editable */
function setEditable(editor, editable) {
  // only on a change: it updates the view, which loses a selection the browser has moved but
  // ProseMirror has not read yet (a redraw on every awareness change dropped Shift+Arrow steps)
  if (editor.isEditable !== editable) editor.setEditable(editable);
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
      // until the server's presence entry names our colour (below)
      CollaborationCaret.configure({ provider, user: { name: config.user.name, color: config.user.color } }),
    ],
    editable: canEdit(config.role),
  });
  const sharing = new Sharing($("sharing"), { documentUrl: config.apiUrl, role: config.role, publicRole: config.publicRole });
  const page = {
    role: String(config.role),
    /** @type {string | null} Hocuspocus: the scope of the last `Authenticated` */
    scope: null,
    /** @type {string | null} what the role pill says once the document is no longer ours to see */
    gone: null,
    /** @type {import("../static/collab/session.js").PresenceEntry[]} the document's presence entries */
    entries: [],
  };
  window.collab = {
    editor, ydoc, provider, provider_name: useHocuspocus ? "hocuspocus" : "y-websocket", synced: false,
    state: "connecting", role: page.role, gone: null, color: null, session: null,
  }; // for the console and the browser tests
  bindToolbar(editor);

  const refresh = () => {
    const pill = $("role");
    pill.textContent = page.gone || page.role;
    pill.dataset.role = page.gone ? "none" : page.role;
    const open = window.collab.state !== "closed";
    setEditable(editor, open && !page.gone && canEdit(page.role) && page.scope !== "readonly");
    Object.assign(window.collab, { role: page.role, gone: page.gone });
    drawPeople(provider.awareness, page.entries, window.collab.state === "connected");
  };
  /** @param {string} role our role as the server says it is now */
  const roleNow = (role) => {
    if (role === page.role || page.gone) return;
    page.role = role;
    sharing.setRole(role);
    showMessage(role === "viewer" ? "You can now only view this document." : `Your role is now ${role}.`, "info");
  };
  const room = new PresenceRoom();
  /** @param {number} code a close code (Hocuspocus: its denial's equivalent) @param {string} text */
  const lose = (code, text) => {
    const gone = GONE[/** @type {keyof GONE} */ (code)];
    if (gone) {
      page.gone = gone;
      sharing.setRole("none", text);
      room.close();
    }
    showMessage(text);
    showStatus("closed");
    refresh();
  };

  room.on("presence", (/** @type {{document: string, entries: any[]}} */ { document: id, entries }) => {
    if (id !== config.documentId || page.gone) return;
    page.entries = entries;
    const mine = entryOf(entries, ydoc.clientID);
    if (mine) {
      const user = (provider.awareness.getLocalState() || {}).user || {};
      if (user.color !== mine.user.color || user.name !== mine.user.name) {
        editor.commands.updateUser({ name: mine.user.name, color: mine.user.color });
      }
      Object.assign(window.collab, { color: mine.user.color, session: mine.session });
      roleNow(mine.role);
    }
    refresh();
  });
  room.subscribe([config.documentId]);
  provider.awareness.on("change", refresh);
  refresh();

  // Once synced after a (re)connect: our awareness state again at a higher clock, since the server
  // and the others removed it at its last clock when we dropped and would ignore it at that clock.
  const announce = () => provider.awareness.setLocalState(provider.awareness.getLocalState());
  provider.on("status", (/** @type {{status: string}} */ { status }) => {
    if (window.collab.state === "closed") return;
    showStatus(status === "connected" ? "connected" : status === "connecting" ? "connecting" : "disconnected");
    refresh();
  });
  if (useHocuspocus) {
    provider.on("synced", () => {
      window.collab.synced = true;
      announce();
    });
    provider.on("authenticated", (/** @type {{scope: string}} */ { scope }) => {
      page.scope = scope;
      refresh();
    });
    provider.on("authenticationFailed", (/** @type {{reason: string}} */ { reason }) => {
      const code = DENIED[/** @type {keyof DENIED} */ (reason)] || 4404;
      lose(code, CLOSED[/** @type {keyof CLOSED} */ (code)]);
    });
    provider.on("close", (/** @type {{event: {reason: string}}} */ { event }) => {
      const code = DENIED[/** @type {keyof DENIED} */ (event && event.reason)];
      if (code) showMessage(CLOSED[/** @type {keyof CLOSED} */ (code)]);
    });
  } else {
    provider.on("sync", (/** @type {boolean} */ synced) => {
      window.collab.synced = synced;
      if (synced) announce();
    });
    provider.on("closed", (/** @type {{code: number}} */ { code }) => {
      lose(code, CLOSED[/** @type {keyof CLOSED} */ (code)] || `The server closed the connection (${code}).`);
    });
  }
}

main();
