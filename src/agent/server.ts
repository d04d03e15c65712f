// `shield agent`: the daemon on a data host. It accepts SSH connections from the
// cores whose keys it trusts and, per exec channel, runs one plugin action (see
// protocol.ts). A backup is target `backup` → compression → sealing here, so only
// compressed, encrypted bytes leave the host; a restore is decompression →
// target `restore`. Each request's processes run in process groups of their own;
// when the channel closes before the request finished (the core canceled, died, or
// the network dropped), every one of them is killed at once with SIGKILL: a
// target must never take a dropped connection for the end of its input.
import type { Subprocess } from "bun";
import { Server, utils } from "ssh2";
import { describeError, log } from "../log.ts";
import { VERSION } from "../version.ts";
import { compressor, decompressor, zstdReport } from "../pipeline/compression.ts";
import { PluginFailed, PluginRegistry } from "../plugin-host/index.ts";
import { guardCommand } from "../pipeline/guard.ts";
import { CIPHERS, CORE_USER, Deframer, RESULT_PREFIX, type AgentRequest, type HelloReply } from "./protocol.ts";
import { fingerprint } from "./keys.ts";
import { seal, type Sealed } from "../pipeline/seal.ts";
import { CLOSED_EARLY, GATHER_BYTES, gathering, socketWriter } from "./socket-writer.ts";
import { osPipe } from "./os-pipe.ts";
import { DATA_PORT_PREFIX, DATA_WAIT_MS, DataPort, USE_SSH } from "./data.ts";
import type { Socket } from "node:net";

/** The core's keepalives come every 5 s (client.ts): this much silence means it is gone. */
const SILENCE_MS = 20_000;

export interface AgentOptions {
  /** Where to listen; without a port, no listener (an agent that only dials the core, dial.ts). */
  host?: string;
  port?: number;
  /** The agent's own host key, in OpenSSH private key form (keys.ts). */
  hostKey: string;
  /** Key blobs of the cores it accepts (authorized_keys, or the one pinned with --core). */
  authorizedKeys: Buffer[];
  plugins: PluginRegistry;
  /**
   * The data port (data.ts) on `host`, for backups' archive bytes; 0: any free port
   * (announced per request); undefined: none (every byte over SSH).
   */
  dataPort?: number;
}

/**
 * Something else the agent serves beside SSH (the osb-backup-agent HTTP API, with
 * --osb-listen): started after the SSH listener, stopped before it.
 */
export interface ExtraServer {
  start(agent: { plugins: PluginRegistry }): Promise<{ stop(): Promise<void> }>;
}

export interface RunningAgent {
  port: number | null;
  dataPort: number | null;
  /** Serves SSH over `sock` as over an accepted TCP connection (a NAT agent's data connection). */
  inject(sock: import("node:stream").Duplex): void;
  stop(): Promise<void>;
}

// ssh2's channels are untyped here; only what is used is named.
interface Channel {
  write(b: Uint8Array | string, done?: () => void): boolean;
  end(): void;
  exit(code: number): void;
  close(): void;
  pause(): void;
  resume(): void;
  stderr: { write(b: Uint8Array | string, done: () => void): boolean };
  on(ev: string, fn: (...a: any[]) => void): void;
  once(ev: string, fn: (...a: any[]) => void): void;
}

export async function startAgent(opts: AgentOptions, extra: ExtraServer[] = []): Promise<RunningAgent> {
  const accepted = opts.authorizedKeys;
  const running = new Set<Request>();
  const connections = new Set<import("node:net").Socket | undefined>();
  const server = new Server({ hostKeys: [opts.hostKey], ident: `ShieldAgent_${VERSION}`, algorithms: { cipher: [...CIPHERS] } }, (client: any, info: any) => {
    const peer = `${info.ip}:${info.port}`;
    let core = "";
    // This connection's requests: when it goes (the relay killed by a cancel, the core
    // dead, the network cut), so do they, whether or not ssh2 closes each channel.
    const mine = new Set<Request>();
    const gone = () => { for (const r of mine) r.abort("the core's connection closed"); };
    client.on("close", gone);
    client.on("end", gone);
    // A link that goes silent (a cable pulled, a host gone) closes nothing: TCP would
    // retry for many minutes while the plugin waits. The core sends SSH keepalives
    // every few seconds, so a connection silent for SILENCE_MS is taken for dead.
    const sock: import("node:net").Socket | undefined = client._sock;
    let heard = Date.now();
    sock?.on("data", () => { heard = Date.now(); });
    const watch = setInterval(() => {
      if (Date.now() - heard < SILENCE_MS) return;
      log.warn("the core went silent: closing its connection", { peer, silentMs: Date.now() - heard });
      gone();
      sock?.destroy();
    }, 1000);
    connections.add(sock);
    client.on("close", () => { clearInterval(watch); connections.delete(sock); });
    client.on("authentication", (ctx: any) => {
      if (ctx.method !== "publickey" || ctx.username !== CORE_USER || ctx.key.algo !== "ssh-ed25519") return ctx.reject(["publickey"]);
      const blob: Buffer = ctx.key.data;
      if (!accepted.some((k) => k.equals(blob))) {
        log.warn("refused a core whose key is not authorized", { peer, key: fingerprint(blob) });
        return ctx.reject(["publickey"]);
      }
      if (!ctx.signature) return ctx.accept(); // "would this key do?": yes; the signed attempt follows
      const key = utils.parseKey(`ssh-ed25519 ${blob.toString("base64")}`);
      if (key instanceof Error || !key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.reject(["publickey"]);
      core = fingerprint(blob);
      ctx.accept();
    });
    client.on("ready", () => {
      log.info("core connected", { peer, core });
      client.on("session", (accept: () => any) => {
        const session = accept();
        session.on("exec", (acceptExec: () => Channel, _reject: () => void, req: { command: string }) => {
          const ch = acceptExec();
          let request: AgentRequest;
          try {
            request = JSON.parse(req.command);
          } catch {
            ch.stderr.write("shield agent: the request is not JSON\n", () => {});
            ch.exit(1);
            ch.end();
            return;
          }
          const r = new Request(ch, request, opts.plugins, peer, data && info.ip ? { port: data, ip: info.ip } : undefined);
          running.add(r);
          mine.add(r);
          void r.run().finally(() => { running.delete(r); mine.delete(r); });
        });
      });
    });
    client.on("error", (err: Error) => log.debug("connection error", { peer, error: err.message }));
  });
  let port: number | null = null;
  // Only beside a listener: a NAT agent's core cannot dial it (its backups stay on SSH).
  let data: DataPort | undefined;
  if (opts.port !== undefined && opts.dataPort !== undefined) data = await DataPort.listen(opts.host, opts.dataPort);
  if (opts.port !== undefined) {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
    port = (server.address() as { port: number }).port;
    log.info("shield agent listening", { version: VERSION, host: opts.host, port, dataPort: data?.port ?? null, cores: accepted.map(fingerprint) });
  }
  const extras: { stop(): Promise<void> }[] = [];
  for (const e of extra) extras.push(await e.start({ plugins: opts.plugins }));
  return {
    port,
    dataPort: data?.port ?? null,
    inject: (sock) => server.injectSocket(sock as any),
    stop: async () => {
      for (const e of extras) await e.stop();
      // Requests first, then connections (one to a core gone silent would hold close() for minutes).
      for (const r of running) r.abort("the agent is stopping");
      for (const c of connections) c?.destroy();
      await data?.close();
      if (port !== null) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One request on one channel: its processes, killed together when the channel goes first. */
class Request {
  private readonly procs: Subprocess[] = [];
  /** Each process's stderr, read to its end: a process's last words (zstd's sizes) come before its exit counts. */
  private readonly stderrDone = new Map<Subprocess, Promise<void>>();
  private done = false;
  /** A backup's data connection (data.ts), when the core dialled it: the archive goes there instead of stdout. */
  private sock: Socket | undefined;

  constructor(private readonly ch: Channel, private readonly req: AgentRequest, private readonly plugins: PluginRegistry, private readonly peer: string,
    private readonly data?: { port: DataPort; ip: string }) {
    this.closed = new Promise<void>((r) => ch.once("close", () => r()));
    // The core canceled, died, or the network dropped: nothing of this request may go on.
    ch.on("close", () => { if (!this.done) this.abort("the core's channel closed"); });
  }

  abort(why: string): void {
    if (this.done) return;
    this.done = true;
    log.warn("request aborted: killing its processes", { peer: this.peer, op: this.req.op, why, processes: this.procs.length });
    for (const p of this.procs) killGroup(p.pid);
    this.sock?.destroy();
  }

  async run(): Promise<void> {
    const { req } = this;
    log.info("request", { peer: this.peer, op: req.op, plugin: "plugin" in req ? req.plugin : undefined });
    let code: number;
    try {
      if (req.op === "hello") code = await this.hello();
      else if (req.op === "validate" || req.op === "test") code = await this.simple(req.op, req.plugin, req.endpoint);
      else if (req.op === "backup") code = await this.backup(req);
      else if (req.op === "restore") code = await this.restore(req);
      else { this.err(`unknown request "${(req as { op: string }).op}"`); code = 1; }
    } catch (err) {
      this.err((err as Error).message);
      code = 3;
    }
    if (this.done) return; // aborted: the channel is gone
    this.done = true;
    if (this.sending) this.sock?.destroy(); // a backup that failed half way: its data connection ends cut, not clean
    for (const p of this.procs) killGroup(p.pid); // whatever a plugin left behind in its group
    log.info("request finished", { peer: this.peer, op: req.op, code });
    // The exit status goes out at once, past data still waiting for the channel's window:
    // stderr (the backup's report) must be out before it, or the core may never see it.
    await this.flushed();
    try {
      this.ch.exit(code);
      this.ch.end();
    } catch (err) {
      log.debug("cannot report the exit", describeError(err));
    }
  }

  /**
   * ssh2 (1.17) resumes only one of a channel's two streams when the core's window
   * opens again: a stderr line written while stdout waits for the window could wait
   * for ever, and the request with it. So the two never wait at once: a stderr line
   * goes out only once stdout's last write has, and stdout waits for it meanwhile.
   * (stdout alone streams with the stream's own backpressure: no wait per chunk.)
   */
  private lastOut: Promise<void> = Promise.resolve();
  private errQueue: Promise<void> = Promise.resolve();
  private readonly closed: Promise<void>;

  private err(line: string): void {
    const text = line.endsWith("\n") ? line : line + "\n";
    this.errQueue = this.errQueue
      .then(() => Promise.race([this.lastOut, this.closed]))
      .then(() => Promise.race([this.closed, new Promise<void>((r) => {
        try { this.ch.stderr.write(text, () => r()); } catch { r(); }
      })]));
  }

  /** Everything written so far has gone out (or the channel is gone). */
  private flushed(): Promise<void> {
    return Promise.race([Promise.all([this.lastOut, this.errQueue]).then(() => {}), this.closed]);
  }

  /**
   * `stdin`/`stdout` a number: a descriptor (a pipe's end, os-pipe.ts) the process gets as it is.
   * `guarded` false: a tool between a guarded stage and this process (zstd), which needs no
   * guard, as on the core (pipeline/stage.ts, Tool).
   */
  private spawn(label: string, argv: string[], env: Record<string, string>, stdin: "pipe" | "ignore" | number | ReadableStream<Uint8Array>, onLine?: (l: string) => boolean,
    stdout: "pipe" | number = "pipe", guarded = true): Subprocess<any, "pipe", "pipe"> {
    if (this.done) throw new Error("aborted");
    // Under `shield guard`, as on the core: its lifeline is this process, so that should
    // the agent itself die (kill -9, OOM), the guard kills the whole group at once.
    const p = guarded
      ? Bun.spawn([...guardCommand(), "--", ...argv], { stdin, stdout, stderr: "pipe", env, detached: true, serialization: "json", ipc: () => {} })
      : Bun.spawn(argv, { stdin, stdout, stderr: "pipe", env, detached: true });
    this.procs.push(p);
    this.stderrDone.set(p, readLines(p.stderr as ReadableStream<Uint8Array>, (l) => { if (!onLine || onLine(l)) this.err(`${label}: ${l}`); }).catch(() => {}));
    return p as Subprocess<any, "pipe", "pipe">;
  }

  private async exitCode(p: Subprocess): Promise<number> {
    const code = await p.exited;
    await this.stderrDone.get(p);
    return p.signalCode ? 128 : code;
  }

  /** Backpressure: resolves when the channel can take more. */
  private async write(b: Uint8Array): Promise<void> {
    await this.errQueue;
    if (this.done) throw new Error("the channel closed");
    let ok = true;
    this.lastOut = new Promise<void>((r) => { ok = this.ch.write(b, () => r()); });
    if (!ok) await Promise.race([new Promise((r) => this.ch.once("drain", r)), this.closed]);
  }

  private async hello(): Promise<number> {
    const list = await this.plugins.list();
    const reply: HelloReply = {
      version: VERSION,
      plugins: list.map((p) => ({ name: p.name, version: p.info.version, target: p.info.features.target === "yes", store: p.info.features.store === "yes" })),
    };
    await this.write(Buffer.from(JSON.stringify(reply)));
    return 0;
  }

  /** validate and test: the target's own checks (with the plugin host's deadline and retries); its words, its exit code. */
  private async simple(action: "validate" | "test", plugin: string, endpoint: string): Promise<number> {
    const target = await this.plugins.target({ plugin, endpoint });
    try {
      const words = await (action === "validate" ? target.validate() : target.test());
      if (words) await this.write(Buffer.from(`${words}\n`));
      return 0;
    } catch (err) {
      if (!(err instanceof PluginFailed)) throw err;
      this.err(err.output || err.message);
      return err.exitCode || 1;
    }
  }

  /**
   * With a data token and a data port: announce the port, then wait for the core's
   * connection with the token (or its word that it cannot dial it: stdout then).
   */
  private async dataConnection(token: string): Promise<void> {
    const { port, ip } = this.data!;
    const wait = port.expect(token, ip);
    let heard = "";
    const fallback = new Promise<"ssh">((resolve) => this.ch.on("data", (b: Buffer) => {
      heard += b.toString();
      if (heard.includes(USE_SSH)) resolve("ssh");
    }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => { timer = setTimeout(() => r("late"), DATA_WAIT_MS + 5000); });
    this.err(DATA_PORT_PREFIX + JSON.stringify({ port: port.port }));
    const got = await Promise.race([wait.connection, fallback, late, this.closed.then(() => "closed" as const)]);
    clearTimeout(timer);
    wait.cancel();
    if (got === "late") throw new Error(`the core did not open the data connection to port ${port.port} in time`);
    if (got === "closed") throw new Error("aborted");
    if (got === "ssh") { log.info("the core cannot reach the data port: the archive goes over SSH", { peer: this.peer, port: port.port }); return; }
    if (this.done) { got.destroy(); throw new Error("aborted"); }
    got.setNoDelay(true);
    // The core's end gone while archive bytes still go there: the core no longer takes them.
    // The processes go at once; the request then fails and says so on the channel.
    got.on("error", (err) => log.warn("the data connection failed", { peer: this.peer, error: err.message }));
    got.on("close", () => {
      if (!this.sending || this.done) return;
      this.err(CLOSED_EARLY);
      for (const p of this.procs) killGroup(p.pid);
    });
    got.resume();
    this.sock = got;
  }
  /** True while archive bytes still go to the data connection: its close then is a failure. */
  private sending = false;

  private async backup(req: Extract<AgentRequest, { op: "backup" }>): Promise<number> {
    if (req.dataToken && req.dataKey && this.data) await this.dataConnection(req.dataToken);
    this.sending = !!this.sock;
    const zip = compressor(req.compression);
    const { argv, env } = (await this.plugins.target(req)).backup();
    // Process to process through pipes of the kernel's (os-pipe.ts), as on the core: the
    // target writes into the compressor, the compressor into a pipe this process reads
    // with large reads. Handing the target's stdout stream to the compressor's stdin
    // instead made Bun copy every raw byte through this process (~0.4 s of CPU per GiB,
    // the agent's largest cost: bench/DATAPATH.md, "Through an agent: kernel pipes on the agent").
    const archive = osPipe();
    const raw = zip ? osPipe() : undefined;
    const stages: [string, Subprocess][] = [];
    let rawBytes: number | null = null;
    let sealed: Sealed;
    try {
      try {
        stages.push(["target backup", this.spawn("target backup", argv, env, "ignore", undefined, raw ? raw.write : archive.write)]);
        if (zip && raw) {
          // Without a guard: should this process die, the target's guard kills the target, and
          // the compressor meets the end of its input or a broken pipe and exits; what it made
          // of a cut stream never gets its last chunk (beforeLast below), so the core refuses it.
          stages.push([req.compression, this.spawn(req.compression, zip, env, raw.read, (l) => {
            const r = zstdReport(l);
            if (r.rawBytes !== undefined) rawBytes = r.rawBytes;
            return r.keep;
          }, archive.write, false)]);
        }
      } finally {
        // Only the stages hold the pipes' other ends now: their exit (or death) ends our input.
        raw?.close();
        archive.closeWrite();
      }
      // Sealed, counted and hashed here with seal.ts, the store guard's own loop (large reads
      // off a non-blocking end, polled in short turns when the compressor is quiet).
      const sock = this.sock;
      // The data connection's (socket-writer.ts; its close is said as the close handler
      // above says it: which of the two notices first is a race), in writes of a MiB.
      const onto = sock ? gathering(socketWriter(sock, () => this.done || sock.destroyed), GATHER_BYTES) : undefined;
      sealed = await seal({
        from: { nonBlocking: archive.nonBlocking, blocking: archive.read },
        // Else the channel's, which holds on to what it is given.
        write: onto?.write ?? ((b) => this.write(b)),
        writeKeepsChunks: !sock,
        // Where the core authenticates every chunk as it arrives, a hash of them would be a pass over every byte for nothing.
        hash: !!sock && !req.chunksChecked,
        dataKey: req.dataKey ? Buffer.from(req.dataKey, "base64") : null,
        // The last chunk, which authenticates the end of the archive, only when every stage exited 0.
        beforeLast: async () => {
          for (const [label, s] of stages) {
            const code = await this.exitCode(s);
            if (code !== 0) throw new StageFailed(`${label} failed (exit ${code})`, code);
          }
        },
      });
      await onto?.flush();
    } catch (err) {
      if (!(err instanceof StageFailed)) throw err;
      this.err(err.message);
      return err.code;
    } finally {
      archive.closeRead();
    }
    if (this.sock) {
      // Every byte handed to the kernel before the report says how many there were.
      const sock = this.sock;
      await new Promise<void>((resolve, reject) => {
        sock.once("error", reject);
        sock.end(() => resolve());
      });
      this.sending = false;
    }
    if (!zip) rawBytes = sealed.bytesIn;
    this.err(RESULT_PREFIX + JSON.stringify({ rawBytes: req.compression === "gzip" ? null : rawBytes, bytes: sealed.bytes, ...(sealed.sha256 ? { sha256: sealed.sha256 } : {}) }));
    return 0;
  }

  private async restore(req: Extract<AgentRequest, { op: "restore" }>): Promise<number> {
    const unzip = decompressor(req.compression);
    const { argv, env } = (await this.plugins.target(req)).restore();
    const stages: [string, Subprocess<any, "pipe", "pipe">][] = [];
    let sinkProc: Subprocess<any, "pipe", "pipe">;
    if (unzip) {
      const z = this.spawn(`${req.compression} -d`, unzip, env, "pipe", (l) => zstdReport(l).keep);
      const t = this.spawn("target restore", argv, env, z.stdout as ReadableStream<Uint8Array>);
      stages.push([`${req.compression} -d`, z], ["target restore", t]);
      sinkProc = z;
    } else {
      const t = this.spawn("target restore", argv, env, "pipe");
      stages.push(["target restore", t]);
      sinkProc = t;
    }
    const sink = sinkProc.stdin as import("bun").FileSink;
    // Drain the last stage's stdout (a restore prints little), so it never blocks on it.
    void (async () => { for await (const c of stages.at(-1)![1].stdout as ReadableStream<Uint8Array>) this.err(new TextDecoder().decode(c)); })().catch(() => {});
    const committed = await new Promise<boolean>((resolve, reject) => {
      let buffered = 0;
      let writing = Promise.resolve();
      const deframer = new Deframer((b) => {
        buffered += b.length;
        sink.write(b);
      }, () => resolve(true));
      this.ch.on("data", (b: Buffer) => {
        try { deframer.push(b); } catch (err) { reject(err); return; }
        if (buffered >= 1 << 20) {
          // Backpressure: the channel's window stops the core while the target catches up.
          this.ch.pause();
          buffered = 0;
          writing = writing.then(async () => { await sink.flush(); this.ch.resume(); });
        }
      });
      this.ch.on("end", () => resolve(deframer.committed));
      this.ch.on("close", () => resolve(deframer.committed));
    });
    if (!committed) {
      this.abort("the input ended without a commit");
      return 1;
    }
    await sink.flush();
    await sink.end();
    for (const [label, s] of stages) {
      const code = await this.exitCode(s);
      if (code !== 0) { this.err(`${label} failed (exit ${code})`); return code; }
    }
    return 0;
  }
}


/** A stage of a backup exited non-zero: the archive's last chunk is never sealed. */
class StageFailed extends Error {
  constructor(message: string, readonly code: number) { super(message); }
}

function killGroup(pid: number): void {
  try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ }
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  if (pending) onLine(pending);
}
