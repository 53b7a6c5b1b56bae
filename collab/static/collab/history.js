// @ts-check
/**
 * The editor page's history panel (docs/history.md): the kept versions (named
 * and automatic) from `GET versions/`, a read-only preview of one with its
 * diff against the current text (`GET diff/?from=V`: deleted and inserted
 * spans highlighted), "Restore this version" (`POST restore/`) and "Name this
 * version" (`POST versions/`). Viewers see the list and previews only; the
 * restored text reaches every open editor as an ordinary edit.
 *
 *     new HistoryPanel(document.getElementById("history"), { documentUrl, role });
 * @module
 */

import { api } from "./rest.js";

export class HistoryPanel {
  /**
   * @param {HTMLElement} root the `#history` section of editor.html
   * @param {{documentUrl: string, role: string}} options
   */
  constructor(root, { documentUrl, role }) {
    this.root = root;
    this.url = documentUrl.replace(/\/?$/, "/");
    const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (root.querySelector(`#${id}`));
    this.list = $("history-list");
    this.preview = $("history-preview");
    this.previewTitle = $("history-preview-title");
    this.diff = $("history-diff");
    this.restoreButton = /** @type {HTMLButtonElement} */ ($("history-restore"));
    this.nameForm = /** @type {HTMLFormElement} */ ($("history-name"));
    this.nameInput = /** @type {HTMLInputElement} */ ($("history-name-input"));
    this.error = $("history-error");
    this.status = $("history-status");
    /** @type {number | null} the version previewed */
    this.previewed = null;
    this.setRole(role);
    /** @type {HTMLDetailsElement} */ (root).addEventListener("toggle", () => {
      if (/** @type {HTMLDetailsElement} */ (root).open) this.refresh();
    });
    this.nameForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.name(this.nameInput.value.trim());
    });
    this.restoreButton.addEventListener("click", () => this.restore());
  }

  /** @param {string} role owners and editors may name and restore versions */
  setRole(role) {
    this.canEdit = role === "owner" || role === "editor";
    this.nameForm.hidden = !this.canEdit;
    this.restoreButton.hidden = !this.canEdit;
  }

  /** @param {string} text @param {boolean} [isError] */
  say(text, isError = false) {
    this.error.hidden = !isError;
    this.error.textContent = isError ? text : "";
    this.status.textContent = isError ? "" : text;
  }

  /** Load the list of kept versions, newest first. */
  async refresh() {
    try {
      const versions = await api("GET", `${this.url}versions/`);
      this.list.replaceChildren(...versions.map((/** @type {any} */ v) => this.item(v)));
      if (!versions.length) {
        const li = document.createElement("li");
        li.className = "hint";
        li.textContent = "No kept versions yet.";
        this.list.append(li);
      }
      this.list.dataset.loaded = "true";
    } catch (err) {
      this.say(/** @type {Error} */ (err).message, true);
    }
  }

  /** @param {any} v a version from the API */
  item(v) {
    const li = document.createElement("li");
    li.dataset.version = String(v.version);
    li.dataset.automatic = String(v.automatic);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "ghost version";
    const label = v.automatic ? "Automatic" : v.name;
    const when = new Date(v.created_at).toLocaleString();
    const by = v.author ? ` · ${v.author.name}` : "";
    button.textContent = `${label} · v${v.version}`;
    button.title = `${label}, version ${v.version}, ${when}${by}`;
    button.setAttribute("aria-label", `Preview ${label}, version ${v.version}, ${when}${by}`);
    button.addEventListener("click", () => this.show(v.version, label));
    li.append(button);
    return li;
  }

  /** Preview version `version`: its diff against the current text. @param {number} version @param {string} label */
  async show(version, label) {
    try {
      const answer = await api("GET", `${this.url}diff/?from=${version}`);
      this.previewed = version;
      this.previewTitle.textContent = `${label} (v${version}) compared with now (v${answer.to_version})`;
      this.diff.replaceChildren(
        ...answer.spans.map((/** @type {any} */ s) => {
          if (s.kind === "equal") return document.createTextNode(s.text);
          const mark = document.createElement(s.kind === "inserted" ? "ins" : "del");
          mark.textContent = s.text;
          const by = s.user ? ` by ${s.user.name}` : "";
          mark.title = s.kind === "inserted" ? `added since v${version}${by}` : `in v${version}, removed since`;
          return mark;
        }),
      );
      this.preview.hidden = false;
      this.preview.dataset.version = String(version);
      this.say("");
    } catch (err) {
      this.say(/** @type {Error} */ (err).message, true);
    }
  }

  /** Restore the previewed version (one edit; everyone's editor receives it). */
  async restore() {
    if (this.previewed === null) return;
    try {
      const done = await api("POST", `${this.url}restore/`, { version: this.previewed });
      this.say(
        done.changed
          ? `Restored version ${done.restored}: it is now version ${done.version}.`
          : "The text already was that version.",
      );
      this.preview.hidden = true;
      this.previewed = null;
      await this.refresh();
    } catch (err) {
      this.say(/** @type {Error} */ (err).message, true);
    }
  }

  /** Name the current version. @param {string} name */
  async name(name) {
    if (!name) return;
    try {
      const kept = await api("POST", `${this.url}versions/`, { name });
      this.nameInput.value = "";
      this.say(`Named version ${kept.version} “${kept.name}”.`);
      await this.refresh();
    } catch (err) {
      this.say(/** @type {Error} */ (err).message, true);
    }
  }
}
