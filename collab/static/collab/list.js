// @ts-check
/**
 * The document list page: who is in each document, live (the presence room:
 * on subscribing it sends each document's entries as REST presence lists them,
 * then every change), and a form that creates a document through the REST API
 * and opens it. While the room is not connected the faces are not shown (they
 * would be stale) and a hint says it is reconnecting.
 * @module
 */

import { PresenceRoom } from "./presence.js";
import { api } from "./rest.js";

/** @typedef {import("./session.js").PresenceEntry} PresenceEntry */

/**
 * One face per person (two tabs of one user are one face).
 * @param {HTMLElement} list
 * @param {PresenceEntry[]} entries
 */
function drawFaces(list, entries) {
  /** @type {Map<string, PresenceEntry[]>} */
  const people = new Map();
  for (const e of entries) {
    const key = e.user.id === null ? `s:${e.session}` : `u:${e.user.id}`;
    people.set(key, [...(people.get(key) || []), e]);
  }
  list.replaceChildren(
    ...[...people.values()].map((sessions) => {
      const e = sessions[0];
      const li = document.createElement("li");
      li.className = "avatar";
      li.dataset.session = sessions.map((s) => s.session).join(" ");
      li.dataset.name = e.user.name;
      li.style.setProperty("--color", e.user.color);
      li.textContent = (e.user.name.trim()[0] || "?").toUpperCase();
      li.title = sessions.length > 1 ? `${e.user.name} (${sessions.length} tabs)` : e.user.name;
      return li;
    }),
  );
  list.setAttribute("aria-label", entries.length ? `Here now: ${[...people.values()].map((s) => s[0].user.name).join(", ")}` : "Nobody here");
}

/** What the hint under the list says while the presence room is not connected. */
const NOT_CONNECTED = /** @type {Record<string, string>} */ ({
  reconnecting: "Reconnecting… who is in each document shows again once connected.",
  closed: "Offline: reload the page to see who is in each document.",
});

/**
 * @param {string} state the presence room's state
 */
function showPresenceState(state) {
  const hint = document.getElementById("presence-state");
  if (!hint) return;
  const text = NOT_CONNECTED[state] || "";
  hint.textContent = text;
  hint.dataset.state = state;
  hint.hidden = !text;
  for (const list of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-presence]"))) {
    list.dataset.known = String(!text);
    if (text) {
      list.replaceChildren(); // the last list seen is stale: show none rather than a wrong one
      list.setAttribute("aria-label", "Not known while reconnecting");
    }
  }
}

function main() {
  const config = JSON.parse((document.getElementById("collab-config") || {}).textContent || "{}");
  const room = new PresenceRoom();
  room.on("presence", ({ document: id, entries }) => {
    const list = /** @type {HTMLElement | null} */ (document.querySelector(`[data-presence="${CSS.escape(id)}"]`));
    if (list && room.state === "connected") drawFaces(list, entries);
  });
  // the first attempt says nothing; "connecting" again after a loss is still reconnecting
  room.on("state", ({ state }) => showPresenceState(state === "connecting" && room.attempt > 0 ? "reconnecting" : state));
  if (config.documents && config.documents.length) room.subscribe(config.documents);

  const form = /** @type {HTMLFormElement} */ (document.getElementById("new-document"));
  const error = /** @type {HTMLElement} */ (document.getElementById("new-error"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const data = new FormData(form);
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button"));
    button.disabled = true;
    try {
      const body = await api(
        "POST",
        config.apiUrl,
        {
          title: String(data.get("title") || "").trim(),
          public_role: data.get("public_role"),
          kind: data.get("kind") || "text",
        },
        String(data.get("csrfmiddlewaretoken") || ""),
      );
      window.location.assign(config.editorUrl.replace("00000000-0000-0000-0000-000000000000", body.id));
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
      error.hidden = false;
      button.disabled = false;
    }
  });
}

main();
