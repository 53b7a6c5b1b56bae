// @ts-check
/**
 * Who can open the document, in the editor's sidebar (`#sharing`): a sentence
 * for everyone (private, or what the link gives, with the link), and for
 * owners a panel that sets the public role and adds people by username with a
 * role, changes their role or removes them, all through the REST API.
 *
 * The server tells everyone present at once: a changed role reaches their
 * connection as a `role` message, someone who can no longer read the document
 * is closed with 4403. Call `setRole` on each `role` and `hello` (and with
 * "none" when access is gone): it redraws and re-reads the document and, for
 * owners, its members. A change of the public role that leaves someone's role
 * as it was sends them nothing: their sentence is re-read when the page is
 * shown again.
 *
 * A page that does not drive it (the rich-text page) marks the section
 * `data-mount`: it is then mounted from `#collab-config` on import.
 * @module
 */

import { api } from "./rest.js";

/** @typedef {{ username: string, role: string, user: { name: string } }} Member */

const LINK_GIVES = /** @type {Record<string, string>} */ ({ viewer: "view", editor: "edit" });

export class Sharing {
  /**
   * @param {HTMLElement} root the `#sharing` section of the page
   * @param {{ documentUrl: string, role: string, publicRole: string }} options
   *   `documentUrl` is the document's REST URL, `/api/documents/<id>/`
   */
  constructor(root, { documentUrl, role, publicRole }) {
    this.root = root;
    this.documentUrl = documentUrl;
    this.role = role;
    this.publicRole = publicRole;
    this.owner = "";
    /** @type {Member[]} */
    this.members = [];
    this.loads = 0; // answers to a superseded reload are ignored
    this.why = "";
    const $ = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (root.querySelector(sel));
    this.note = $("#access-note");
    this.panel = $("#share-panel");
    this.publicSelect = /** @type {HTMLSelectElement} */ ($("#public-role"));
    this.list = $("#members");
    this.form = /** @type {HTMLFormElement} */ ($("#add-member"));
    this.error = $("#share-error");
    this.publicSelect.addEventListener("change", () =>
      this.change("PATCH", this.documentUrl, { public_role: this.publicSelect.value }),
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const username = /** @type {HTMLInputElement} */ ($("#member-username"));
      const role = /** @type {HTMLSelectElement} */ ($("#member-role"));
      this.change("POST", `${this.documentUrl}members/`, { username: username.value.trim(), role: role.value }).then(
        (ok) => {
          if (ok) username.value = "";
        },
      );
    });
    this.list.addEventListener("change", (event) => {
      const select = /** @type {HTMLSelectElement} */ (event.target);
      this.change("PATCH", this.memberUrl(select), { role: select.value });
    });
    this.list.addEventListener("click", (event) => {
      const button = /** @type {HTMLElement} */ (event.target);
      if (button.matches("button.remove")) this.change("DELETE", this.memberUrl(button));
    });
    this.render();
    if (this.isOwner) this.reload();
    // a public role changed by an owner reaches the others' pages when they look again
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.role !== "none") this.reload();
    });
  }

  get isOwner() {
    return this.role === "owner";
  }

  /**
   * @param {string} role our role now ("none": no access any more)
   * @param {string} [why] with "none": the sentence to show instead of the default
   */
  setRole(role, why = "You no longer have access to this document.") {
    this.role = role;
    this.why = why;
    this.render();
    if (role !== "none") this.reload();
  }

  /** Read the document (its public role) and, for owners, its members; then redraw. */
  async reload() {
    const load = ++this.loads;
    try {
      const doc = await api("GET", this.documentUrl);
      const members = this.isOwner ? await api("GET", `${this.documentUrl}members/`) : [];
      if (load !== this.loads || this.role === "none") return;
      this.publicRole = doc.public_role;
      this.owner = doc.owner.username;
      this.members = members;
      this.render();
    } catch (err) {
      if (load === this.loads && this.isOwner) this.fail(err);
    }
  }

  /**
   * One change through the API, then a fresh read; errors are shown under the panel.
   * @param {string} method
   * @param {string} url
   * @param {unknown} [body]
   * @returns {Promise<boolean>} whether the server accepted it
   */
  async change(method, url, body) {
    this.error.hidden = true;
    this.panel.setAttribute("aria-busy", "true");
    try {
      await api(method, url, body);
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    } finally {
      this.panel.removeAttribute("aria-busy");
      await this.reload();
    }
  }

  /** @param {HTMLElement} control inside a member's row */
  memberUrl(control) {
    const row = /** @type {HTMLElement} */ (control.closest("[data-username]"));
    return `${this.documentUrl}members/${encodeURIComponent(row.dataset.username || "")}/`;
  }

  /** @param {unknown} err */
  fail(err) {
    this.error.textContent = err instanceof Error ? err.message : String(err);
    this.error.hidden = false;
  }

  render() {
    const link = new URL(window.location.pathname, window.location.href).href;
    const parts = [];
    if (this.role === "none") {
      parts.push(this.why);
    } else if (LINK_GIVES[this.publicRole]) {
      parts.push(`Anyone with the link can ${LINK_GIVES[this.publicRole]} it: `);
    } else {
      parts.push("Private: only the people added to it can open it.");
    }
    this.note.replaceChildren(...parts);
    if (this.role !== "none" && LINK_GIVES[this.publicRole]) {
      const a = document.createElement("a");
      a.id = "share";
      a.href = link;
      a.textContent = link;
      this.note.append(a);
    }
    this.root.dataset.publicRole = this.publicRole;
    this.panel.hidden = !this.isOwner;
    if (!this.isOwner) return;
    this.publicSelect.value = this.publicRole;
    const rows = [];
    if (this.owner) rows.push(this.row(this.owner, this.owner, null));
    for (const m of this.members) rows.push(this.row(m.username, m.user.name, m.role));
    this.list.replaceChildren(...rows);
  }

  /**
   * @param {string} username
   * @param {string} name
   * @param {string | null} role null: the document's owner (no controls)
   */
  row(username, name, role) {
    const li = document.createElement("li");
    li.dataset.username = username;
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name === username ? username : `${name} (${username})`;
    li.append(label);
    if (role === null) {
      const pill = document.createElement("span");
      pill.className = "pill";
      pill.textContent = "owner";
      li.append(pill);
      return li;
    }
    li.dataset.role = role;
    const select = document.createElement("select");
    select.className = "member-role";
    select.setAttribute("aria-label", `${username}'s role`);
    for (const r of ["viewer", "editor", "owner"]) select.append(new Option(r, r, false, r === role));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "ghost remove";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${username}`);
    li.append(select, remove);
    return li;
  }
}

const mounted = /** @type {HTMLElement | null} */ (document.querySelector("#sharing[data-mount]"));
if (mounted) {
  const config = JSON.parse((document.getElementById("collab-config") || {}).textContent || "{}");
  new Sharing(mounted, { documentUrl: config.apiUrl, role: config.role, publicRole: config.publicRole });
}
