// Agents behind NAT (the original Shield's issue #694): the agent dials the core
// (`shield agent --core URL --name NAME`, dial.ts) and keeps one WebSocket open,
// the control connection, at GET /v1/agents/connect?name=NAME, authenticated by
// an API token of an operator or admin. When the core needs the agent, it sends
// {"open": ID} on it, and the agent opens a second WebSocket, the data connection
// (…&channel=ID), over which SSH runs exactly as it does over TCP to a listening
// agent: the core is still the SSH client, the agent's key is still checked
// against its pin, so a token alone never makes a host the agent of a name whose
// key is pinned. One data connection per SSH connection: as with TCP, closing it
// (a cancel kills the relay) is how the agent learns to kill a request.
//
// The relay (relay.ts) is a process of its own; it reaches the agent through the
// daemon: it connects to the hub's unix socket in the data dir (mode 0600), writes
// one line {"agent", "waitMs"}, gets "ok" or "error: …" back, then the raw SSH bytes.
//
// A task for a NAT agent that is not connected waits for it up to --agent-wait,
// then fails with a message saying so; a listing (GET /v1/agents) never waits.
import { randomUUID } from "node:crypto";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import { Duplex } from "node:stream";
import type { ServerWebSocket, WebSocketHandler } from "bun";
import { log } from "../log.ts";
import { AgentUnreachable } from "./client.ts";

export const CONNECT_PATH = "/v1/agents/connect";
import { NAT_NAME } from "./protocol.ts";
export { NAT_NAME };
/** How long the agent has to open a data connection once asked. */
const OPEN_TIMEOUT_MS = 15_000;
/** The core speaks on every control connection this often; the agent takes 3× this silence for a dead core. */
export const CONTROL_PING_MS = 10_000;

export interface NatSocketData {
  name: string;
  /** Set on a data connection: the ID the core sent in {"open"}. */
  channel?: string;
  duplex?: WsDuplex;
  /** Who connected it (the token's user), for the log. */
  by: string;
}

/** A server-side WebSocket as a byte stream, for ssh2's `sock`. */
class WsDuplex extends Duplex {
  private waiting: (() => void) | null = null;
  constructor(private readonly ws: ServerWebSocket<NatSocketData>) { super({ allowHalfOpen: false }); }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const sent = this.ws.send(chunk);
    if (sent === 0) return cb(new Error("the agent's connection closed"));
    // -1: queued, but over Bun's limit: hold the writer until it drains (SSH's window does the rest).
    if (sent === -1) this.waiting = () => cb();
    else cb();
  }
  drained(): void { const w = this.waiting; this.waiting = null; w?.(); }
  override _final(cb: (err?: Error | null) => void): void { this.ws.close(); cb(); }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    try { this.ws.close(); } catch { /* closed */ }
    this.drained();
    cb(err);
  }
  /** The WebSocket closed: the end of the stream. */
  ended(): void { this.push(null); this.destroy(); }
}

export interface NatAgent { name: string; connected: boolean; since: number | null }

export class NatHub {
  private readonly controls = new Map<string, { ws: ServerWebSocket<NatSocketData>; since: number }>();
  private readonly arrivals = new Map<string, Set<() => void>>();
  private readonly pending = new Map<string, { name: string; resolve(d: Duplex): void; timer: ReturnType<typeof setTimeout> }>();
  /** Every name that ever dialed this core, kept in a file so that a restarted core still lists them. */
  private readonly known: Set<string>;
  private local: NetServer | undefined;
  private readonly sockets = new Set<ServerWebSocket<NatSocketData>>();
  private pinger: ReturnType<typeof setInterval> | undefined;

  /** `file`: where the names are kept; `waitMs`: how long a task waits for a disconnected agent. */
  constructor(private readonly file: string, readonly waitMs: number) {
    let names: string[] = [];
    try { names = JSON.parse(readFileSync(file, "utf8")); } catch { /* none yet */ }
    this.known = new Set(names.filter((n) => typeof n === "string" && NAT_NAME.test(n)));
  }

  /** Whether a target's `agent` names a NAT agent (one that dials in) rather than a HOST:PORT to connect to: no ":". */
  isNat(name: string): boolean { return NAT_NAME.test(name); }

  list(): NatAgent[] {
    return [...this.known].sort().map((name) => {
      const c = this.controls.get(name);
      return { name, connected: !!c, since: c ? c.since : null };
    });
  }

  /** Why an upgrade to CONNECT_PATH is refused (a 4xx's message), or null. */
  refuse(name: string | null, channel: string | null): string | null {
    if (!name || !NAT_NAME.test(name)) return `name must be 1 to 63 letters, digits, ".", "_" or "-", not an IP address (got ${JSON.stringify(name ?? "")})`;
    if (channel !== null && this.pending.get(channel)?.name !== name) return `no connection ${channel} was asked of agent ${name}`;
    return null;
  }

  /** Bun.serve's `websocket` handlers. */
  handlers(): WebSocketHandler<NatSocketData> {
    return {
      // The SSH window bounds what is in flight; past this, send() says -1 and we wait for drain.
      backpressureLimit: 4 << 20,
      maxPayloadLength: 16 << 20,
      idleTimeout: 60,
      open: (ws) => this.opened(ws),
      message: (ws, msg) => {
        if (ws.data.duplex) ws.data.duplex.push(typeof msg === "string" ? Buffer.from(msg) : msg);
      },
      drain: (ws) => ws.data.duplex?.drained(),
      close: (ws) => this.closed(ws),
    };
  }

  private opened(ws: ServerWebSocket<NatSocketData>): void {
    this.sockets.add(ws);
    const { name, channel } = ws.data;
    if (channel !== undefined) {
      const p = this.pending.get(channel);
      if (!p || p.name !== name) { ws.close(1008, "no such connection was asked for"); return; }
      this.pending.delete(channel);
      clearTimeout(p.timer);
      p.resolve((ws.data.duplex = new WsDuplex(ws)));
      return;
    }
    const old = this.controls.get(name);
    this.controls.set(name, { ws, since: Math.floor(Date.now() / 1000) });
    if (old) old.ws.close(1000, "replaced by a newer connection of the same name");
    if (!this.known.has(name)) {
      this.known.add(name);
      try { writeFileSync(this.file, JSON.stringify([...this.known]), { mode: 0o600 }); } catch (err) {
        log.warn("cannot record the NAT agent's name", { name, error: (err as Error).message });
      }
    }
    log.info("NAT agent connected", { name, by: ws.data.by });
    for (const f of this.arrivals.get(name) ?? []) f();
    this.arrivals.delete(name);
  }

  private closed(ws: ServerWebSocket<NatSocketData>): void {
    this.sockets.delete(ws);
    if (ws.data.duplex) { ws.data.duplex.ended(); return; }
    if (ws.data.channel !== undefined) return;
    if (this.controls.get(ws.data.name)?.ws === ws) {
      this.controls.delete(ws.data.name);
      log.info("NAT agent disconnected", { name: ws.data.name });
    }
  }

  /**
   * A byte stream to agent `name`, over which the caller runs SSH. Waits up to
   * `waitMs` for an agent that is not connected, then throws AgentUnreachable.
   */
  async dial(name: string, waitMs: number): Promise<Duplex> {
    if (!this.controls.has(name)) {
      if (waitMs <= 0) throw new AgentUnreachable(`agent ${name} dials the core and is not connected now`);
      log.info("waiting for a NAT agent to connect", { name, waitMs });
      await new Promise<void>((resolve, reject) => {
        const waiters = this.arrivals.get(name) ?? new Set();
        this.arrivals.set(name, waiters);
        const arrived = () => { clearTimeout(timer); resolve(); };
        const timer = setTimeout(() => {
          waiters.delete(arrived);
          reject(new AgentUnreachable(`agent ${name} dials the core and has not connected within ${Math.round(waitMs / 1000)} s ` +
            "(is shield agent running there, and can it reach the core's URL with its token?)"));
        }, waitMs);
        waiters.add(arrived);
      });
    }
    const control = this.controls.get(name);
    if (!control) throw new AgentUnreachable(`agent ${name} disconnected`);
    const channel = randomUUID();
    return new Promise<Duplex>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(channel);
        reject(new AgentUnreachable(`agent ${name} is connected but did not open a connection within ${OPEN_TIMEOUT_MS / 1000} s`));
      }, OPEN_TIMEOUT_MS);
      this.pending.set(channel, { name, resolve, timer });
      control.ws.send(JSON.stringify({ open: channel }));
    });
  }

  /** Serves the relays (see the top of this file) on the unix socket `path`, and pings the control connections. */
  async start(path: string): Promise<void> {
    rmSync(path, { force: true });
    this.local = createServer((sock) => this.relayConnection(sock));
    await new Promise<void>((resolve, reject) => {
      this.local!.once("error", reject);
      this.local!.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    this.pinger = setInterval(() => { for (const { ws } of this.controls.values()) ws.send('{"ping":1}'); }, CONTROL_PING_MS);
  }

  private relayConnection(sock: Socket): void {
    let head = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      head = Buffer.concat([head, b]);
      const nl = head.indexOf(10);
      if (nl < 0) { if (head.length > 4096) sock.destroy(); return; }
      sock.off("data", onData);
      sock.pause();
      let req: { agent?: unknown; waitMs?: unknown };
      try { req = JSON.parse(head.subarray(0, nl).toString()); } catch { req = {}; }
      if (typeof req.agent !== "string" || !this.isNat(req.agent)) { sock.end(`error: ${JSON.stringify(req.agent)} is no NAT agent of this core\n`); return; }
      const waitMs = typeof req.waitMs === "number" ? req.waitMs : this.waitMs;
      let gone = false;
      sock.once("close", () => { gone = true; });
      this.dial(req.agent, waitMs).then((ws) => {
        if (gone) { ws.destroy(); return; }
        sock.write("ok\n");
        // Raw bytes both ways; either end closing closes the other (that is how a cancel reaches the agent).
        sock.pipe(ws);
        ws.pipe(sock);
        sock.resume();
        sock.once("close", () => ws.destroy());
        ws.once("close", () => sock.destroy());
        sock.on("error", () => ws.destroy());
        ws.on("error", () => sock.destroy());
      }, (err) => { if (!gone) sock.end(`error: ${(err as Error).message}\n`); });
    };
    sock.on("data", onData);
    sock.on("error", () => {});
  }

  async stop(): Promise<void> {
    clearInterval(this.pinger);
    for (const ws of this.sockets) ws.close(1001, "the core is stopping");
    await new Promise<void>((r) => (this.local ? this.local.close(() => r()) : r()));
  }
}

/**
 * The relay's end of the unix socket: asks the daemon for a stream to NAT agent
 * `agent` and returns the socket, ready for SSH, once the daemon said "ok".
 */
export function dialViaDaemon(path: string, agent: string, waitMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let head = Buffer.alloc(0);
    sock.on("error", (err) => reject(new AgentUnreachable(`cannot reach the daemon's agent socket ${path}: ${err.message}`)));
    sock.on("close", () => reject(new AgentUnreachable(`the daemon closed the connection to agent ${agent}${head.length ? `: ${head.toString().trim()}` : ""}`)));
    const onData = (b: Buffer) => {
      head = Buffer.concat([head, b]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      const line = head.subarray(0, nl).toString();
      sock.off("data", onData);
      sock.pause();
      if (line !== "ok") { sock.destroy(); reject(new AgentUnreachable(line.replace(/^error: /, ""))); return; }
      const rest = head.subarray(nl + 1);
      if (rest.length) sock.unshift(rest);
      resolve(sock);
    };
    sock.on("data", onData);
    sock.write(JSON.stringify({ agent, waitMs }) + "\n");
  });
}

/**
 * The daemon's handling of GET CONNECT_PATH: a WebSocket upgrade for an agent
 * holding an API token of an operator or admin (a viewer's token must not let a
 * host offer itself as an agent that endpoints and data keys are sent to). A
 * Response is a refusal (4xx, JSON); undefined means upgraded.
 */
export async function natUpgrade(
  hub: NatHub, req: Request,
  server: { upgrade(req: Request, o: { data: NatSocketData }): boolean },
  authenticate: (header: string | undefined) => Promise<{ name: string; role: string }>,
): Promise<Response | undefined> {
  const refuse = (status: number, error: string) => Response.json({ error }, { status });
  if (req.method !== "GET") return refuse(405, `${CONNECT_PATH} takes GET with a WebSocket upgrade`);
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return refuse(426, `${CONNECT_PATH} is for shield agent --core URL --name NAME: a WebSocket upgrade`);
  let who;
  try {
    who = await authenticate(req.headers.get("authorization") ?? undefined);
  } catch (err) {
    return refuse(401, (err as Error).message || "an API token is needed (Authorization: Bearer TOKEN)");
  }
  if (who.role !== "operator" && who.role !== "admin") return refuse(403, `agents connect with the token of an operator or admin; ${who.name} is a ${who.role}`);
  const url = new URL(req.url);
  const name = url.searchParams.get("name");
  const channel = url.searchParams.get("channel");
  const why = hub.refuse(name, channel);
  if (why) return refuse(channel === null ? 400 : 404, why);
  if (!server.upgrade(req, { data: { name: name!, by: who.name, ...(channel !== null ? { channel } : {}) } })) return refuse(400, "the WebSocket upgrade failed");
  return undefined;
}
