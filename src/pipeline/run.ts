// The two pipelines. Backup: target `backup` → compression → encryption → store
// `store`, the encryption in the store's guard (seal.ts), so that no byte of the
// archive crosses the daemon. Restore: a verify pass over the whole stored blob
// first (see restore), then store `retrieve` → checksum and decryption →
// decompression → target `restore`, the checksum and decryption in the retrieve's
// guard (unseal.ts), so that, for a local target, no byte of the archive crosses the
// daemon either. Nothing is staged on disk; every stage's
// exit is checked; a failure or cancel kills every process of the pipeline.
import { closeSync, constants as C, openSync, rmSync } from "node:fs";
import { constants } from "node:os";
import { compressor, decompressor, zstdReport, type Compression } from "./compression.ts";
import { CIPHER_ID as CIPHER, decryptStream, newDataKey } from "./encryption.ts";
import { ByteCounter, Digest, pump } from "./pump.ts";
import { Stage, Tool, UnsealFailed, type StageProcess } from "./stage.ts";
import { TAIL_HELD, type Unsealed } from "./unseal.ts";
import { parseStoreKey } from "./guard.ts";
import { fifoTool, toolMissing } from "./tools.ts";
import { makeFifo, widenPipe } from "./fifo.ts";
import { libc } from "../libc.ts";
import { pace, type Sealed } from "./seal.ts";
import { pluginEnv, PURGE_RETRY, withRetry, type Command, type PluginRegistry, type Store, type Target } from "../plugin-host/index.ts";
import { partialEnv } from "./partial.ts";
import { measure, type Phase, type Progress, type ProgressTotal } from "./progress.ts";
import { backupHeader, prefixed, relayArgv, relayReport, restoreHeader, type AgentTarget } from "../agent/pipeline.ts";
import type { BackupReport } from "../agent/protocol.ts";

export { CIPHER_ID as CIPHER } from "./encryption.ts";

export interface PipelineContext {
  plugins: PluginRegistry;
  /** Stage stderr and progress lines, for the task log. */
  log: (line: string) => void;
  /** Aborting kills every stage; the pipeline then rejects with Canceled. */
  signal: AbortSignal;
  /** How often to log bytes moved (ms). */
  progressEvery?: number;
  /**
   * Told the progress of the running phase (progress.ts) when it begins, then every
   * `progressTickMs` (default 1000: the web page and `--follow` update each second), and at its end.
   */
  onProgress?: (p: Progress) => void;
  progressTickMs?: number;
}

export interface Endpoint {
  plugin: string;
  endpoint: string;
  /**
   * A target only: its plugin runs on this agent (src/agent), never here. Its stage
   * is then the relay, and compression and encryption happen on the agent.
   */
  agent?: AgentTarget;
}

export interface BackupResult {
  storeKey: string;
  size: number;
  /** null when zstd, which the raw bytes went straight into, did not say how many it read. */
  rawSize: number | null;
  sha256: string;
  compression: Compression;
  cipher: string;
  /** The archive's own data key, for the caller to wrap with the master key. */
  dataKey: Uint8Array | null;
}

export class PipelineFailed extends Error {
  /** A key the store returned before the pipeline failed: its blob must be purged. */
  storeKey?: string;
  /** When a stage's own exit was the cause: its code (which says whether trying again may help). */
  exitCode?: number;
}
export class Canceled extends PipelineFailed {}

interface StageIO {
  /** "held": the stage is a sink that must see the end of its input only on an explicit commit. */
  stdin: "pipe" | "held" | false;
  /** With "held": a FIFO made by the daemon (see Stage). */
  heldFifo?: string;
  /** A number: a file descriptor the stage writes to directly (a FIFO another stage reads). */
  stdout: boolean | number;
  store?: { purgeArgv: string[] };
  /** The store of a backup: its guard seals what it reads from heldFifo (see Stage). */
  seal?: { key: Uint8Array | null; check?: Uint8Array | null; builtin?: Command["builtin"]; rate?: number };
  /** A store's retrieve: its guard unseals what it reads into stdout, or nowhere (see Stage). */
  unseal?: { key: Uint8Array | null; rate?: number; discard?: boolean; lend?: boolean };
  /** A source (no input) or a sink with a held input that is a built-in: its guard runs the action itself (see Stage). */
  inProcess?: Command["builtin"];
  /** A backup's built-in store that seals: its guard runs the target's backup too, its tools writing into the FIFO `output` (see Stage). */
  source?: { label: string; cmd: Command; output: string; compress?: "zstd" };
  /** Sees each stderr line first; false keeps it out of the task log. */
  stderr?: (line: string) => boolean;
  /** Added to a plugin's environment (SHIELD_PARTIAL_ID). */
  env?: Record<string, string>;
}

/**
 * Collects the stages of one run so that a failure anywhere kills them all, and
 * names the failure by its root cause: the stage that exited non-zero on its own,
 * not the broken pipes and killed neighbours that follow from it. When several
 * stages exited non-zero on their own, the one furthest downstream is the cause: a
 * stage whose reader died gets EPIPE and fails too, often the sooner of the two.
 */
class Run {
  readonly stages: StageProcess[] = [];
  private readonly fifos: DaemonFifoEntry[] = [];
  private failure: PipelineFailed | undefined;
  /** The first failure was a stage's own exit: then the cause is the furthest downstream of `exitFailures`. */
  private failedByExit = false;
  private readonly exitFailures: { place: number; err: PipelineFailed }[] = [];
  /** Each stage's place in the stream: 0 a source (no input), 2 a sink (no output), 1 between. */
  private readonly places = new Map<StageProcess, number>();
  /** A flow error (a broken pipe, say): reported only when no stage explains it. */
  private flowError: Error | undefined;

  constructor(private readonly ctx: PipelineContext) {
    const onAbort = () => {
      const reason = ctx.signal.reason;
      // A cancel is a cancel; any other abort (the daemon shutting down) is a failure with its reason.
      this.fail(reason instanceof PipelineFailed ? reason : new PipelineFailed(`interrupted: ${(reason as Error)?.message ?? reason}`));
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();
  }

  stage(label: string, argv: string[], env: Record<string, string>, io: StageIO): Stage {
    const place = io.stdin === false ? 0 : io.stdout === false ? 2 : 1;
    const source = io.source && { label: io.source.label, builtin: io.source.cmd.builtin!, env: io.source.cmd.env, output: io.source.output, compress: io.source.compress };
    const s = this.started(place, () => new Stage({
      label, argv, env, stdin: io.stdin || "ignore", heldFifo: io.heldFifo, store: io.store, seal: io.seal, inProcess: io.inProcess, unseal: io.unseal, source,
      stdout: typeof io.stdout === "number" ? io.stdout : io.stdout ? "pipe" : "ignore",
      onStderr: this.logged(io.stderr),
    }));
    // The source its guard runs is a stage of the run too: a failure kills it, its exit is checked.
    if (s.source) this.joined(s.source, 0);
    return s;
  }

  /**
   * A Tool (stage.ts: zstd between two guarded stages, without a guard of its own): `argv`
   * reading `input`, a FIFO of ours that no guard takes over, and writing into `stdout`,
   * the write end of another.
   */
  tool(label: string, argv: string[], env: Record<string, string>, input: DaemonFifo, stdout: number, stderr: (line: string) => boolean): Tool {
    return this.started(1, () => {
      // Blocking, yet returns at once: our hold (read-write) is a writer.
      const fd = openSync(input.path, C.O_RDONLY);
      try {
        // Its input ends only once we let go of the writer's end as well (Tool.endInput):
        // the stage upstream's own exit never ends it, so a cut stream never gets as far as
        // the tool's failure on it, and the cause is named (the stage upstream, not the tool).
        return new Tool({ label, argv, env, stdin: fd, stdout, onStderr: this.logged(stderr), endInput: input.heldForTool() });
      } finally {
        closeSync(fd); // the tool has its own
      }
    });
  }

  /** A process of the run, at `place` (see places), once `start` started it. */
  private started<T extends StageProcess>(place: number, start: () => T): T {
    this.check();
    let s: T;
    try {
      s = start();
    } catch (err) {
      // The stages already started would wait forever on their pipes.
      this.fail(new PipelineFailed((err as Error).message));
      throw this.rootCause();
    }
    this.joined(s, place);
    return s;
  }

  private joined(s: StageProcess, place: number): void {
    this.stages.push(s);
    this.places.set(s, place);
  }

  /** A stage's stderr lines into the task log, but those `keep` says no to. */
  private logged(keep?: (line: string) => boolean): (label: string, line: string) => void {
    return (label, line) => { if (!keep || keep(line)) this.ctx.log(`${label}: ${line}`); };
  }

  /** A stage running a plugin's action, as its Store or Target gave it. */
  command(label: string, cmd: Command, io: StageIO): Stage {
    return this.stage(label, cmd.argv, { ...cmd.env, ...io.env }, io);
  }

  /**
   * A store's `retrieve` of `key`, writing to a pipe to the daemon (true) or to a FIFO
   * (its fd), or (with `unseal`) to its guard, which unseals it into that FIFO or
   * nowhere (false). Not unsealing, a built-in store's runs inside its guard
   * (plugin-host/in-process.ts): one Bun start fewer for every read of a blob; its exit
   * code, its stderr in the task log and a cancel or the daemon's death killing it are as
   * for a process of its own. Unsealing, so does that of a built-in whose blobs are local
   * files (fs), which hands the guard the blob's file to read itself: one process and one
   * pipe fewer; any other store's is a process of its own (guard.ts says why).
   */
  retrieve(label: string, sp: Store, key: string, stdout: boolean | number, unseal?: StageIO["unseal"]): Stage {
    const cmd = sp.retrieve(key);
    // Unsealing in process, the guard makes its fd 1 /dev/null (dup2: libc.ts), so that only what it unsealed reaches the stage downstream.
    const inProcess = sp.inProcess && (!unseal || (sp.localBlobs && guardCanDup2())) ? cmd.builtin : undefined;
    return this.command(label, cmd, { stdin: false, stdout, inProcess, unseal });
  }

  fail(err: PipelineFailed): void {
    this.failure ??= err;
    this.killAll();
  }

  /** A stage exited non-zero on its own (not stopped by us). */
  private stageFailed(s: StageProcess, code: number): void {
    const err = Object.assign(new PipelineFailed(`${s.label} failed (exit ${code})`), { exitCode: code });
    this.exitFailures.push({ place: this.places.get(s) ?? 0, err });
    if (!this.failure) { this.failure = err; this.failedByExit = true; }
    this.killAll();
  }

  private rootCause(): PipelineFailed | undefined {
    if (!this.failedByExit) return this.failure;
    return this.furthestExitFailure();
  }

  private furthestExitFailure(): PipelineFailed | undefined {
    if (!this.exitFailures.length) return undefined;
    return this.exitFailures.reduce((a, b) => (b.place > a.place ? b : a)).err;
  }

  private killAll(): void {
    for (const s of this.stages) s.kill();
  }

  check(): void {
    const cause = this.rootCause();
    if (cause) throw cause;
  }

  /**
   * For a pump's `beforeEnd`: the next stage may see the end of its input only
   * once every stage before it exited 0. Otherwise a producer that died
   * mid-stream would hand a store a clean, complete-looking end.
   */
  async upstreamSucceeded(upstream: StageProcess[]): Promise<void> {
    for (const s of upstream) {
      const code = await s.exited();
      if (code === 0) continue;
      // Stopped because something else failed: that is the cause (see finish).
      if (stoppedByUs(s, code)) throw new Error(`${s.label} was stopped`);
      this.stageFailed(s, code);
    }
    this.check();
  }

  /**
   * Makes a FIFO alone in a directory of its own, so that the stage writing into it
   * and the guard reading it (each a Bun start, ~10 ms) start side by side rather than
   * one after the other. Held open read-write, which never blocks (a plain O_WRONLY open
   * would block the daemon until a reader came), until `releaseFifos` (once the reading
   * guard has opened its end): until then ours is the only read end, and whatever the
   * writer wrote lives in the pipe only while some end is open. The writer gets an end
   * of its own, write-only (blocking: its stdout), opened once ours reads: a writer
   * holding a read end itself never gets EPIPE, so were its reader to die (the daemon
   * killed, and the reading guard with it), it would block on a full FIFO for ever.
   * Read by a Tool, which has no guard to hold its input, the writer's end stays ours
   * until the Tool's endInput (see tool).
   */
  fifo(): DaemonFifo {
    let made;
    try {
      made = makeFifo();
    } catch (err) {
      throw new PipelineFailed((err as Error).message);
    }
    const entry: DaemonFifoEntry = { path: made.path, dir: made.dir, handedOver: false, toolInput: false };
    try {
      entry.hold = openSync(made.path, C.O_RDWR);
      entry.writer = openSync(made.path, C.O_WRONLY);
      // Every byte of the stream crosses it (pg_dump → zstd → the store's guard; zstd -d → the target).
      widenPipe(entry.hold);
    } catch (err) {
      closeFifo(entry);
      rmSync(made.dir, { recursive: true, force: true });
      throw err;
    }
    this.fifos.push(entry);
    return {
      path: made.path, fd: entry.writer,
      handedOver: () => { entry.handedOver = true; },
      heldForTool: () => { entry.toolInput = true; return () => closeFifo(entry, "writer"); },
    };
  }

  /**
   * Lets go of the holds on our FIFOs (the writers' ends too, but that of a Tool's input
   * until its endInput, or `all`), and of the directories never handed over to a guard.
   */
  releaseFifos(all = false): void {
    for (const f of this.fifos) {
      closeFifo(f, f.toolInput && !all ? "hold" : "both");
      if (!f.handedOver) rmSync(f.dir, { recursive: true, force: true });
    }
  }

  /**
   * The setup failed: stops what started and waits for it (our holds go first: a guard
   * reading a FIFO we hold would never see its end), then rethrows.
   */
  async abandon(err: unknown, work: Flows): Promise<never> {
    this.releaseFifos();
    const earlier = this.failure;
    this.fail(err instanceof PipelineFailed ? err : new PipelineFailed((err as Error).message));
    await this.finish(work.all).catch(() => {});
    // Named by its root cause, as finish() would: what failed before this error (a cancel,
    // a stage's own exit), else a stage that exited non-zero on its own while we settled.
    // The setup's error is often only the consequence: a target failing at once gets its
    // store guard killed, and the setup then sees "store exited before it took its input".
    if (earlier) throw this.rootCause();
    throw this.furthestExitFailure() ?? err;
  }

  /**
   * Waits for every stage and flow; throws the root cause of any failure. Then removes
   * every FIFO directory, even one handed over: a guard removes it as soon as it is open
   * at both ends, but one killed before it got that far (a cancel at once) never does.
   */
  async finish(work: Promise<unknown>[]): Promise<void> {
    try {
      await this.settle(work);
    } finally {
      this.releaseFifos(true);
      for (const f of this.fifos) rmSync(f.dir, { recursive: true, force: true });
    }
  }

  private async settle(work: Promise<unknown>[]): Promise<void> {
    const exits = this.stages.map(async (s) => {
      const code = await s.exited();
      if (code !== 0 && !stoppedByUs(s, code)) this.stageFailed(s, code);
    });
    const flows = work.map((w) => w.catch((err) => {
      if (err instanceof PipelineFailed || (err as Error)?.name === "ArchiveDecryptError") this.fail(err instanceof PipelineFailed ? err : new PipelineFailed((err as Error).message));
      else {
        // Most likely a stage died and its pipe broke: its exit, awaited above, says why.
        this.flowError ??= err as Error;
        this.killAll();
      }
    }));
    await Promise.all([...exits, ...flows]);
    if (!this.failure && this.flowError) this.failure = new PipelineFailed(`the stream broke: ${this.flowError.message}`);
    this.check();
  }

  /**
   * Logs `what` and the counter's bytes every few seconds, and tells ctx.onProgress
   * of `phase` every tick; the returned function logs the last line (`final`: other
   * words and count) and tells the last measurement.
   */
  progress(what: string, counter: { readonly bytes: number }, phase: Phase | (() => Phase), total: ProgressTotal): (final?: { what: string; bytes: number }) => void {
    const started = performance.now();
    const startedAt = Date.now();
    const every = this.ctx.progressEvery ?? 5000;
    const timer = setInterval(() => {
      const secs = (performance.now() - started) / 1000;
      this.ctx.log(`progress: ${what} ${formatBytes(counter.bytes)} in ${secs.toFixed(0)} s (${formatBytes(counter.bytes / secs)}/s)`);
    }, every);
    const tell = () => this.ctx.onProgress?.(measure(typeof phase === "function" ? phase() : phase, counter.bytes, total, startedAt));
    tell();
    const ticks = this.ctx.onProgress ? setInterval(tell, this.ctx.progressTickMs ?? 1000) : undefined;
    return (final) => {
      clearInterval(timer);
      clearInterval(ticks);
      tell();
      const secs = Math.max((performance.now() - started) / 1000, 0.001);
      const bytes = final?.bytes ?? counter.bytes;
      this.ctx.log(`${final?.what ?? what} ${formatBytes(bytes)} in ${secs.toFixed(1)} s (${formatBytes(bytes / secs)}/s)`);
    };
  }
}

/**
 * A run's flows (pumps, commits), for Run.finish. Each is watched from the moment it
 * is added: one failing while the setup still awaits a stage, before finish looks at
 * it, would otherwise be an unhandled rejection, and those end the daemon.
 */
class Flows {
  readonly all: Promise<unknown>[] = [];
  add(flow: Promise<unknown>): void {
    flow.catch(() => {}); // finish sees the failure through its own handler
    this.all.push(flow);
  }
}

/**
 * A stage's non-zero exit that follows from our own signal (another stage failed
 * first). A stage we signalled that exited with a code of its own (not 128 +
 * SIGTERM or SIGKILL) had most likely failed on its own already: a store that
 * could not write exits 1 while its guard is still being told to stop.
 */
function stoppedByUs(s: StageProcess, code: number): boolean {
  return s.killed && (code === 128 + constants.signals.SIGTERM || code === 128 + constants.signals.SIGKILL);
}

export interface BackupOptions {
  compression: Compression;
  encrypt: boolean;
  /**
   * Records the store's key where recovery will find it (the task row), before
   * the store's guard may exit: should the daemon die after the store committed,
   * either recovery purges the blob (recorded) or the guard does (not recorded).
   */
  onStored?: (key: string) => Promise<void>;
  /**
   * Names what the store keeps until its blob is complete (see partial.ts): should
   * the store be killed before it finished, the caller purges `partial:ID` once it
   * knows this run died. Unique to this run.
   */
  partialId?: string;
  /** Bytes per second at most (the store's or target's bandwidth limit, the lower); 0 or absent: none. */
  rate?: number;
  /** The job's last archive (stored and raw size): the guessed total of the progress. */
  estimate?: { size: number | null; rawSize: number | null };
}

export async function backup(ctx: PipelineContext, target: Endpoint, store: Endpoint, opts: BackupOptions): Promise<BackupResult> {
  const agent = target.agent;
  // On an agent, the agent compresses: nothing here needs the compressor.
  const zip = agent ? undefined : compressor(opts.compression);
  requireTools([[zip?.[0], `compression "${opts.compression}"`], [fifoTool(), "a backup"]]);
  const [tp, sp] = await Promise.all([agent ? undefined : ctx.plugins.target(target), ctx.plugins.store(store)]);
  const run = new Run(ctx);
  const raw = new ByteCounter();
  const dataKey = opts.encrypt ? newDataKey() : null;
  let storeKey: string | undefined;
  let sealed: Sealed | undefined;
  // zstd reports the exact size of its input, so the target writes straight into
  // it and the raw bytes never cross the daemon (a wakeup per few KiB of a dump;
  // see bench/DATAPATH.md). gzip does not: the daemon counts them on their way in.
  let zstdRaw: number | undefined;
  // Or, compressed by the store's guard beside the store, as its guard reports it.
  const zstdRawBytes = () => zstdRaw ?? sink?.sourceRawBytes;
  const direct = opts.compression === "zstd" && !agent;
  let agentReport: BackupReport | undefined;

  // The bytes after compression never cross the daemon either: the stage before the
  // store writes into the store's guard, which seals them (encrypts, counts, hashes:
  // seal.ts) into the store's input. Held input: the store sees the end of its stream
  // only when every stage upstream exited 0, never because the daemon died (guard.ts).
  const work = new Flows();
  const upstream: StageProcess[] = [];
  let sink: Stage;
  try {
    // The store first: its guard and plugin take longest to be ready, and no byte moves
    // before they are. Should a later stage fail to start, the store is killed without a
    // commit, so it keeps nothing.
    const storeInput = run.fifo();
    const storeCmd = sp.store();
    // A built-in target's backup runs inside its guard (plugin-host/in-process.ts): one Bun start fewer.
    const targetCmd = agent ? undefined : tp!.backup();
    const targetRef = targetCmd && tp!.inProcess ? targetCmd.builtin : undefined;
    // Both built-ins, and the backup's output its tools' (pg_dump, mariadb-dump): the store's guard runs
    // the backup too (guard.ts, --with-source), its tools writing into the guard's own input: another
    // Bun start fewer. With zstd, the guard compresses it on the way (compress-beside.ts): no zstd
    // process at all for a small database. Not where the daemon counts the raw bytes (gzip).
    const beside = targetCmd?.builtin && tp!.backupByTool && sp.inProcess && storeCmd.builtin && (!zip || direct);
    // zstd's input, for a zstd of our own (a Tool), which the target's stage writes into.
    const zstdInput = zip && direct && !beside ? run.fifo() : undefined;
    sink = run.command("store", storeCmd, {
      stdin: "held", heldFifo: storeInput.path, stdout: false, store: { purgeArgv: sp.purge().argv },
      source: beside ? { label: "target backup", cmd: targetCmd!, output: storeInput.path, compress: zip && direct ? "zstd" : undefined } : undefined,
      env: opts.partialId ? partialEnv(opts.partialId) : undefined,
      // A built-in store runs inside its guard, fed the sealed stream in memory (plugin-host/in-process.ts).
      // Sealed on the agent already: the guard counts and hashes it, and authenticates every
      // chunk as it passes (what came over the network must be what the agent sealed).
      seal: { key: agent ? null : dataKey, check: agent ? dataKey : null, builtin: sp.inProcess ? storeCmd.builtin : undefined, rate: opts.rate },
    });
    storeInput.handedOver();
    let source: StageProcess;
    if (agent) {
      const relay = run.stage(`target backup (agent ${agent.address})`, relayArgv(), pluginEnv(), {
        stdin: "pipe", stdout: storeInput.fd,
        stderr: (line) => {
          const r = relayReport(line);
          if (r.report) agentReport = r.report;
          return r.keep;
        },
      });
      source = relay;
      // The request (the endpoint, the data key) goes on the relay's stdin, never in its arguments.
      work.add(relay.input().then(async (w) => {
        w.write(backupHeader(agent, target.plugin, target.endpoint, opts.compression, dataKey));
        await relay.endInput();
      }));
      upstream.push(source);
    } else if (sink.source) {
      // The store's guard runs the backup (compressing it itself with zstd; uncompressed, counting it as it seals).
      source = sink.source;
      upstream.push(source);
    } else if (zip && direct) {
      // zstd runs without a guard (a Tool, stage.ts), its input held by us: it sees the end
      // of its input only when the target exited 0, so a target dying mid-stream never makes
      // a complete-looking archive. (Beside the store, its guard does the same: compress-beside.ts.)
      const z = run.tool(opts.compression, zip, pluginEnv(), zstdInput!, storeInput.fd, zstdSaid((bytes) => (zstdRaw = bytes)));
      source = run.command("target backup", targetCmd!, { stdin: false, stdout: zstdInput!.fd, inProcess: targetRef });
      work.add(run.upstreamSucceeded([source]).then(() => z.endInput()));
      upstream.push(source, z);
    } else if (zip) {
      const s = run.command("target backup", targetCmd!, { stdin: false, stdout: true, inProcess: targetRef });
      const z = run.stage(opts.compression, zip, pluginEnv(), { stdin: "pipe", stdout: storeInput.fd });
      source = s;
      work.add(pump(s.stdout.pipeThrough(raw.stream), z, () => run.upstreamSucceeded([s])));
      upstream.push(source, z);
    } else {
      // Uncompressed, what the store's guard reads is the raw stream: it counts it.
      source = run.command("target backup", targetCmd!, { stdin: false, stdout: storeInput.fd, inProcess: targetRef });
      upstream.push(source);
    }
    await sink.inputPath();
    sink.inputOpened();
  } catch (err) {
    // The stages already started (the store at least) are stopped and awaited.
    return run.abandon(err, work);
  }
  run.releaseFifos();
  // The commit: the store's input ends once its guard has sealed every byte, and only
  // when the target produced some: an empty backup is not an archive (nothing could
  // restore it), so the store is stopped without a commit and keeps nothing.
  // Once every stage before the store is done, what is left is the store's commit.
  let dumped = false;
  work.add(run.upstreamSucceeded(upstream).then(async () => {
    dumped = true;
    // zstd counted its input (unknown: undefined, let through); gzip's went through the
    // daemon; uncompressed, the store's guard read it all before it reports the seal.
    // Through an agent's data port (agent/data.ts), the bytes came over a plain connection:
    // what the store's guard read must be exactly what the agent says, over SSH, it sent
    // (the guard authenticated every chunk; an agent that hashed them reports their SHA-256).
    if (agent && agentReport) {
      const got = await sink.sealed;
      if (got.bytes !== agentReport.bytes || (agentReport.sha256 !== undefined && got.sha256 !== agentReport.sha256)) {
        throw new PipelineFailed(`the archive that reached the store (${got.bytes} bytes, sha256 ${got.sha256}) is not what the agent sent ` +
          `(${agentReport.bytes} bytes${agentReport.sha256 !== undefined ? `, sha256 ${agentReport.sha256}` : ""}): altered or cut on its way from the agent; no archive kept`);
      }
    }
    const rawBytes = direct ? zstdRawBytes() : zip ? raw.bytes : (await sink.sealed).bytesIn;
    if (rawBytes === 0) {
      throw new PipelineFailed("the target produced no data (0 bytes; its backup exited 0): an empty backup is not an archive, so none was kept. Check the target's configuration: its tool may be writing its output somewhere else");
    }
    await sink.endInput();
  }));
  work.add(sink.sealed.then((s) => { sealed = s; }));
  work.add(Promise.race([sink.stored, sink.proc.exited.then(() => undefined)]).then(async (stored) => {
    // A failed store fails the run by its exit code; a killed guard sends nothing.
    if (!stored || stored.code !== 0) return;
    const key = parseStoreKey(stored.output);
    if (!key) {
      run.fail(new PipelineFailed(`store did not print a key: ${JSON.stringify(stored.output.slice(0, 200))}`));
      return;
    }
    // A store that exited 0 before the end of its input holds no whole archive.
    if (!stored.complete) {
      sink.release(false);
      run.fail(new PipelineFailed("store exited 0 before the end of its input: what it stored is not the whole archive"));
      return;
    }
    try {
      await opts.onStored?.(key);
    } catch (err) {
      sink.release(false); // the guard purges it: no one else knows the key
      run.fail(new PipelineFailed(`cannot record the store's key: ${(err as Error).message}`));
      return;
    }
    storeKey = key;
    sink.release(true);
  }));

  // The daemon sees neither the raw bytes (zstd, none) nor the stored ones: the store's guard reports its counts.
  const storedBytes = { get bytes() { return sink.guardProgress.bytes; } };
  const sealedRaw = { get bytes() { return sink.guardProgress.bytesIn; } };
  const phase = (): Phase => (dumped ? "storing" : "dumping");
  const stored: ProgressTotal = { total: opts.estimate?.size ?? null, estimate: true, counts: "stored" };
  const rawTotal: ProgressTotal = { total: opts.estimate?.rawSize ?? null, estimate: true, counts: "raw" };
  const done = agent ? run.progress(`stored (compressed${dataKey ? ", encrypted" : ""} on agent ${agent.address})`, storedBytes, phase, stored)
    : direct ? run.progress(`stored (compressed${dataKey ? ", encrypted" : ""})`, storedBytes, phase, stored)
    : run.progress("backed up", zip ? raw : sealedRaw, phase, rawTotal);
  try {
    await run.finish(work.all);
  } catch (err) {
    // The store may have completed (and named its blob) before another stage failed.
    const failure = err instanceof PipelineFailed ? err : new PipelineFailed((err as Error).message);
    failure.storeKey = storeKey;
    throw failure;
  } finally {
    const rawBytes = agent ? (agentReport?.rawBytes ?? undefined) : direct ? zstdRawBytes() : zip ? raw.bytes : sealed?.bytesIn;
    done(rawBytes !== undefined ? { what: "backed up", bytes: rawBytes } : undefined);
  }
  if (!storeKey) throw new PipelineFailed("store exited without reporting a key");
  if (!sealed) throw Object.assign(new PipelineFailed("the store's guard did not report what it stored"), { storeKey });
  if (direct && zstdRawBytes() === undefined) ctx.log("zstd did not report the size of its input (an unknown zstd version?): the raw size is not recorded");
  return {
    storeKey, size: sealed.bytes, sha256: sealed.sha256,
    rawSize: agent ? (agentReport?.rawBytes ?? null) : direct ? (zstdRawBytes() ?? null) : zip ? raw.bytes : sealed.bytesIn,
    compression: opts.compression, cipher: dataKey ? CIPHER : "none", dataKey,
  };
}

/** zstd's stderr: its report gives `rawSize` the exact size of the raw stream, and stays out of the task log. */
function zstdSaid(rawSize: (bytes: number) => void): (line: string) => boolean {
  return (line) => {
    const report = zstdReport(line);
    if (report.rawBytes !== undefined) rawSize(report.rawBytes);
    return report.keep;
  };
}

/** What Run keeps of a FIFO it made: its ends still open (the hold, read-write; the writer's, write-only). */
interface DaemonFifoEntry {
  path: string;
  dir: string;
  hold?: number;
  writer?: number;
  /** A guard was started with its path: the guard removes the directory. */
  handedOver: boolean;
  /** Read by a Tool: the writer's end stays open until the Tool's endInput. */
  toolInput: boolean;
}

/**
 * Whether a guard can run an action in its own process where that moves its fds: a
 * target's restore on the held FIFO as fd 0, an unsealing retrieve with /dev/null as fd 1
 * (dup2, libc.ts). Where it cannot, the action runs as a process of its own.
 */
function guardCanDup2(): boolean {
  return libc()?.dup2 !== undefined;
}

/** Closes what is still open of a FIFO's daemon-side ends ("both", or one of them). */
function closeFifo(f: DaemonFifoEntry, which: "hold" | "writer" | "both" = "both"): void {
  if (which !== "writer" && f.hold !== undefined) { closeSync(f.hold); f.hold = undefined; }
  if (which !== "hold" && f.writer !== undefined) { closeSync(f.writer); f.writer = undefined; }
}

/** A FIFO the daemon makes for a stage's guard (or a Tool) to read (see Run.fifo). */
interface DaemonFifo {
  path: string;
  /** Write-only: the stdout of the stage that writes into it (the daemon's own hold, read-write, stays inside Run). */
  fd: number;
  /** The guard was started with the path: it removes the directory from now on. */
  handedOver(): void;
  /**
   * Read by a Tool, which has no guard to hold its input: the writer's end stays ours past
   * releaseFifos, until the function returned is called (Tool.endInput).
   */
  heldForTool(): () => void;
}

export interface ArchiveToRestore {
  storeKey: string;
  sha256: string | null;
  size: number | null;
  compression: string;
  cipher: string;
  dataKey: Uint8Array | null;
  /** The size of the archive's raw stream, when recorded: the progress total of a restore that counts it. */
  rawSize?: number | null;
}

/**
 * Restores an archive in two passes over the stored blob. First the verify pass:
 * the whole blob is retrieved, counted and checked (its SHA-256 when unencrypted,
 * every chunk's authentication when encrypted: readCheck), and the output thrown
 * away; no target process exists yet. Only when it is exactly the archive the
 * catalog recorded does the second pass retrieve it again, for the target. That
 * second read is checked the same way, and
 * the target sees the end of its input only once it was; should it differ from the first
 * (the blob changed in between), the target has already been given part of it,
 * and the failure says so. Why two reads and not a staged copy: nothing of an
 * archive is ever written to the daemon's disk, and the cost is one more read of
 * the compressed, encrypted blob (bench/DATAPATH.md, "Restore").
 */
export async function restore(ctx: PipelineContext, store: Endpoint, target: Endpoint, archive: ArchiveToRestore, opts: { rate?: number } = {}): Promise<{ rawSize: number | null }> {
  if (archive.cipher !== "none" && archive.cipher !== CIPHER) throw new PipelineFailed(`unknown cipher "${archive.cipher}"`);
  if (archive.cipher === CIPHER && !archive.dataKey) throw new PipelineFailed("the archive is encrypted but its key is missing");
  const agent = target.agent;
  // On an agent, the agent decompresses (the branch below).
  const unzip = agent ? undefined : decompressor(archive.compression);
  requireTools([[unzip?.[0], `restoring an archive with compression "${archive.compression}"`], [fifoTool(), "a restore"]]);
  const [sp, tp] = await Promise.all([ctx.plugins.store(store), agent ? undefined : ctx.plugins.target(target)]);
  await verifyArchive(ctx, sp, archive);
  return applyArchive(ctx, sp, tp, target, archive, opts.rate);
}

/**
 * Verifies an archive's blob in a store (the restore's verify pass) without
 * restoring it: for a restore choosing between the primary and the copies.
 */
export async function verifyStored(ctx: PipelineContext, store: Endpoint, archive: ArchiveToRestore): Promise<void> {
  await verifyArchive(ctx, await ctx.plugins.store(store), archive);
}

/**
 * Slows a stream that crosses the daemon (a restore's compressed bytes) to `rate`
 * bytes per second: each chunk is passed on only once the bytes so far are due.
 */
export function throttle(rate: number): TransformStream<Uint8Array, Uint8Array> {
  let started = 0;
  let bytes = 0;
  return new TransformStream({
    transform: async (chunk, ctl) => {
      started ||= performance.now();
      ctl.enqueue(chunk);
      bytes += chunk.byteLength;
      await pace(started, bytes, rate);
    },
  });
}

/**
 * Passes a stream on but its last `bytes`, which go on only once `check` (called at the
 * end of the input) resolves; should it throw, the stream fails and they never do.
 */
export function holdTail(bytes: number, check: () => Promise<void>): TransformStream<Uint8Array, Uint8Array> {
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      held.push(chunk);
      heldBytes += chunk.byteLength;
      while (held.length > 1 && heldBytes - held[0]!.byteLength >= bytes) {
        const first = held.shift()!;
        heldBytes -= first.byteLength;
        ctl.enqueue(first);
      }
    },
    async flush(ctl) {
      await check();
      for (const chunk of held) ctl.enqueue(chunk);
    },
  });
}

/** The second read of a restore failed a check the verify pass had passed: `why`, the check's words. */
function blobChanged(why: string): PipelineFailed {
  return new PipelineFailed(`the blob read for the restore is not the one verified before it (${why}): it changed in the store meanwhile, and the target may have received part of it before this was found (see the README on what a failed restore leaves)`);
}

/** An archive's blob is not what the catalog recorded (size, SHA-256 or a chunk's authentication). */
class ArchiveMismatch extends PipelineFailed {}

/**
 * Compares what was read with the catalog's record; throws ArchiveMismatch. The
 * SHA-256 is compared when the read was hashed (a Digest): for an unencrypted
 * archive (see readCheck).
 */
function checkFetched(fetched: ByteCounter | Unsealed, archive: ArchiveToRestore): void {
  if (archive.size !== null && fetched.bytes !== archive.size) {
    throw new ArchiveMismatch(`the blob is ${fetched.bytes} bytes but the archive recorded ${archive.size}: it is truncated or altered`);
  }
  const sha256 = fetched instanceof Digest ? fetched.sha256() : "sha256" in fetched ? fetched.sha256 : null;
  if (archive.sha256 && sha256 !== null && sha256 !== archive.sha256) {
    throw new ArchiveMismatch("the blob's SHA-256 does not match the archive's: it is corrupted or altered");
  }
}

/**
 * What a read of an archive's blob (the verify pass, the restore proper, a
 * download) counts, and hashes only when the archive is not encrypted.
 *
 * Why an encrypted archive's blob is not hashed: what a read must catch is a blob
 * that is not the one the backup stored (rotted, rewritten, cut, reordered, replaced
 * by another, changed between the verify pass and the restore). Every read of an
 * encrypted blob is decrypted, which
 * authenticates every chunk under the archive's own data key: a fresh key for
 * each archive, used for its one stream only and held by nobody but the daemon (the
 * catalog keeps it wrapped), so no one else can make a chunk that passes. Each
 * chunk's nonce carries its position and whether it is the last, and the header is
 * authenticated with every chunk (encryption.ts): a byte changed anywhere, a chunk
 * moved, dropped or repeated, a blob cut short (even at a chunk boundary) or
 * lengthened, or another archive's blob (another key) all fail, and the size is
 * compared as well. A blob that passes is the one the backup sealed, short of a
 * forged GCM tag; its SHA-256 would say it again at ~0.6 s of CPU per GiB stored on
 * the daemon's event loop, in series with the restore in the verify pass (a tenth of
 * a 1 GiB incompressible restore: bench/DATAPATH.md, "Three data sets"). The catalog
 * still records it (copies are read back against it). An unencrypted archive has
 * nothing of the kind: each read of it is hashed and compared.
 */
function readCheck(archive: ArchiveToRestore): ByteCounter {
  return archive.dataKey ? new ByteCounter() : new Digest();
}

/**
 * The verify pass: store `retrieve` → its guard, which counts (and SHA-256,
 * unencrypted) and decrypts (every chunk authenticated, encrypted) what it reads and
 * passes nothing on (unseal.ts). Throws, naming what is wrong, unless the whole blob
 * is exactly the archive the catalog recorded.
 */
async function verifyArchive(ctx: PipelineContext, sp: Store, archive: ArchiveToRestore): Promise<void> {
  const checks = [archive.size !== null && "size", archive.sha256 && !archive.dataKey && "SHA-256", archive.dataKey && "every chunk's authentication"].filter(Boolean);
  if (!checks.length) throw new PipelineFailed("the archive records neither size, checksum nor key: it cannot be verified, so it is not restored");
  ctx.log(`verifying the archive before the target sees any of it: reading the whole blob (${checks.join(", ")})`);
  const run = new Run(ctx);
  const source = run.retrieve("store retrieve (verify)", sp, archive.storeKey, false, { key: archive.dataKey, discard: true });
  const work = new Flows();
  const named = (mismatch: ArchiveMismatch, refused: boolean) => refused ? new ArchiveMismatch(`the blob fails verification: ${mismatch.message}`) : mismatch;
  const read = unsealedCounts(source);
  work.add(checkedRead(run, source, archive, named).then(read.final));
  const counted = read.stored;
  const done = run.progress("verifying", counted, "verifying", { total: archive.size, estimate: false, counts: "stored" });
  let ok = false;
  try {
    await run.finish(work.all);
    ok = true;
  } finally {
    done({ what: ok ? "verified" : "read before the verify pass stopped", bytes: counted.bytes });
  }
}

/**
 * What an unsealing retrieve (`source`) has read from the store (`stored`) and passed on
 * (`plain`): its guard's progress while it reads, the exact counts once `final` is given them.
 */
function unsealedCounts(source: Stage) {
  let read: Unsealed | undefined;
  return {
    final: (r: Unsealed) => { read = r; },
    stored: { get bytes() { return read?.bytes ?? source.guardProgress.bytesIn; } },
    plain: { get bytes() { return read?.bytesOut ?? source.guardProgress.bytes; } },
  };
}

/** How long the exits of a failing restore's stages have to name the cause before the retrieve's guard's words do (checkedRead). */
const EXITS_NAME_MS = 2_000;

/**
 * A read of the blob unsealed in the retrieve's guard (`source`, see unseal.ts), checked:
 * resolves with its counts once the store exited 0 and they are the archive's (size;
 * SHA-256 unencrypted, every chunk's authentication and the last chunk encrypted).
 * Throws what `named` makes of an ArchiveMismatch (`refused`: a chunk failed
 * authentication, or the blob is cut short), or the store's own failure when that is the cause.
 * When it resolves, the guard was told to commit: to write what it held back and exit 0.
 */
async function checkedRead(run: Run, source: Stage, archive: ArchiveToRestore, named: (mismatch: ArchiveMismatch, refused: boolean) => PipelineFailed): Promise<Unsealed> {
  let read: Unsealed & { code: number };
  try {
    read = await source.unsealed;
  } catch (err) {
    // Reading or writing failed (a stage downstream died: EPIPE), or the guard exited
    // without a report: a stage that failed is named by its exit, the store's included.
    // The guard itself waits to be stopped, and a stage downstream that stopped reading
    // may linger or exit 0: past a moment, the guard's words fail the run, and it stops.
    if (!(err instanceof UnsealFailed) || !err.refused) {
      await Promise.race([run.upstreamSucceeded([source]), Bun.sleep(EXITS_NAME_MS)]);
      throw err instanceof UnsealFailed ? new PipelineFailed(err.message) : err;
    }
    // Refused at the end of the blob (it is short): a store that failed part way cut it
    // short, and then its exit is the cause, not the truncation.
    if (err.code !== undefined && err.code !== 0 && !stoppedByUs(source, err.code)) {
      throw Object.assign(new PipelineFailed(`${source.label} failed (exit ${err.code})`), { exitCode: err.code });
    }
    // Refused mid-stream, the store is still writing: named the cause before the run is stopped.
    const failure = named(new ArchiveMismatch(err.message), true);
    run.fail(failure);
    throw failure;
  }
  // A store that failed: its guard exits with its code, which names it.
  if (read.code !== 0) await run.upstreamSucceeded([source]);
  try {
    checkFetched(read, archive);
  } catch (err) {
    throw err instanceof ArchiveMismatch ? named(err, false) : err;
  }
  // The guard's commit: it writes what it held back, if anything, and exits 0.
  source.commit();
  return read;
}

/**
 * The restore proper, once the archive was verified: store `retrieve` → checksum
 * and decryption → decompression → target `restore`, checked again on the way.
 */
async function applyArchive(ctx: PipelineContext, sp: Store, tp: Target | undefined, target: Endpoint, archive: ArchiveToRestore, rate?: number): Promise<{ rawSize: number | null }> {
  if (target.agent) return applyOnAgent(ctx, sp, target, target.agent, archive, rate);
  const run = new Run(ctx);
  const unzip = decompressor(archive.compression);
  // The blob was verified a moment ago: a mismatch now means it changed since, and
  // the target has been fed part of it. Said so, whichever check caught it.
  const changed = (mismatch: ArchiveMismatch) => blobChanged(mismatch.message);
  // The retrieve's guard reads the blob and writes its plaintext (still compressed) into
  // a FIFO that the stage downstream reads: the decompressor, or the target itself. Each
  // chunk is authenticated before it goes on (encrypted); unencrypted, nothing checks a
  // chunk on its way, so the guard holds the blob's last MiB back until the daemon
  // compared the counts and the SHA-256 (its commit): a target need not wait for the end
  // of its input to apply what it got (pg_restore commits a whole custom-format dump
  // before it sees EOF), so a blob swapped for another whole archive between the passes
  // would otherwise be applied before the hash refused it; without its end, a dump is
  // never whole. Every stage downstream reads a held input: it sees its end only on the
  // daemon's commit, never because the daemon died mid-restore (see guard.ts); zstd, which
  // runs without a guard (a Tool, stage.ts), has its input held by the daemon itself.
  // zstd reports the exact size of its output, so it writes straight into the target
  // and the decompressed bytes (several times the archive) never cross the daemon.
  // gzip reports none: the daemon carries its output, counting it.
  const direct = archive.compression === "zstd";
  const raw = new ByteCounter();
  let zstdRaw: number | undefined;
  let read!: ReturnType<typeof unsealedCounts>;
  const work = new Flows();
  try {
    const targetInput = direct || !unzip ? run.fifo() : undefined;
    // A built-in target's restore runs inside its guard, on the held FIFO as the guard's fd 0
    // (plugin-host/in-process.ts): one Bun start fewer. That needs dup2 (libc.ts), here as there.
    const restoreCmd = tp!.restore();
    const sink = run.command("target restore", restoreCmd, {
      stdin: "held", heldFifo: targetInput?.path, stdout: false, inProcess: tp!.inProcess && guardCanDup2() ? restoreCmd.builtin : undefined,
    });
    targetInput?.handedOver();
    // zstd -d writes into the target; any other decompressor into the daemon.
    let zstd: Tool | undefined;
    let unzipping: Stage | undefined;
    // Where the retrieve's guard writes the plaintext: the decompressor's input, or the target's.
    const unsealed = unzip ? run.fifo() : targetInput!;
    if (unzip && direct) {
      zstd = run.tool(`${archive.compression} -d`, unzip, pluginEnv(), unsealed, targetInput!.fd, zstdSaid((bytes) => (zstdRaw = bytes)));
    } else if (unzip) {
      unzipping = run.stage(`${archive.compression} -d`, unzip, pluginEnv(), { stdin: "held", heldFifo: unsealed.path, stdout: true });
      unsealed.handedOver();
    }
    // The stage that reads the plaintext, on a held input.
    const first = zstd ?? unzipping ?? sink;
    // A decompressor of ours reads the plaintext with read(2): its pages may be lent (lend.ts).
    const source = run.retrieve("store retrieve", sp, archive.storeKey, unsealed.fd, { key: archive.dataKey, rate, lend: unzip !== undefined });
    read = unsealedCounts(source);
    // The commit of the stage that reads the plaintext: the store exited 0 and what was
    // read is the archive the catalog recorded; then the retrieve's guard writes what it
    // held back and exits 0.
    work.add(checkedRead(run, source, archive, changed).then(async (r) => {
      read.final(r);
      await run.upstreamSucceeded([source]);
      await first.endInput();
    }));
    // A guard reading a FIFO of ours reports when it has it open (a Tool's we opened ourselves).
    if (first instanceof Stage) {
      await first.inputPath();
      first.inputOpened();
    }
    if (zstd) {
      await sink.inputPath();
      sink.inputOpened();
      // The commit: zstd exited 0, so its input ended, so the archive was verified.
      const unzipped = [source, zstd];
      work.add(run.upstreamSucceeded(unzipped).then(() => sink.endInput()));
    } else if (unzipping) {
      const upstream = [source, unzipping];
      work.add(pump(unzipping.stdout.pipeThrough(raw.stream), sink, () => run.upstreamSucceeded(upstream)));
    }
  } catch (err) {
    return run.abandon(err, work);
  }
  run.releaseFifos();
  // The daemon sees neither the stored bytes nor (zstd, none) the raw ones: the retrieve's guard reports its counts.
  const { stored, plain } = read;
  const done = direct ? run.progress(`retrieved (compressed${archive.dataKey ? ", encrypted" : ""})`, stored, "restoring", { total: archive.size, estimate: false, counts: "stored" })
    : run.progress("restored", unzip ? raw : plain, "restoring", { total: archive.rawSize ?? null, estimate: false, counts: "raw" });
  try {
    await run.finish(work.all);
  } finally {
    done(direct && zstdRaw !== undefined ? { what: "restored", bytes: zstdRaw } : undefined);
  }
  if (direct && zstdRaw === undefined) ctx.log("zstd did not report the size of its output (an unknown zstd version?)");
  return { rawSize: direct ? (zstdRaw ?? null) : unzip ? raw.bytes : plain.bytes };
}

/**
 * The restore proper through an agent: decrypted and verified here (the data key never
 * goes to the agent for a restore, and the checksum is checked where the archive is
 * read); decompressed on the agent, so the link carries compressed bytes. The relay's
 * input is held: the agent's target sees the end of its input (the commit frame) only
 * after verification.
 */
async function applyOnAgent(ctx: PipelineContext, sp: Store, target: Endpoint, agent: AgentTarget, archive: ArchiveToRestore, rate?: number): Promise<{ rawSize: number | null }> {
  const run = new Run(ctx);
  // Counted; hashed only when unencrypted (readCheck says why).
  const fetched = readCheck(archive);
  const source = run.retrieve("store retrieve", sp, archive.storeKey, true);
  let stream = source.stdout.pipeThrough(fetched.stream);
  if (rate) stream = stream.pipeThrough(throttle(rate));
  // Refuse before the target sees the end of its input: an archive that fails its
  // checks (size; SHA-256 or every chunk's authentication) is never restored whole
  // (the target is killed).
  const verify = async () => {
    await run.upstreamSucceeded([source]);
    checkFetched(fetched, archive);
  };
  // Decrypted here, so that no byte that fails authentication reaches the agent.
  if (archive.dataKey) stream = stream.pipeThrough(decryptStream(archive.dataKey));
  // Unencrypted, the blob's last bytes wait for its SHA-256 (see applyArchive).
  else stream = stream.pipeThrough(holdTail(TAIL_HELD, verify));
  const work = new Flows();
  // The blob was verified a moment ago: a mismatch now means it changed since (see applyArchive).
  const changed = (flow: Promise<void>) => flow.catch((err) => {
    if (err instanceof ArchiveMismatch || (err as Error)?.name === "ArchiveDecryptError") {
      throw blobChanged((err as Error).message);
    }
    throw err;
  });
  try {
    decompressor(archive.compression); // an unknown compression fails here, before the agent is asked
    const sink = run.stage(`target restore (agent ${agent.address})`, relayArgv(), pluginEnv(), { stdin: "held", stdout: false });
    work.add(changed(pump(prefixed(restoreHeader(agent, target.plugin, target.endpoint, archive.compression as Compression), stream), sink, verify)));
  } catch (err) {
    return run.abandon(err, work);
  }
  const done = run.progress(`sent to agent ${agent.address} (compressed)`, fetched, "restoring", { total: archive.size, estimate: false, counts: "stored" });
  try {
    await run.finish(work.all);
  } finally {
    done();
  }
  return { rawSize: null };
}

export interface CopyResult {
  storeKey: string;
  size: number;
  sha256: string;
}

/**
 * Copies an archive's stored blob to another store, as it is (compressed,
 * encrypted: nothing is decrypted or re-encrypted, the target is not touched):
 * source store `retrieve` → the destination store's guard, which counts and hashes
 * what it reads (seal.ts with no key) → destination store `store`. The bytes go
 * process to process through a FIFO, never through the daemon, so memory stays
 * bounded whatever the size. The destination sees the end of its input (the
 * commit) only once the retrieve exited 0 and the guard's size and SHA-256 equal
 * the archive's: a blob that differs in flight is never stored.
 *
 * Then the destination is read back and hashed (verifyCopy) before the copy
 * counts. Why not trust the in-flight hash and the store's exit contract: a copy
 * exists to be there when the primary is gone, and a store whose write said yes
 * but whose read path gives something else (another bucket or prefix by a
 * misconfiguration, eventual consistency, a plugin bug) would otherwise be found
 * at the one moment it matters. The cost is one read of the compressed blob.
 */
export async function copy(ctx: PipelineContext, from: Endpoint, fromKey: string, to: Endpoint, expect: { size: number | null; sha256: string | null },
  opts: { onStored?: (key: string) => Promise<void>; partialId?: string; rate?: number } = {}): Promise<CopyResult> {
  requireTools([[fifoTool(), "a copy"]]);
  const [sp, dp] = await Promise.all([ctx.plugins.store(from), ctx.plugins.store(to)]);
  const run = new Run(ctx);
  const work = new Flows();
  let storeKey: string | undefined;
  let sealed: Sealed | undefined;
  let sink: Stage;
  let source: Stage;
  try {
    const input = run.fifo();
    const cmd = dp.store();
    sink = run.command("destination store", cmd, {
      stdin: "held", heldFifo: input.path, stdout: false, store: { purgeArgv: dp.purge().argv },
      env: opts.partialId ? partialEnv(opts.partialId) : undefined,
      seal: { key: null, builtin: dp.inProcess ? cmd.builtin : undefined, rate: opts.rate },
    });
    input.handedOver();
    source = run.retrieve("source store retrieve", sp, fromKey, input.fd);
    await sink.inputPath();
    sink.inputOpened();
  } catch (err) {
    return run.abandon(err, work);
  }
  run.releaseFifos();
  // The commit: the whole blob was read (the retrieve exited 0) and is the archive's.
  work.add(run.upstreamSucceeded([source]).then(async () => {
    const s = await sink.sealed;
    if (expect.size !== null && s.bytes !== expect.size) {
      throw new PipelineFailed(`the source blob is ${s.bytes} bytes but the archive recorded ${expect.size}: it is truncated or altered, so it was not copied`);
    }
    if (expect.sha256 && s.sha256 !== expect.sha256) {
      throw new PipelineFailed("the source blob's SHA-256 does not match the archive's: it is corrupted or altered, so it was not copied");
    }
    await sink.endInput();
  }));
  work.add(sink.sealed.then((s) => { sealed = s; }));
  work.add(Promise.race([sink.stored, sink.proc.exited.then(() => undefined)]).then(async (stored) => {
    if (!stored || stored.code !== 0) return;
    const key = parseStoreKey(stored.output);
    if (!key) {
      run.fail(new PipelineFailed(`destination store did not print a key: ${JSON.stringify(stored.output.slice(0, 200))}`));
      return;
    }
    if (!stored.complete) {
      sink.release(false);
      run.fail(new PipelineFailed("destination store exited 0 before the end of its input: what it stored is not the whole archive"));
      return;
    }
    try {
      await opts.onStored?.(key);
    } catch (err) {
      sink.release(false);
      run.fail(new PipelineFailed(`cannot record the destination's key: ${(err as Error).message}`));
      return;
    }
    storeKey = key;
    sink.release(true);
  }));
  const done = run.progress("copied", { get bytes() { return sink.guardProgress.bytes; } }, "storing", { total: expect.size, estimate: false, counts: "stored" });
  try {
    await run.finish(work.all);
  } catch (err) {
    const failure = err instanceof PipelineFailed ? err : new PipelineFailed((err as Error).message);
    failure.storeKey = storeKey;
    throw failure;
  } finally {
    done(sealed ? { what: "copied", bytes: sealed.bytes } : undefined);
  }
  if (!storeKey) throw new PipelineFailed("destination store exited without reporting a key");
  if (!sealed) throw Object.assign(new PipelineFailed("the destination store's guard did not report what it stored"), { storeKey });
  try {
    await verifyCopy(ctx, dp, storeKey, sealed);
  } catch (err) {
    throw Object.assign(err instanceof PipelineFailed ? err : new PipelineFailed((err as Error).message), { storeKey });
  }
  return { storeKey, size: sealed.bytes, sha256: sealed.sha256 };
}

/** Reads a copy back from its store and compares its size and SHA-256 with what was sent. */
async function verifyCopy(ctx: PipelineContext, dp: Store, key: string, sent: { bytes: number; sha256: string }): Promise<void> {
  const run = new Run(ctx);
  const fetched = new Digest();
  const source = run.retrieve("destination store retrieve (verify)", dp, key, true);
  const work = new Flows();
  work.add((async () => {
    for await (const _ of source.stdout.pipeThrough(fetched.stream)) { /* counted and hashed */ }
    await run.upstreamSucceeded([source]);
    if (fetched.bytes !== sent.bytes || fetched.sha256() !== sent.sha256) {
      throw new PipelineFailed(`the copy read back from the destination is not what was sent (${fetched.bytes} bytes, sha256 ${fetched.sha256()}; sent ${sent.bytes} bytes, sha256 ${sent.sha256})`);
    }
  })());
  await run.finish(work.all);
  ctx.log(`verified on the destination: ${fetched.bytes} bytes, sha256 ${fetched.sha256()}`);
}

/**
 * Runs a store's `purge` for a key. Purge is idempotent (see the Store contract),
 * so a passing failure is tried again (PURGE_RETRY), each try said on the log.
 */
export async function purge(ctx: PipelineContext, store: Endpoint, key: string): Promise<void> {
  const sp = await ctx.plugins.store(store);
  const retry = { ...PURGE_RETRY, onRetry: (err: unknown, _: number, waitMs: number) => ctx.log(`${(err as Error).message}; trying again in ${(waitMs / 1000).toFixed(1)} s`) };
  await withRetry(retry, async () => {
    const run = new Run(ctx);
    run.command("store purge", sp.purge(key), { stdin: false, stdout: false });
    await run.finish([]);
  }, ctx.signal);
}

/** Fails before any process starts when a program the pipeline runs is missing. */
function requireTools(needs: [string | undefined, string][]): void {
  for (const [name, purpose] of needs) {
    const why = name && toolMissing(name, purpose);
    if (why) throw new PipelineFailed(why);
  }
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/**
 * An archive as its raw stream (decrypted, decompressed), for a download. Verified
 * first as a restore is (verifyArchive: the whole blob read and checked, nothing
 * sent); then read again, checked on the way, and streamed. The decompressor sees
 * the end of its input only once that second read matched, so the stream ends
 * cleanly only then; any failure (a changed blob, a stage's exit) errors the stream
 * instead, so a client never takes a cut-short download for a whole one. Canceling
 * the stream (the client went away) kills every stage.
 */
export async function download(ctx: PipelineContext, store: Endpoint, archive: ArchiveToRestore): Promise<ReadableStream<Uint8Array>> {
  if (archive.cipher !== "none" && archive.cipher !== CIPHER) throw new PipelineFailed(`unknown cipher "${archive.cipher}"`);
  if (archive.cipher === CIPHER && !archive.dataKey) throw new PipelineFailed("the archive is encrypted but its key is missing");
  let unzip: string[] | undefined;
  try {
    unzip = decompressor(archive.compression);
  } catch (err) {
    throw new PipelineFailed((err as Error).message);
  }
  requireTools([[unzip?.[0], `downloading an archive with compression "${archive.compression}"`]]);
  const sp = await ctx.plugins.store(store);
  await verifyArchive(ctx, sp, archive);
  const run = new Run(ctx);
  // Counted; hashed only when unencrypted (readCheck says why).
  const fetched = readCheck(archive);
  const work = new Flows();
  let out: ReadableStream<Uint8Array>;
  try {
    const source = run.retrieve("store retrieve", sp, archive.storeKey, true);
    let stream = source.stdout.pipeThrough(fetched.stream);
    if (archive.dataKey) stream = stream.pipeThrough(decryptStream(archive.dataKey));
    const verify = async () => {
      await run.upstreamSucceeded([source]);
      checkFetched(fetched, archive);
    };
    if (unzip) {
      const z = run.stage(`${archive.compression} -d`, unzip, pluginEnv(), {
        stdin: "pipe", stdout: true, stderr: archive.compression === "zstd" ? (line) => zstdReport(line).keep : undefined,
      });
      work.add(pump(stream, z, verify));
      out = z.stdout;
    } else {
      // Uncompressed: the last chunk goes out only once the read was checked.
      out = stream.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: () => verify() }));
    }
  } catch (err) {
    return run.abandon(err, work);
  }
  const reader = out.getReader();
  const finished = run.finish(work.all);
  finished.catch(() => {}); // awaited at the end of the stream, or its failure errors the stream
  const done = run.progress("downloaded", fetched, "restoring", { total: archive.size, estimate: false, counts: "stored" });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: ended } = await reader.read();
        if (!ended) return controller.enqueue(value);
        await finished;
        done();
        controller.close();
      } catch (err) {
        run.fail(err instanceof PipelineFailed ? err : new PipelineFailed((err as Error).message));
        const cause = await finished.then(() => err, (e) => e);
        done({ what: "download failed after", bytes: fetched.bytes });
        controller.error(cause);
      }
    },
    async cancel() {
      run.fail(new Canceled("the client stopped reading the download"));
      await finished.catch(() => {});
      done({ what: "download stopped by the client after", bytes: fetched.bytes });
    },
  }, { highWaterMark: 0 });
}
