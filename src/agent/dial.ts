// The agent's side of NAT mode (`shield agent --core URL --name NAME`, see nat.ts
// for the core's): keep the control WebSocket to the core open, reconnecting with
// backoff (1 s doubling to 30 s, with jitter) whenever it drops; for each
// {"open": ID} the core sends on it, open a data WebSocket and hand it to the SSH
// server as if a core had connected over TCP. The core stays the SSH client, so
// the agent still accepts only the core keys it was given, and the core still
// checks the agent's key against its pin.
import { Duplex } from "node:stream";
import { log } from "../log.ts";
import { CONNECT_PATH, CONTROL_PING_MS } from "./nat.ts";

export interface DialOptions {
  /** The core's URL (http:// or https://; the WebSocket goes to the same host). */
  core: string;
  name: string;
  /** An API token of an operator or admin. */
  token: string;
  /** Hands a data connection to the SSH server (server.ts's inject). */
  inject(sock: Duplex): void;
}

/** Above this many bytes queued on a data WebSocket, the writer waits (SSH's window does the rest). */
const HIGH_WATER = 4 << 20;
const MAX_BACKOFF_MS = 30_000;

/** A client WebSocket as a byte stream, for ssh2's server. */
class ClientWsDuplex extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort = 0;
  constructor(private readonly ws: WebSocket, core: string) {
    super({ allowHalfOpen: false });
    this.remoteAddress = core;
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return cb(new Error("the core's connection closed"));
    this.ws.send(chunk);
    if (this.ws.bufferedAmount < HIGH_WATER) return cb();
    const wait = () => {
      if (this.ws.readyState !== WebSocket.OPEN) return cb(new Error("the core's connection closed"));
      if (this.ws.bufferedAmount < HIGH_WATER) return cb();
      setTimeout(wait, 2);
    };
    setTimeout(wait, 2);
  }
  override _final(cb: (err?: Error | null) => void): void { this.ws.close(); cb(); }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    try { this.ws.close(); } catch { /* closed */ }
    cb(err);
  }
}

function wsUrl(core: string, params: Record<string, string>): string {
  const u = new URL(core.replace(/\/+$/, "") + CONNECT_PATH);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

export function dialCore(o: DialOptions): { stop(): void } {
  const headers = { authorization: `Bearer ${o.token}` };
  let stopped = false;
  let backoff = 1000;
  let control: WebSocket | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const data = new Set<WebSocket>();

  const openData = (channel: string) => {
    // Bun's WebSocket takes headers (a browser's would not): the token goes there, never in the URL.
    const ws = new WebSocket(wsUrl(o.core, { name: o.name, channel }), { headers } as any);
    ws.binaryType = "arraybuffer";
    const sock = new ClientWsDuplex(ws, o.core);
    data.add(ws);
    ws.onopen = () => o.inject(sock);
    ws.onmessage = (ev) => { sock.push(Buffer.from(ev.data as ArrayBuffer)); };
    ws.onclose = () => { data.delete(ws); sock.push(null); sock.destroy(); };
    ws.onerror = () => {};
  };

  const connect = () => {
    if (stopped) return;
    const ws = (control = new WebSocket(wsUrl(o.core, { name: o.name }), { headers } as any));
    let opened = false;
    let heard = Date.now();
    // The core speaks every CONTROL_PING_MS; a link gone silent (a pulled cable closes nothing) is dropped and dialed again.
    const watch = setInterval(() => {
      if (opened && Date.now() - heard > 3 * CONTROL_PING_MS) {
        log.warn("the core went silent: reconnecting", { core: o.core, silentMs: Date.now() - heard });
        ws.close();
      }
    }, 1000);
    ws.onopen = () => {
      opened = true;
      heard = Date.now();
      backoff = 1000;
      log.info("connected to the core", { core: o.core, name: o.name });
    };
    ws.onmessage = (ev) => {
      heard = Date.now();
      if (typeof ev.data !== "string") return;
      let msg: { open?: unknown };
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (typeof msg.open === "string") openData(msg.open);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      clearInterval(watch);
      if (stopped) return;
      const wait = Math.round(backoff * (1 + Math.random() * 0.25));
      log.warn(opened ? "the core's connection closed: reconnecting" : "cannot connect to the core (is the URL right, is the token an operator's or admin's?): retrying",
        { core: o.core, name: o.name, code: ev.code, reason: ev.reason || undefined, inMs: wait });
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      retry = setTimeout(connect, wait);
    };
  };
  connect();
  log.info("shield agent dialing the core", { core: o.core, name: o.name });
  return {
    stop() {
      stopped = true;
      clearTimeout(retry);
      control?.close();
      for (const ws of data) ws.close();
    },
  };
}
