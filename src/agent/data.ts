// The data connection of a backup through an agent: a plain TCP connection beside
// the SSH one, for the archive's bytes only.
//
// Why: ssh2 is JavaScript, and framing, encrypting and copying every 32 KiB packet at
// both ends cost about 1 s of CPU per 256 MiB on this project's machines: an agent
// backup ran at 0.73 of a local one (bench/DATAPATH.md, "Through an agent"). The
// archive needs none of what SSH adds to it: it is already sealed on the agent
// (AES-256-GCM chunks with the data key, which only the core and this request know,
// the last chunk marked as the last), so the connection carrying it needs no
// encryption. What it does need, and gets here:
// - to be bound to the request: the core sends a one-time random token (256 bits)
//   inside the request, over the authenticated SSH channel; the first line on the data
//   connection must be that token, within a few seconds, once; and the connecting
//   peer's address must be the SSH connection's peer. Anyone else's connection is
//   dropped, and cannot take the token before the core itself sends it;
// - integrity of the stream as a whole: the store's guard authenticates every chunk
//   with the data key as it arrives, and the input must end with the archive's last
//   chunk (seal.ts `check`, encryption.ts PassingCheck); the agent reports the byte
//   count of what it sent over the SSH channel (authenticated), the relay fails unless
//   the connection ended cleanly with that many bytes, and the daemon fails the backup
//   before the store's commit unless the guard read as many (pipeline/run.ts). So a
//   connection cut, truncated, reordered or tampered with never becomes an archive,
//   caught at the backup rather than at the restore's verify pass. (Between versions:
//   an older agent, which knows nothing of `chunksChecked`, still reports the SHA-256 of
//   what it sent, and the daemon compares it with the guard's; asked by an older core,
//   without `chunksChecked`, the agent hashes and reports it, as that core expects.);
// - backpressure: TCP's own window, the relay moving bytes into the store's pipe only as
//   the pipe takes them (data-receiver.ts), the agent awaiting each write's drain;
// - cancel: the SSH connection stays the request's lifeline: when it closes, the agent
//   kills the request's processes and destroys the data connection, as before.
// The SSH channel keeps the request (endpoint, data key), stderr, the report and the
// exit status. Restores still go over SSH: their bytes are decrypted on the core.
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { log } from "../log.ts";

/** The first line the core sends on a data connection: this, a space, the token in hex, "\n". */
export const DATA_HELLO = "SHIELD-DATA/1";
/** Prefixes the agent's stderr line that tells the relay which port to dial (kept out of the task log). */
export const DATA_PORT_PREFIX = "shield-agent-data-port: ";
/** What the relay writes on the backup channel's stdin when it cannot dial the data port: stream on stdout. */
export const USE_SSH = "use-ssh\n";
/** How long a token waits for its connection, and a connection for its first line. */
export const DATA_WAIT_MS = 10_000;
const HELLO_BYTES = DATA_HELLO.length + 1 + 64 + 1;

export function helloLine(token: string): Buffer {
  return Buffer.from(`${DATA_HELLO} ${token}\n`);
}

const key = (token: string) => createHash("sha256").update(token).digest("hex");

/** A bare IPv4 address as the SSH peer and as the data peer, however the socket spells it. */
export function sameHost(a: string | undefined, b: string | undefined): boolean {
  const norm = (x: string | undefined) => (x ?? "").replace(/^::ffff:/i, "").toLowerCase();
  return !!a && norm(a) === norm(b);
}

interface Waiting {
  token: Buffer;
  peer: string;
  resolve(sock: Socket): void;
}

/** The agent's data listener: connections matched to the requests that expect them. */
export class DataPort {
  private readonly waiting = new Map<string, Waiting>();
  private constructor(private readonly server: Server, readonly port: number) {}

  static async listen(host: string | undefined, port: number): Promise<DataPort> {
    let self: DataPort | undefined;
    const server = createServer({ noDelay: true }, (sock) => self!.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    self = new DataPort(server, (server.address() as { port: number }).port);
    return self;
  }

  /**
   * Waits for the connection presenting `token` from `peer` (the SSH connection's
   * address). `cancel` drops the wait (the request went, or the core chose SSH).
   */
  expect(token: string, peer: string): { connection: Promise<Socket>; cancel(): void } {
    const k = key(token);
    let cancel = () => {};
    const connection = new Promise<Socket>((resolve) => {
      this.waiting.set(k, { token: Buffer.from(token), peer, resolve });
      cancel = () => this.waiting.delete(k);
    });
    return { connection, cancel };
  }

  private accept(sock: Socket): void {
    const from = `${sock.remoteAddress}:${sock.remotePort}`;
    let head = Buffer.alloc(0);
    const drop = (why: string) => {
      log.warn("refused a data connection", { peer: from, why });
      sock.destroy();
    };
    const timer = setTimeout(() => drop("no token in time"), DATA_WAIT_MS);
    sock.on("error", () => {});
    const onData = (b: Buffer) => {
      head = Buffer.concat([head, b]);
      if (head.length < HELLO_BYTES) return;
      sock.off("data", onData);
      sock.pause();
      clearTimeout(timer);
      const line = head.subarray(0, HELLO_BYTES).toString("latin1");
      const m = new RegExp(`^${DATA_HELLO.replace("/", "\\/")} ([0-9a-f]{64})\\n$`).exec(line);
      if (!m) return drop("not a Shield data connection");
      if (head.length > HELLO_BYTES) return drop("data before the token was accepted");
      // Looked up by a hash of the token (nothing to learn from the map's timing), then compared in constant time.
      const w = this.waiting.get(key(m[1]!));
      if (!w || !timingSafeEqual(w.token, Buffer.from(m[1]!))) return drop("unknown or used token");
      if (!sameHost(sock.remoteAddress, w.peer)) return drop(`not from the core's address (${w.peer})`);
      this.waiting.delete(key(m[1]!));
      w.resolve(sock);
    };
    sock.on("data", onData);
  }

  close(): Promise<void> {
    this.waiting.clear();
    return new Promise((r) => this.server.close(() => r()));
  }
}
