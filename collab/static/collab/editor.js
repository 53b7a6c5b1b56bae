// @ts-check
/**
 * The demo editor page: a textarea bound to a `CollabClient`, everyone
 * present (ourselves too while disconnected, marked offline), remote carets
 * and selections drawn over the text, a connection badge, read-only mode for
 * viewers, messages for errors, and who can open the document (share.js:
 * owners manage it there), and the document's history (history.js).
 *
 * The page passes `#collab-config` (`{documentId, wsPath, role, title, ...}`).
 * The reusable parts are in textarea.js (`bindTextarea`, `drawCursors`).
 * @module
 */

import { CollabClient } from "./client.js";
import { CloseCode, ErrorCode } from "./codes.js";
import { HistoryPanel } from "./history.js";
import { Sharing } from "./share.js";
import { cpLength } from "./text.js";
import { bindTextarea, drawCursors, placeOverlay } from "./textarea.js";

/** @typedef {import("./session.js").PresenceEntry} PresenceEntry */

/** Close codes after which this page no longer shows the document to us, and what the role pill says. */
const NO_ACCESS = new Map([
  [CloseCode.ACCESS_REVOKED, "no access"],
  [CloseCode.UNAUTHORIZED, "no access"],
  [CloseCode.NOT_FOUND, "no access"],
  [CloseCode.DOCUMENT_DELETED, "deleted"],
]);

/**
 * The list of people present.
 * @param {HTMLElement} list
 * @param {PresenceEntry[]} entries
 * @param {string | null} self our session
 */
export function drawPresence(list, entries, self) {
  list.replaceChildren(
    ...entries.map((e) => {
      const li = document.createElement("li");
      li.className = "person";
      li.dataset.session = e.session;
      li.dataset.self = String(e.session === self);
      li.dataset.status = e.status;
      li.dataset.role = e.role;
      const avatar = document.createElement("span");
      avatar.className = "avatar";
      avatar.style.setProperty("--color", e.user.color);
      avatar.textContent = (e.user.name.trim()[0] || "?").toUpperCase();
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = e.user.name;
      name.title = `${e.user.name} (${e.role}${e.status === "idle" ? ", idle" : ""})`;
      li.append(avatar, name);
      if (e.session === self) {
        const you = document.createElement("span");
        you.className = "you";
        you.textContent = "you";
        li.append(you);
      }
      const role = document.createElement("span"); // offline: the role is not known to be current
      role.className = "pill";
      role.dataset.role = e.status === "offline" ? "none" : e.role;
      role.textContent = e.status === "offline" ? "offline" : e.role;
      li.append(role);
      return li;
    }),
  );
}

/** Wire up the editor page. */
function main() {
  const configElement = document.getElementById("collab-config");
  if (!configElement) return;
  const config = JSON.parse(configElement.textContent || "{}");
  const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const textarea = /** @type {HTMLTextAreaElement} */ ($("text"));
  const overlay = /** @type {HTMLElement} */ (document.querySelector("#editor .overlay"));
  const badge = $("status");
  const message = $("message");
  const saved = $("saved");
  const undoButton = /** @type {HTMLButtonElement} */ ($("undo"));
  const redoButton = /** @type {HTMLButtonElement} */ ($("redo"));

  const client = new CollabClient(config.wsPath);
  Object.assign(window, { collab: client }); // for the console and the browser tests
  let closed = false;
  /** @type {string | null} what the role pill says once the server took the document away */
  let gone = null;
  /** @type {PresenceEntry | null} our own entry, last seen while connected */
  let me = null;
  const sharing = new Sharing($("sharing"), {
    documentUrl: config.apiUrl,
    role: config.role,
    publicRole: config.publicRole,
  });

  const historyPanel = new HistoryPanel($("history"), { documentUrl: config.apiUrl, role: config.role });

  const render = () => drawCursors(overlay, client.text, client.cursors);
  const layout = () => placeOverlay(textarea, overlay);
  const refreshControls = () => {
    textarea.readOnly = closed || !client.canEdit || client.version < 0;
    undoButton.disabled = closed || !client.canUndo;
    redoButton.disabled = closed || !client.canRedo;
    $("readonly").hidden = client.version < 0 || client.canEdit;
    const role = $("role");
    role.textContent = gone || client.role;
    role.dataset.role = gone ? "none" : client.role;
    const n = cpLength(client.text);
    $("stats").textContent = client.version < 0 ? "" : `${n} character${n === 1 ? "" : "s"} · v${client.version}`;
    if (client.version < 0) saved.textContent = "";
    else if (client.pending) saved.textContent = client.state === "connected" ? "Saving…" : "Unsaved changes";
    else saved.textContent = closed ? "" : "All changes saved"; // closed: nothing more is saved
  };
  /**
   * @param {string} text
   * @param {string} [code]
   * @param {"error" | "info"} [kind]
   */
  const say = (text, code = "", kind = "error") => {
    message.textContent = text;
    message.dataset.code = code;
    message.dataset.kind = kind;
    message.hidden = !text;
  };

  bindTextarea(textarea, client, { onLocalChange: () => { render(); refreshControls(); } });

  /** @type {ReturnType<typeof setInterval> | undefined} */
  let countdown;
  client.on("state", ({ state, retryAt }) => {
    clearInterval(countdown);
    badge.dataset.state = state;
    const labels = /** @type {Record<string, string>} */ ({
      idle: "Connecting…", connecting: "Connecting…", connected: "Connected", offline: "Offline", closed: "Offline",
    });
    badge.textContent = labels[state] || state;
    badge.title = state === "reconnecting" ? "Click to reconnect now" : "Connection to the server";
    if (state === "reconnecting") {
      const tick = () => {
        const s = Math.max(1, Math.ceil((retryAt - Date.now()) / 1000));
        badge.textContent = `Reconnecting in ${s}s`;
      };
      tick();
      countdown = setInterval(tick, 250);
    }
    if (state === "closed") closed = true;
    refreshControls();
  });
  badge.addEventListener("click", () => client.reconnectNow());
  client.on("hello", ({ document: doc, first }) => {
    $("title").textContent = doc.title;
    document.title = `${doc.title} · collab`;
    if (!first || client.role !== config.role) sharing.setRole(client.role); // it may have changed meanwhile
    if (!first && message.dataset.code !== "changes_discarded") say("");
    refreshControls();
    render();
  });
  client.on("ready", () => {
    refreshControls();
    render();
    if (document.activeElement === document.body && client.canEdit) textarea.focus();
  });
  client.on("change", () => {
    render();
    refreshControls();
  });
  client.on("cursors", render);
  client.on("presence", ({ entries }) => {
    const self = entries.find((/** @type {PresenceEntry} */ e) => e.session === client.sessionId);
    if (self) me = self;
    // Disconnected, the server's list is gone: we are still here, offline.
    const shown = self || !me ? entries : [...entries, { ...me, status: "offline" }];
    drawPresence($("presence"), shown, me && me.session);
    $("presence-count").textContent = String(shown.length);
  });
  client.on("role", ({ role }) => {
    sharing.setRole(role);
    historyPanel.setRole(role);
    refreshControls();
    say(role === "viewer" ? "You can now only view this document." : `Your role is now ${role}.`, "role", "info");
  });
  client.on("pending", refreshControls);
  client.on("ack", refreshControls);
  client.on("error", ({ code, message: text }) => {
    if (code === ErrorCode.RATE_LIMITED) return; // transient: the client recovers by itself
    say(text, code);
  });
  client.on("closed", ({ reconnect, message: text, code }) => {
    if (!reconnect) {
      closed = true;
      gone = NO_ACCESS.get(code) || null;
      if (gone) sharing.setRole("none", text);
      say(text, String(code));
      refreshControls();
    }
  });

  textarea.addEventListener("scroll", () => {
    overlay.scrollTop = textarea.scrollTop;
  });
  new ResizeObserver(() => {
    layout();
    render();
  }).observe(textarea);
  document.addEventListener("visibilitychange", () => client.setStatus(document.hidden ? "idle" : "active"));
  undoButton.addEventListener("click", () => {
    client.undo();
    textarea.focus();
  });
  redoButton.addEventListener("click", () => {
    client.redo();
    textarea.focus();
  });
  window.addEventListener("beforeunload", (e) => {
    if (client.pending) e.preventDefault(); // unsaved edits: let the browser ask
  });
  layout();
}

main();
