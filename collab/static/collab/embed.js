// @ts-check
/**
 * The live editor that `{% load collab %}{% collab_editor document %}` puts on a host's page:
 * every `[data-collab-editor]` element gets a textarea bound to a `CollabClient` (others' carets
 * drawn over it), who is here, the connection state and the reader's role. Several per page work;
 * each reads its own JSON config (`{documentId, wsPath, ticketUrl, role}`) from the
 * `<script type="application/json">` its `data-collab-editor` attribute names.
 *
 * Hosts can also mount one themselves: `mountEditor(element)`.
 * @module
 */

import { CollabClient } from "./client.js";
import { bindTextarea, drawCursors, placeOverlay } from "./textarea.js";

/** @typedef {import("./session.js").PresenceEntry} PresenceEntry */

/**
 * Mount the editor in `root` (idempotent); returns its client.
 * @param {HTMLElement} root
 */
export function mountEditor(root) {
  const existing = /** @type {any} */ (root).collab;
  if (existing) return existing;
  const configElement = document.getElementById(root.dataset.collabEditor || "");
  const config = JSON.parse((configElement && configElement.textContent) || "{}");
  const find = (/** @type {string} */ name) => /** @type {HTMLElement} */ (root.querySelector(`.collab-embed-${name}`));
  const textarea = /** @type {HTMLTextAreaElement} */ (root.querySelector("textarea"));
  const overlay = /** @type {HTMLElement} */ (root.querySelector(".overlay"));
  const status = find("status");
  const role = find("role");
  const people = find("people");
  const message = find("message");

  const client = new CollabClient(config.wsPath, { ticketUrl: config.ticketUrl });
  /** @type {any} */ (root).collab = client;
  const layout = () => placeOverlay(textarea, overlay);
  const render = () => drawCursors(overlay, client.text, client.cursors);
  const refresh = () => {
    textarea.readOnly = client.state === "closed" || !client.canEdit || client.version < 0;
    role.textContent = client.role || config.role;
    root.dataset.version = String(client.version);
  };
  const say = (/** @type {string} */ text) => {
    message.textContent = text;
    message.hidden = !text;
  };

  bindTextarea(textarea, client, { onLocalChange: () => { render(); refresh(); } });
  client.on("state", ({ state }) => {
    status.dataset.state = state;
    status.textContent = { connected: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…" }[state] || "Offline";
    refresh();
  });
  client.on("hello", () => { say(""); refresh(); render(); });
  client.on("change", () => { render(); refresh(); });
  client.on("ack", refresh);
  client.on("role", refresh);
  client.on("cursors", render);
  client.on("presence", ({ entries }) => {
    people.replaceChildren(
      ...entries.map((/** @type {PresenceEntry} */ e) => {
        const li = document.createElement("li");
        li.title = e.user.name;
        li.style.setProperty("--color", e.user.color);
        li.textContent = (e.user.name.trim()[0] || "?").toUpperCase();
        return li;
      }),
    );
  });
  client.on("error", ({ code, message: text }) => { if (code !== "rate_limited") say(text); });
  client.on("closed", ({ reconnect, message: text }) => { if (!reconnect) { say(text); refresh(); } });
  textarea.addEventListener("scroll", () => { overlay.scrollTop = textarea.scrollTop; });
  new ResizeObserver(() => { layout(); render(); }).observe(textarea);
  layout();
  return client;
}

for (const root of document.querySelectorAll("[data-collab-editor]")) mountEditor(/** @type {HTMLElement} */ (root));
