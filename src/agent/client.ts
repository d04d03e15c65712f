// The core's side of the agent channel: connect to an agent (host:port), check the
// key it presents against the pinned one, and run one request per exec channel.
// Used in the daemon for short requests (hello, validate, test) and by the relay
// (relay.ts) for the streams of a backup or restore.
import { Client } from "ssh2";
import { CIPHERS, CORE_USER, DEFAULT_AGENT_PORT, type AgentRequest } from "./protocol.ts";
import { fingerprint } from "./keys.ts";

export class AgentUnreachable extends Error {}
/** The agent presented another key than the one pinned: never talked to. */
export class AgentKeyMismatch extends Error {}

export interface ConnectOptions {
  /** The core's private key, OpenSSH form (keys.ts opensshPrivateKey). */
  privateKey: string;
  /** The pinned fingerprint; undefined at first contact (then `presented` tells which key to pin). */
  expect?: string;
  timeoutMs?: number;
  /** A stream to run SSH over instead of TCP to `address` (a NAT agent's, nat.ts). */
  sock?: import("node:stream").Duplex;
}

export interface AgentConnection {
  /** The fingerprint of the key the agent presented. */
  presented: string;
  exec(req: AgentRequest): Promise<ExecChannel>;
  close(): void;
}

// ssh2's client channel, as far as it is used.
export interface ExecChannel {
  write(b: Uint8Array): boolean;
  end(): void;
  close(): void;
  stderr: NodeJS.ReadableStream;
  on(ev: string, fn: (...a: any[]) => void): this;
  once(ev: string, fn: (...a: any[]) => void): this;
  pause(): void;
  resume(): void;
  /** The agent's exit status once the channel closed; undefined when it closed without one (the connection dropped). */
  status: Promise<number | undefined>;
}

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(address.trim());
  if (!m) throw new Error(`agent "${address}" is not HOST or HOST:PORT`);
  return { host: m[1] ?? m[2]!, port: m[3] ? Number(m[3]) : DEFAULT_AGENT_PORT };
}

export function connectAgent(address: string, opts: ConnectOptions): Promise<AgentConnection> {
  const { host, port } = opts.sock ? { host: address, port: 0 } : parseAddress(address);
  return new Promise((resolve, reject) => {
    const c = new Client();
    let presented = "";
    let mismatch = false;
    let settled = false;
    const fail = (err: Error) => { if (!settled) { settled = true; c.end(); reject(err); } };
    c.on("ready", () => {
      settled = true;
      resolve({
        presented,
        close: () => c.end(),
        exec: (req) => new Promise((res, rej) => c.exec(JSON.stringify(req), (err: Error | undefined, ch: ExecChannel) => {
          if (err) return rej(err);
          // At once, in ssh2's callback: the exit status and the close may be in the very
          // packets that carried the answer to the exec, parsed before any await resumes.
          let code: number | undefined;
          ch.on("exit", (c: number | null, signal?: string) => { code = c ?? (signal ? 128 : 3); });
          const status = new Promise<number | undefined>((r) => ch.on("close", () => r(code)));
          res(Object.assign(ch, { status }));
        })),
      });
    });
    c.on("error", (err: Error & { level?: string }) => {
      if (mismatch) return fail(new AgentKeyMismatch(`agent ${address} presented the key ${presented}, not the pinned ${opts.expect}: refused ` +
        "(if the agent was reinstalled, an operator resets its pinned key)"));
      if (err.level === "client-authentication") return fail(new AgentUnreachable(`agent ${address} refused the core's key: add the core's key (GET /v1/meta/pubkey) to its --authorized-keys`));
      fail(new AgentUnreachable(`agent ${address} is unreachable: ${err.message}`));
    });
    c.on("close", () => fail(new AgentUnreachable(`agent ${address} closed the connection`)));
    c.connect({
      ...(opts.sock ? { sock: opts.sock as any } : { host, port }), username: CORE_USER, privateKey: opts.privateKey, readyTimeout: opts.timeoutMs ?? 10_000,
      keepaliveInterval: 5000, keepaliveCountMax: 3,
      algorithms: { cipher: [...CIPHERS] },
      // The agent's key decides before any byte of a request is sent.
      hostVerifier: (key: Buffer) => {
        presented = fingerprint(key);
        if (opts.expect && presented !== opts.expect) { mismatch = true; return false; }
        return true;
      },
    });
  });
}

/** Runs a short request to its end, collecting what it printed; the whole of it within `timeoutMs`. */
export async function execCollect(conn: AgentConnection, req: AgentRequest, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let channel: ExecChannel | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      channel?.close();
      conn.close();
      reject(new AgentUnreachable(`the agent did not answer ${req.op} within ${timeoutMs / 1000} s${channel ? "" : " (no channel opened)"}`));
    }, timeoutMs);
  });
  const run = (async () => {
    const ch = (channel = await conn.exec(req));
    let stdout = "";
    let stderr = "";
    ch.on("data", (b: Buffer) => { stdout += b.toString(); });
    ch.stderr.on("data", (b: Buffer) => { stderr += b.toString(); });
    const code = await ch.status;
    if (code === undefined) throw new AgentUnreachable(`the connection to the agent dropped during ${req.op}`);
    // The streams may still hold what came with the close: let them drain first.
    await new Promise((r) => setImmediate(r));
    return { code, stdout, stderr };
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
