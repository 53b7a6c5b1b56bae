// An in-memory server speaking PROTOCOL.md sections 4-5 closely enough to test the
// browser Session: transform from the base version, dedupe on (client_id, seq),
// ack the sender and broadcast to the others, sync, cursors, presence.
// Delivery is in the test's hands: every connection has an inbox the test drains.
import { apply, transform, transformPosition } from "../../collab/static/collab/ot.js";
import { cpLength } from "../../collab/static/collab/text.js";

let sessions = 0;

export class FakeServer {
  constructor(text = "", { version = 0 } = {}) {
    this.text = text;
    this.base = version; // version of the first text (no op stored for it)
    this.ops = []; // {version, op, client_id, seq, session, user}
    this.conns = new Set();
    this.done = new Map(); // "client_id/seq" -> version
  }

  get version() {
    return this.base + this.ops.length;
  }

  connect({ role = "editor", name = "user" } = {}) {
    sessions += 1;
    const conn = {
      session: `s${sessions}`,
      user: { id: sessions, name, color: "#3b82c4" },
      role,
      inbox: [],
      cursor: null,
      joined_at: new Date(2024, 0, 1, 0, 0, sessions).toISOString(),
    };
    const entry = (c) => ({
      session: c.session, user: c.user, role: c.role, status: "active", meta: {},
      cursor: c.cursor, joined_at: c.joined_at,
    });
    this.conns.add(conn);
    for (const other of this.conns) {
      if (other !== conn) other.inbox.push({ type: "presence", payload: { joined: [entry(conn)], left: [], updated: [] } });
    }
    conn.inbox.push({
      type: "hello",
      payload: {
        protocol: 1, session: conn.session, role, user: conn.user,
        document: { id: "doc", title: "Doc", version: this.version, content: this.text },
        presence: [...this.conns].map(entry),
        limits: { max_message_bytes: 262144, max_document_chars: 1000000 },
      },
    });
    return conn;
  }

  disconnect(conn) {
    if (!this.conns.delete(conn)) return;
    conn.inbox = [];
    for (const other of this.conns) other.inbox.push({ type: "presence", payload: { joined: [], left: [conn.session], updated: [] } });
  }

  /** Commit an op from outside any connection (like the REST API). */
  commitExternal(version, op) {
    return this.commit(null, { version, op, client_id: "rest", seq: this.ops.length });
  }

  receive(conn, frame) {
    if (typeof frame === "string") frame = JSON.parse(frame);
    const p = frame.payload;
    if (frame.type === "edit") {
      if (conn.role === "viewer") {
        conn.inbox.push({ type: "error", payload: { code: "forbidden", message: "No.", ref: { client_id: p.client_id, seq: p.seq } } });
        return;
      }
      const key = `${p.client_id}/${p.seq}`;
      if (this.done.has(key)) {
        conn.inbox.push({ type: "ack", payload: { client_id: p.client_id, seq: p.seq, version: this.done.get(key) } });
        return;
      }
      this.commit(conn, p);
    } else if (frame.type === "sync") {
      conn.inbox.push({ type: "ops", payload: { ops: this.ops.filter((o) => o.version > p.version) } });
    } else if (frame.type === "cursor") {
      let { anchor, head } = p;
      if (anchor !== null) {
        for (const o of this.ops) {
          if (o.version > p.version) {
            anchor = transformPosition(anchor, o.op);
            head = transformPosition(head, o.op);
          }
        }
        const n = cpLength(this.text);
        anchor = Math.min(anchor, n);
        head = Math.min(head, n);
      }
      conn.cursor = anchor === null ? null : { version: this.version, anchor, head };
      for (const other of this.conns) {
        if (other !== conn) other.inbox.push({ type: "cursor", payload: { session: conn.session, user: conn.user, version: this.version, anchor, head } });
      }
    } else if (frame.type === "ping") {
      conn.inbox.push({ type: "pong", payload: p });
    }
  }

  commit(conn, p) {
    let op = p.op;
    for (const o of this.ops) if (o.version > p.version) op = transform(o.op, op)[1];
    this.text = apply(this.text, op);
    const item = {
      version: this.version + 1, op, client_id: p.client_id, seq: p.seq,
      session: conn ? conn.session : "", user: conn ? conn.user : { id: null, name: "api", color: "#000" },
    };
    this.ops.push(item);
    this.done.set(`${p.client_id}/${p.seq}`, item.version);
    for (const c of this.conns) {
      if (c === conn) c.inbox.push({ type: "ack", payload: { client_id: p.client_id, seq: p.seq, version: item.version } });
      else c.inbox.push({ type: "op", payload: item });
    }
    return item.version;
  }
}

/** A Session wired to a FakeServer connection, with helpers to move frames. */
export class Wire {
  constructor(server, session, options = {}) {
    this.server = server;
    this.session = session;
    this.options = options;
    this.conn = null;
    this.toServer = [];
    this.events = [];
  }

  connect() {
    this.conn = this.server.connect(this.options);
    this.session.opened();
    return this;
  }

  /** Move the session's outgoing frames to the wire (not yet to the server). */
  collect() {
    for (const f of this.session.takeOutgoing()) this.toServer.push(JSON.parse(JSON.stringify(f)));
    this.events.push(...this.session.takeEvents());
  }

  /** Deliver up to n frames client -> server. */
  up(n = Infinity) {
    this.collect();
    while (n-- > 0 && this.toServer.length && this.conn) this.server.receive(this.conn, this.toServer.shift());
  }

  /** Deliver up to n frames server -> client. */
  down(n = Infinity) {
    while (n-- > 0 && this.conn && this.conn.inbox.length) {
      this.session.receive(JSON.stringify(this.conn.inbox.shift()));
      this.collect();
    }
    this.collect();
  }

  /** Drop the connection; frames on their way up are lost or delivered, as `deliver` says. */
  drop(code = 1006, deliver = false) {
    this.collect();
    if (deliver) this.up();
    this.toServer = [];
    this.server.disconnect(this.conn);
    this.conn = null;
    const decision = this.session.closed(code);
    this.collect();
    return decision;
  }

  settle() {
    for (let i = 0; i < 100; i++) {
      this.up();
      this.down();
      if (!this.toServer.length && (!this.conn || !this.conn.inbox.length)) return;
    }
    throw new Error("did not settle");
  }

  eventsOf(type) {
    return this.events.filter((e) => e.type === type);
  }
}
