// Stock `HocuspocusProvider`s (@hocuspocus/provider 2.x, 3.x or 4.x) sharing one socket, driven over
// JSON lines (driver-common.mjs).
//
//   node tests/yjs/driver-hocuspocus.mjs '{"url": "ws://127.0.0.1:8000/ws/hocuspocus", "version": "4",
//                                         "docs": [{"name": "<id>", "token": "<key>"}]}'
//
// Each doc may also carry "awareness" (the initial local state) and "sessionAwareness" (4.x).
// Commands name their document with "doc" (default: the first one opened). Besides those of
// driver-common.mjs: open {name, token, ...} (another document on the same socket), close_doc {doc},
// wait_synced {doc, timeout}, wait_saved {doc, timeout} (unsyncedChanges reached 0), info {doc};
// timeouts in seconds.
// Events, each with "doc": status, synced, authenticated {scope}, authenticationFailed {reason},
// close {code, reason}, unsynced {number}, awareness {...}; and socket-close {code, reason}.

import WebSocket from "ws";
import { config, documentCommands, emit, reportAwareness, serve, waitUntil } from "./driver-common.mjs";

const PACKAGES = { 2: "hocuspocus-provider-2", 3: "hocuspocus-provider-3", 4: "@hocuspocus/provider" };

const cfg = config();
const version = String(cfg.version ?? "4");
const pkg = PACKAGES[/** @type {"2" | "3" | "4"} */ (version)];
if (!pkg) throw new Error(`no @hocuspocus/provider ${version} here (2, 3 or 4)`);
const { HocuspocusProvider, HocuspocusProviderWebsocket } = await import(pkg);
const Y = await import("yjs");

const socket = new HocuspocusProviderWebsocket({
  url: cfg.url,
  WebSocketPolyfill: WebSocket,
  ...(cfg.socket || {}),
});
socket.on("close", (/** @type {any} */ e) => {
  const event = e && e.event;
  emit({ event: "socket-close", code: event ? event.code : null, reason: event ? String(event.reason || "") : "" });
});

/** @type {Map<string, any>} */
const providers = new Map();
/** @type {string | null} */
let first = null;

/** @param {{name: string, token?: string, awareness?: object, sessionAwareness?: boolean}} spec */
function open(spec) {
  const name = spec.name;
  if (providers.has(name)) throw new Error(`document ${name} is already open on this socket`);
  const provider = new HocuspocusProvider({
    websocketProvider: socket,
    name,
    document: new Y.Doc(),
    token: spec.token ?? cfg.token ?? "",
    ...(spec.sessionAwareness ? { sessionAwareness: true } : {}),
  });
  if (spec.awareness !== undefined) provider.awareness.setLocalState(spec.awareness);
  reportAwareness(provider.awareness, name);
  provider.on("status", (/** @type {any} */ e) => emit({ event: "status", doc: name, status: e.status }));
  provider.on("synced", (/** @type {any} */ e) => emit({ event: "synced", doc: name, synced: e ? e.state : true }));
  provider.on("authenticated", () =>
    emit({ event: "authenticated", doc: name, scope: provider.authorizedScope ?? null }),
  );
  provider.on("authenticationFailed", (/** @type {any} */ e) =>
    emit({ event: "authenticationFailed", doc: name, reason: e ? e.reason : "" }),
  );
  provider.on("close", (/** @type {any} */ e) => {
    const event = e && e.event;
    emit({ event: "close", doc: name, code: event ? event.code : null, reason: event ? String(event.reason || "") : "" });
  });
  provider.on("unsyncedChanges", () => emit({ event: "unsynced", doc: name, number: provider.unsyncedChanges }));
  // 2.x attaches itself when given a socket; 3.x and 4.x wait for attach()
  if (typeof provider.attach === "function" && !provider.isAttached) provider.attach();
  providers.set(name, provider);
  if (first === null) first = name;
  return provider;
}

/** @param {{doc?: string}} a */
function pick(a) {
  const name = a.doc ?? first;
  const provider = name === null ? undefined : providers.get(name);
  if (!provider) throw new Error(`document ${name} is not open on this socket`);
  return provider;
}

for (const spec of cfg.docs || []) open(spec);

serve(
  {
    ...documentCommands((a) => {
      const provider = pick(a);
      return { doc: provider.document, awareness: provider.awareness };
    }),
    open(/** @type {any} */ a) {
      open(a);
    },
    close_doc(/** @type {{doc?: string}} */ a) {
      const provider = pick(a);
      provider.destroy();
      providers.delete(provider.configuration.name);
    },
    async wait_synced(/** @type {{doc?: string, timeout?: number}} */ a) {
      const provider = pick(a);
      await waitUntil(() => provider.isSynced, (a.timeout ?? 10) * 1000, "the provider to sync");
      return { synced: true };
    },
    async wait_saved(/** @type {{doc?: string, timeout?: number}} */ a) {
      const provider = pick(a);
      await waitUntil(() => provider.unsyncedChanges === 0, (a.timeout ?? 10) * 1000, "unsyncedChanges to reach 0");
      return { unsynced: 0 };
    },
    info(/** @type {{doc?: string}} */ a) {
      const provider = pick(a);
      return {
        synced: provider.isSynced,
        unsynced: provider.unsyncedChanges,
        authenticated: provider.isAuthenticated,
        scope: provider.authorizedScope ?? null,
      };
    },
  },
  () => {
    for (const provider of providers.values()) provider.destroy();
    socket.destroy();
  },
);
