// A stock `WebsocketProvider` (y-websocket) on one document, driven over JSON lines (driver-common.mjs).
//
//   node tests/yjs/driver-ywebsocket.mjs '{"url": "ws://127.0.0.1:8000/ws/yjs", "doc": "<id>", "token": "<key>"}'
//
// Optional config: "awareness" (the initial local state), "resyncInterval" (ms).
// Events: status {status}, synced {synced}, connection-close {code, reason}, closed {code, reason}
// (the provider gave up: a 4400-4499 close), connection-error, awareness {added, updated, removed, states}.
// Commands: those of driver-common.mjs, and wait_synced {timeout (s)}, info, connect, disconnect.

import WebSocket from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { config, documentCommands, emit, reportAwareness, serve, waitUntil } from "./driver-common.mjs";

const cfg = config();
const doc = new Y.Doc();
const provider = new WebsocketProvider(cfg.url, cfg.doc, doc, {
  params: cfg.token ? { token: cfg.token } : {},
  WebSocketPolyfill: /** @type {any} */ (WebSocket),
  disableBc: true,
  resyncInterval: cfg.resyncInterval ?? -1,
  connect: false,
});
const name = cfg.doc;
if (cfg.awareness !== undefined) provider.awareness.setLocalState(cfg.awareness);
reportAwareness(provider.awareness, name);

provider.on("status", ({ status }) => emit({ event: "status", doc: name, status }));
provider.on("sync", (synced) => emit({ event: "synced", doc: name, synced }));
provider.on("connection-close", (event) =>
  emit({ event: "connection-close", doc: name, code: event ? event.code : null, reason: event ? event.reason : "" }),
);
provider.on("closed", (event) => emit({ event: "closed", doc: name, code: event.code, reason: event.reason }));
provider.on("connection-error", () => emit({ event: "connection-error", doc: name }));
provider.connect();

serve(
  {
    ...documentCommands(() => ({ doc, awareness: provider.awareness })),
    async wait_synced(/** @type {{timeout?: number}} */ a) {
      await waitUntil(() => provider.synced, (a.timeout ?? 10) * 1000, "the provider to sync");
      return { synced: true };
    },
    info() {
      return { synced: provider.synced, connected: provider.wsconnected, should_connect: provider.shouldConnect };
    },
    connect() {
      provider.connect();
    },
    disconnect() {
      provider.disconnect();
    },
  },
  () => provider.destroy(),
);
