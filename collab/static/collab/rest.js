// @ts-check
/**
 * The REST API from the pages: same-origin JSON with the session cookie and
 * Django's CSRF token, and an `Error` carrying the server's one-sentence
 * `detail` when the answer is not a success.
 *
 *     import { api } from "/static/collab/rest.js";
 *
 *     const doc = await api("PATCH", `/api/documents/${id}/`, { public_role: "viewer" });
 * @module
 */

/** @param {string} name */
export function cookie(name) {
  const match = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return match ? decodeURIComponent(match.slice(name.length + 1)) : "";
}

/**
 * One request; resolves to the parsed body (null for 204), rejects with the server's `detail`.
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body] sent as JSON
 * @param {string} [csrfToken] default: the `csrftoken` cookie
 * @returns {Promise<any>}
 */
export async function api(method, url, body, csrfToken) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken || cookie("csrftoken");
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data && data.detail) || `The server answered ${response.status}.`);
  return data;
}
