// `shield agent-relay` (internal): the stage of a pipeline whose target runs on an
// agent. The daemon runs it under `shield guard` like any stage, so every rule of
// the local data path holds: its exit is checked, a cancel or the daemon's death
// kills it, and killing it closes the SSH connection, on which the agent kills
// every process of the request (server.ts).
//
// Its stdin starts with one line of JSON (RelayHeader: where the agent is, the
// pinned key, where the core's key is, and the request with the endpoint and data
// key, which must never be in a process's arguments). Then:
// - backup: the agent's sealed archive is written to stdout (the store's guard);
//   the relay exits 0 only when the agent said 0, and a connection that drops
//   mid-stream is a failure, so a stream cut half way never becomes an archive;
// - restore: the rest of stdin (the archive, decrypted and verified on the core,
//   still compressed) goes to the agent in frames; the end of stdin (the daemon's
//   commit, guard.ts) becomes the commit frame.
import { randomBytes } from "node:crypto";
import { readFileSync, writeSync } from "node:fs";
import { connectAgent, parseAddress, type ExecChannel } from "./client.ts";
import { DATA_PORT_PREFIX, DATA_WAIT_MS, USE_SSH } from "./data.ts";
import { DataReceiver } from "./data-receiver.ts";
import { opensshPrivateKey } from "./keys.ts";
import { dialViaDaemon } from "./nat.ts";
import { COMMIT_FRAME, frame, RESULT_PREFIX, type AgentRequest, type BackupReport } from "./protocol.ts";

export interface RelayHeader {
  address: string;
  /** The pinned "SHA256:…" of the agent's key: any other is refused. */
  hostKey: string;
  /** The core's private key (PKCS#8 PEM), the daemon's host_key. */
  keyPath: string;
  /** A NAT agent's: the daemon's unix socket to reach it through, and how long to wait for it. */
  via?: string;
  waitMs?: number;
  request: AgentRequest;
}

export async function runRelay(argv: string[]): Promise<number> {
  if (argv.length) { process.stderr.write("shield agent-relay takes no arguments (internal: the daemon runs it)\n"); return 1; }
  const reader = (Bun.stdin.stream() as ReadableStream<Uint8Array>).getReader() as ReadableStreamDefaultReader<Uint8Array>;
  let buf = Buffer.alloc(0);
  let nl = -1;
  while ((nl = buf.indexOf(10)) < 0) {
    const r = await reader.read();
    if (r.done) { process.stderr.write("no request on stdin\n"); return 1; }
    buf = Buffer.concat([buf, r.value]);
  }
  const header = JSON.parse(buf.subarray(0, nl).toString()) as RelayHeader;
  const rest = buf.subarray(nl + 1);
  let conn;
  try {
    // A NAT agent is reached through the daemon, which holds its connection (nat.ts).
    const sock = header.via ? await dialViaDaemon(header.via, header.address, header.waitMs ?? 0) : undefined;
    conn = await connectAgent(header.address, { privateKey: opensshPrivateKey(readFileSync(header.keyPath)), expect: header.hostKey, sock });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 3;
  }
  // A sealed backup from a directly reachable agent asks for the data port (data.ts); a NAT
  // agent's core cannot dial it, and unsealed bytes must not cross the network in the clear.
  const req = header.request;
  const token = req.op === "backup" && req.dataKey && !header.via ? randomBytes(32).toString("hex") : undefined;
  const ch = await conn.exec(token && req.op === "backup" ? { ...req, dataToken: token } : req);
  const exit = ch.status.then((code) => {
    if (code === undefined) process.stderr.write(`the connection to agent ${header.address} dropped before the agent finished\n`);
    return code ?? 3;
  });
  // What comes on the SSH channel to the store's pipe, the channel paused while the store is
  // behind (BatchWriter); over the data port, the receiver moves it there itself
  // (data-receiver.ts). A store that cannot take the archive stops the agent: the channel closes.
  let data: DataReceiver | undefined;
  const out = new BatchWriter(1, () => ch.pause(), () => ch.resume(), () => { data?.destroy(); ch.close(); });
  let report: BackupReport | undefined;
  // Line by line, synchronously: the agent's last line (its report) must be out before the relay exits.
  let pendingErr = "";
  const errLine = (l: string) => {
    if (l.startsWith(DATA_PORT_PREFIX)) {
      const { port } = JSON.parse(l.slice(DATA_PORT_PREFIX.length)) as { port: number };
      data = new DataReceiver(parseAddress(header.address).host, port, token!, 1, () => ch.close());
      // Unreachable (a firewall): say so in the task log, and have the agent use the channel.
      data.connected.then((ok) => {
        if (!ok) {
          process.stderr.write(`the agent's data port ${port} cannot be reached (${data!.error}): the archive goes over the SSH channel, slower; open TCP port ${port} from the core to the agent (README, "Agents")\n`);
          data = undefined;
          ch.write(Buffer.from(USE_SSH));
        }
        else process.stderr.write(`the archive comes over the agent's data port ${port}\n`);
        ch.end();
      });
      return;
    }
    if (l.startsWith(RESULT_PREFIX)) { try { report = JSON.parse(l.slice(RESULT_PREFIX.length)); } catch { /* passed on as it is */ } }
    writeAll(2, Buffer.from(l + "\n"));
  };
  ch.stderr.on("data", (b: Buffer) => {
    pendingErr += b.toString();
    let nl: number;
    while ((nl = pendingErr.indexOf("\n")) >= 0) { errLine(pendingErr.slice(0, nl)); pendingErr = pendingErr.slice(nl + 1); }
  });
  ch.on("data", (b: Buffer) => out.push(b));
  if (req.op === "restore") {
    // The channel closing under us (the agent failed or went away) says why through its exit.
    await sendFramed(ch, rest, reader).catch(() => ch.close());
  }
  else if (!token) ch.end(); // with a token, stdin stays open until the data connection is settled
  let code = await exit;
  if (pendingErr) errLine(pendingErr);
  if (data) {
    // The stream must have ended cleanly and be as long as the agent says it sent. Its
    // content the store's guard checks where it is stored: every chunk authenticated with
    // the data key, or (an agent that hashed it) its SHA-256 compared by the daemon (pipeline/run.ts).
    const got = await data.finished(code === 0 ? DATA_WAIT_MS : 0);
    if (code === 0) {
      const checked = req.op === "backup" && req.chunksChecked;
      const why = !got.clean ? `the data connection ${got.error ?? "did not end cleanly"}`
        : !report ? "the agent sent no report of the data connection"
        : !report.sha256 && !checked ? "the agent reported no checksum for the data connection"
          : report.bytes !== got.bytes ? `the data connection delivered ${got.bytes} bytes, the agent sent ${report.bytes}`
            : undefined;
      if (why) { process.stderr.write(`${why}: no archive\n`); code = 3; }
    }
    if (data.storeError) {
      process.stderr.write(`cannot write the archive to the store: ${data.storeError}\n`);
      if (code === 0) code = 3;
    }
  }
  // The last bytes may still be on their way to the store.
  const failed = await out.drained();
  if (failed) {
    process.stderr.write(`cannot write the archive to the store: ${failed.message}\n`);
    if (code === 0) code = 3;
  }
  await new Promise((r) => setImmediate(r)); // what came with the close (stderr) is written first
  conn.close();
  return code;
}

const HIGH_WATER = 1 << 20;

/**
 * Writes what it is given to `fd` in order through Bun's FileSink, which writes a
 * pipe without blocking the event loop and keeps what the pipe cannot take yet:
 * one write per MiB or so rather than a thread-pool round trip per SSH packet
 * (node:fs's write, before: measured 1.4–1.6 s of relay CPU per 512 MiB, now
 * 1.2 s; bench/DATAPATH.md). Past HIGH_WATER bytes kept, the source is paused
 * until the pipe took them: SSH's window then holds the agent back while the
 * store is slow, and the event loop stays free for the keepalives by which the
 * agent knows the core is alive (server.ts SILENCE_MS).
 */
class BatchWriter {
  private readonly sink: import("bun").FileSink;
  private kept = 0;
  private waiting: Promise<void> | null = null;
  private error: Error | null = null;
  constructor(fd: number, private readonly pause: () => void, private readonly resume: () => void,
    private readonly failed: () => void) {
    this.sink = Bun.file(fd).writer({ highWaterMark: HIGH_WATER });
  }

  push(b: Buffer): void {
    if (this.error) return;
    try {
      this.sink.write(b);
    } catch (err) {
      return this.fail(err as Error);
    }
    this.kept += b.length;
    if (this.kept < HIGH_WATER || this.waiting) return;
    this.kept = 0;
    let flushed: number | Promise<number>;
    try { flushed = this.sink.flush(); } catch (err) { return this.fail(err as Error); }
    if (typeof flushed === "number") return;
    this.pause();
    this.waiting = flushed.then(() => { this.waiting = null; this.resume(); }, (err) => { this.waiting = null; this.fail(err as Error); });
  }

  private fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.failed();
  }

  /** Resolves once everything pushed is written: null, or the write's error. */
  async drained(): Promise<Error | null> {
    try {
      await this.waiting;
      await this.sink.flush();
      await this.sink.end();
    } catch (err) {
      this.fail(err as Error);
    }
    return this.error;
  }
}

/** Small synchronous writes (stderr lines), whole even on a non-blocking descriptor. */
function writeAll(fd: number, b: Uint8Array): void {
  let at = 0;
  while (at < b.length) {
    try {
      at += writeSync(fd, b, at, b.length - at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      Bun.sleepSync(1);
    }
  }
}

async function sendFramed(ch: ExecChannel, first: Uint8Array, reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  let closed = false;
  ch.once("close", () => { closed = true; });
  const send = async (b: Uint8Array) => {
    if (closed) throw new Error("the agent's channel closed");
    if (!ch.write(b)) await new Promise<void>((r) => { ch.once("drain", r); ch.once("close", r); });
  };
  if (first.length) await send(frame(first));
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    await send(frame(r.value));
  }
  // Only the end of our stdin, which the daemon gives only at its commit (guard.ts), commits the agent's restore.
  await send(COMMIT_FRAME);
  ch.end();
}
