// One process of a pipeline: a Stage, run under `shield guard` (see guard.ts for
// why), or a Tool, run without one where its neighbours' guards give what a guard
// would (zstd between two guarded stages). Either is spawned in a session of its own
// (so that a cancel kills whatever it started too; a Stage dies with the daemon),
// its stderr turned into log lines, its exit awaited and checked by the caller.
import type { FileSink, Subprocess } from "bun";
import { closeSync, constants as C, openSync } from "node:fs";
import { constants } from "node:os";
import { guardCommand, type FromGuard, type ToGuard } from "./guard.ts";
import { exitedUnreaped } from "../process-state.ts";
import { readLines } from "./lines.ts";
import type { Sealed } from "./seal.ts";
import type { Unsealed } from "./unseal.ts";

export interface StageOptions {
  /** What the task log calls this stage: "target backup", "store", "zstd". */
  label: string;
  argv: string[];
  env?: Record<string, string | undefined>;
  /**
   * "pipe": a plain pipe from the daemon. "held": a FIFO whose end the stage sees
   * only after `endInput()` (an explicit commit), never because the daemon died.
   */
  stdin: "pipe" | "held" | "ignore";
  /**
   * With "held": a FIFO the caller made (alone in a directory of its own, which the
   * guard removes), so that the stage writing into it can start before the guard
   * has. The caller must keep it open until `inputPath()` resolves.
   */
  heldFifo?: string;
  /** A number: a file descriptor the stage writes to directly. */
  stdout: "pipe" | "ignore" | number;
  /** A store: its key comes through `stored`, and must be acknowledged with `release()`. */
  store?: { purgeArgv: string[] };
  /**
   * With a heldFifo: the guard reads that FIFO itself and seals what it reads
   * (encrypted with `key` when there is one, always counted and hashed) into the
   * stage's input; see seal.ts. The result comes through `sealed`. `builtin`:
   * the stage is a built-in store (its Command's reference), which the guard runs
   * in its own process (plugin-host/in-process.ts) rather than spawning argv.
   */
  /** `check`: with `key` null, the data key the input was sealed with upstream (an agent's): the guard authenticates it as it passes. */
  seal?: { key: Uint8Array | null; check?: Uint8Array | null; builtin?: { name: string; args: string[] }; rate?: number };
  /**
   * A built-in's action (its Command's reference) that the guard runs in its own process
   * rather than spawning argv (plugin-host/in-process.ts): a source's (a target's backup,
   * a store's retrieve; no input) on the stdout given here, or a sink's (a target's
   * restore) on its held input. With `unseal`, the retrieve of a store whose blobs are
   * local files, which hands the guard the blob's file.
   */
  inProcess?: { name: string; args: string[] };
  /**
   * A store's retrieve: its guard reads what it writes and unseals it (counted, hashed
   * when `key` is null, else decrypted and authenticated chunk by chunk) into the
   * stdout given here, or nowhere (`discard`: the verify pass); see unseal.ts. The
   * result comes through `unsealed`; an unencrypted archive's last bytes go on only
   * after `commit()`. `lend`: that stdout is read by a decompressor of ours (lend.ts).
   */
  unseal?: { key: Uint8Array | null; rate?: number; discard?: boolean; lend?: boolean };
  /**
   * With seal.builtin and store: the backup's source, a built-in target's backup whose
   * output is its tools' (Target.backupByTool), run by the same guard beside the store
   * (guard.ts, --with-source), its tools writing into the FIFO `output` (the caller holds
   * it open until `inputPath()` resolves). The guard's process gets the source's `env`
   * (its tools inherit it); the store's (`env` above) goes by message. To the run it is a
   * stage of its own: `source`, named `label`, its exit reported by the guard; its stderr
   * is the guard's, the store's words come by message. `compress`: the guard compresses
   * the tools' output itself into `output` (compress-beside.ts; sourceRawBytes).
   */
  source?: { label: string; builtin: { name: string; args: string[] }; env: Record<string, string | undefined>; output: string; compress?: "zstd" };
  /** Called with each stderr line of the process. */
  onStderr: (label: string, line: string) => void;
}

/**
 * --unseal: the blob was refused (`refused`: it fails authentication; `code`: the store's
 * exit, when that came at the end of its output), or reading or writing it failed.
 */
export class UnsealFailed extends Error {
  constructor(message: string, readonly refused: boolean, readonly code?: number) {
    super(message);
    this.name = "UnsealFailed";
  }
}

/** A store's exit and output; `complete`: it had seen the end of its input (see guard.ts). */
export interface StoreOutcome { code: number; output: string; complete: boolean }

export class Stage implements StageProcess {
  readonly label: string;
  readonly proc: Subprocess<"pipe" | "ignore", "pipe" | "ignore" | number, "pipe">;
  private readonly stderrDone: Promise<void>;
  private readonly held: boolean;
  private fifo: Promise<string>;
  private gotFifo!: (path: string) => void;
  private gotStored!: (o: StoreOutcome) => void;
  /** --store: the store's exit and output, once it has exited (before the guard does). */
  readonly stored: Promise<StoreOutcome>;
  private sink: Promise<FileSink> | undefined;
  private fd: number | undefined;
  /** --seal: counts and SHA-256 once the guard's input ended and all of it went into the stage. */
  readonly sealed: Promise<Sealed>;
  private gotSealed!: (s: Sealed) => void;
  private sealFailed!: (err: Error) => void;
  /** --unseal: the store's exit code and the counts, once it exited and its output was read. */
  readonly unsealed: Promise<Unsealed & { code: number }>;
  private gotUnsealed!: (u: Unsealed & { code: number }) => void;
  private unsealFailed!: (err: Error) => void;
  /** --seal, --unseal: bytes the guard read and wrote so far (updated every second or so). */
  readonly guardProgress = { bytesIn: 0, bytes: 0 };
  /** With opts.source: the backup its guard runs beside the store, as a process of the run. */
  readonly source: StageProcess | undefined;
  private sourceExited!: (code: number) => void;
  /** With opts.source.compress: the size of the backup before its guard compressed it, once it ended (undefined: unknown). */
  sourceRawBytes: number | undefined;

  constructor(opts: StageOptions) {
    this.label = opts.label;
    this.held = opts.stdin === "held";
    this.fifo = new Promise((r) => (this.gotFifo = r));
    this.stored = new Promise((r) => (this.gotStored = r));
    this.sealed = new Promise((resolve, reject) => { this.gotSealed = resolve; this.sealFailed = reject; });
    this.sealed.catch(() => {}); // awaited by the caller when it seals; never an unhandled rejection
    this.unsealed = new Promise((resolve, reject) => { this.gotUnsealed = resolve; this.unsealFailed = reject; });
    this.unsealed.catch(() => {}); // the same
    if (opts.seal && !opts.heldFifo) throw new Error(`${opts.label}: sealing needs a FIFO made by the daemon`);
    if (opts.unseal && (opts.seal || opts.store || opts.stdin !== "ignore")) throw new Error(`${opts.label}: only a store's retrieve (no input) is unsealed in its guard`);
    if (opts.inProcess && (opts.seal || opts.store || opts.stdin === "pipe")) throw new Error(`${opts.label}: only a stage with no input or a held one runs a built-in's action in its guard`);
    if (opts.source && !(opts.seal?.builtin && opts.store)) throw new Error(`${opts.label}: only a built-in store that seals runs a backup beside it`);
    const flags = [
      ...(this.held ? (opts.heldFifo ? ["--held-fifo", opts.heldFifo] : ["--held-input"]) : []),
      ...(opts.seal ? ["--seal"] : []),
      ...(opts.seal?.builtin ? ["--in-process", opts.seal.builtin.name] : []),
      ...(opts.inProcess ? ["--in-process", opts.inProcess.name] : []),
      ...(opts.store ? ["--store"] : []),
      ...(opts.unseal ? ["--unseal"] : []),
      ...(opts.source ? ["--with-source"] : []),
    ];
    const reported = new Promise<number>((r) => (this.sourceExited = r));
    this.source = opts.source ? new SourceInGuard(opts.source.label, this, reported) : undefined;
    try {
      // In process, what follows "--" is the built-in's action and its arguments.
      const argv = opts.seal?.builtin ? opts.seal.builtin.args : opts.inProcess ? opts.inProcess.args : opts.argv;
      this.proc = Bun.spawn([...guardCommand(), ...flags, "--", ...argv], {
        stdin: opts.stdin === "pipe" ? "pipe" : "ignore",
        // A store's output comes by message (after the guard read it), not by pipe.
        stdout: opts.store ? "ignore" : opts.stdout, stderr: "pipe",
        env: (opts.source?.env ?? opts.env) as Record<string, string>,
        // A session of its own: the whole group can be signalled, and the child never reads our terminal.
        detached: true,
        serialization: "json",
        ipc: (m: FromGuard) => {
          if ("fifo" in m) this.gotFifo(m.fifo);
          else if ("stored" in m) this.gotStored(m.stored);
          else if ("progress" in m) Object.assign(this.guardProgress, m.progress);
          else if ("sealed" in m) this.gotSealed(m.sealed);
          else if ("sealFailed" in m) this.sealFailed(new Error(`${this.label}: sealing the stream failed: ${m.sealFailed}`));
          else if ("unsealed" in m) this.gotUnsealed(m.unsealed);
          else if ("sourceExited" in m) {
            this.sourceRawBytes = m.rawBytes;
            this.sourceExited(m.sourceExited);
          }
          else if ("said" in m) opts.onStderr(this.label, m.said);
          else if ("unsealFailed" in m) {
            // A refusal is said in the archive's words (the caller names it); a read or write that failed, by this stage's.
            const { message, refused, code } = m.unsealFailed;
            this.unsealFailed(new UnsealFailed(refused ? message : `${this.label}: unsealing the stream failed: ${message}`, refused, code));
          }
        },
      });
    } catch (err) {
      throw new Error(`cannot start ${opts.label} (${opts.argv[0]}): ${(err as Error).message}`);
    }
    if (opts.store) this.send({ purge: opts.store.purgeArgv });
    // Over the IPC channel: a key never appears in a process's arguments or environment.
    if (opts.seal) {
      const check = base64(opts.seal.check);
      // The store's environment (its endpoint) by message: the guard's own is its source's.
      const beside = opts.source ? { env: opts.env as Record<string, string>, source: { ...opts.source.builtin, output: opts.source.output, compress: opts.source.compress } } : {};
      this.send({ seal: { key: base64(opts.seal.key), ...(check ? { check } : {}), rate: opts.seal.rate, ...beside } });
    }
    if (opts.unseal) this.send({ unseal: { key: base64(opts.unseal.key), rate: opts.unseal.rate, discard: opts.unseal.discard, lend: opts.unseal.lend } });
    // Running a source beside the store, the guard's stderr is the source's (its tools').
    const stderrLabel = opts.source?.label ?? this.label;
    this.stderrDone = readLines(this.proc.stderr, (line) => opts.onStderr(stderrLabel, line));
    // Whatever happens, the FIFO's write end is closed once the stage is gone.
    void this.proc.exited.then(() => {
      this.sealFailed(new Error(`${this.label} exited before its input was sealed`));
      this.unsealFailed(new UnsealFailed(`${this.label} exited before its output was unsealed`, false));
      return this.closeInput();
    });
  }

  private send(m: ToGuard): void {
    try {
      this.proc.send(m);
    } catch {
      // The guard has exited: its exit code tells the caller what happened.
    }
  }

  get stdout(): ReadableStream<Uint8Array> {
    return this.proc.stdout as ReadableStream<Uint8Array>;
  }

  /** A held input's FIFO, for another stage to write into (then `inputOpened`, and `endInput` to commit). */
  async inputPath(): Promise<string> {
    const path = await Promise.race([this.fifo, this.proc.exited.then(() => undefined)]);
    if (path === undefined) throw new Error(`${this.label} exited before it took its input`);
    return path;
  }

  /** The FIFO is open on the writing side: its name can go. */
  inputOpened(): void {
    this.send({ opened: true });
  }

  /** Where to write the stage's input. For a held input, once the guard made its FIFO. */
  input(): Promise<FileSink> {
    if (!this.held) return Promise.resolve(this.proc.stdin as FileSink);
    return (this.sink ??= (async () => {
      const path = await this.inputPath();
      // Non-blocking: opening a FIFO whose reader is gone fails (ENXIO) instead of hanging the daemon.
      this.fd = openSync(path, C.O_WRONLY | C.O_NONBLOCK);
      this.send({ opened: true });
      return Bun.file(this.fd).writer();
    })());
  }

  /** Ends the stage's input: for a held input, closes our end and sends the commit. */
  async endInput(): Promise<void> {
    if (!this.held) {
      await (this.proc.stdin as FileSink).end();
      return;
    }
    await this.closeInput();
    this.send({ commit: true });
  }

  private closing: Promise<void> | undefined;
  private closeInput(): Promise<void> {
    if (!this.sink) return Promise.resolve();
    return (this.closing ??= (async () => {
      try {
        await (await this.sink!).end();
      } catch {
        // A broken pipe: the stage is gone. Its exit says why.
      }
      // The FileSink does not own an fd it was given; closed only after it ended, so
      // that no pending write can land in whatever reuses the number.
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
    })());
  }

  /**
   * --unseal: what was read is the archive the catalog recorded, and the store exited 0:
   * the guard writes what it held back (an unencrypted archive's tail) and exits.
   */
  commit(): void {
    this.send({ commit: true });
  }

  /** --store: tells the guard whether the key is recorded (true) or its blob must go (false). */
  release(keep: boolean): void {
    this.send({ ack: keep });
  }

  exited(): Promise<number> {
    return exitCode(this.proc, this.stderrDone);
  }

  kill(): void {
    this.killed ||= stopGroup(this.proc);
  }
  killed = false;
}

/**
 * The source a store's guard runs beside the store (StageOptions.source): a stage of the run
 * of its own, in the guard's process and group. Its exit is the guard's report, or, should the
 * guard end without one (killed, or failed before the backup ended), the guard's own exit.
 * Stopping it stops the guard's whole group, the store with it: only a failure of the run does.
 */
class SourceInGuard implements StageProcess {
  constructor(readonly label: string, private readonly guard: Stage, private readonly reported: Promise<number>) {}

  exited(): Promise<number> {
    return Promise.race([this.reported, this.guard.exited()]);
  }

  kill(): void {
    this.guard.kill();
  }

  get killed(): boolean {
    return this.guard.killed;
  }
}

/**
 * A tool run without a guard of its own: zstd between two guarded stages of a backup (the
 * target's and the store's) or of a restore (the retrieve's and the target's). It reads a
 * FIFO the daemon made (`stdin`: a read end the daemon opened) and writes into another
 * (`stdout`). What a guard would add, the daemon and the neighbours give: the daemon holds
 * a write end of its input until `endInput` (once the stage upstream exited 0), so it
 * never takes a stage upstream that died for the end of its stream; should the daemon die,
 * that end closes, but the guards on either side kill their groups, and what it makes of
 * the cut stream goes no further than a held input downstream, which ends only on the
 * daemon's commit. It then meets a broken pipe, or the end of its input, and exits. A guard
 * is a Bun start: ~10 ms of CPU per backup and per restore (bench/DATAPATH.md, "Eleventh
 * session").
 */
export class Tool implements StageProcess {
  readonly label: string;
  readonly proc: Subprocess<number, number, "pipe">;
  private readonly stderrDone: Promise<void>;
  killed = false;

  /** Ends its input: the daemon lets go of the write end it held (see above). */
  readonly endInput: () => void;

  constructor(opts: {
    label: string; argv: string[]; env?: Record<string, string | undefined>; stdin: number; stdout: number;
    onStderr: StageOptions["onStderr"]; endInput: () => void;
  }) {
    this.label = opts.label;
    this.endInput = opts.endInput;
    try {
      // A session of its own, as a guard's: a cancel signals its group, and it never reads our terminal.
      this.proc = Bun.spawn(opts.argv, { stdin: opts.stdin, stdout: opts.stdout, stderr: "pipe", env: opts.env as Record<string, string>, detached: true });
    } catch (err) {
      throw new Error(`cannot start ${opts.label} (${opts.argv[0]}): ${(err as Error).message}`);
    }
    this.stderrDone = readLines(this.proc.stderr, (line) => opts.onStderr(this.label, line));
  }

  exited(): Promise<number> {
    return exitCode(this.proc, this.stderrDone);
  }

  kill(): void {
    this.killed ||= stopGroup(this.proc);
  }
}

/** What a run needs of each of its processes: a Stage (under a guard) or a Tool (without). */
export interface StageProcess {
  /** What the task log calls it: "target backup", "store", "zstd". */
  readonly label: string;
  /** The exit code once the process and its stderr are done (signals count as failure). */
  exited(): Promise<number>;
  /**
   * Stops the process and everything in its group: SIGTERM first, so that a
   * store can remove its temporary file, then SIGKILL for whatever is left.
   * Safe to call more than once or after exit.
   */
  kill(): void;
  /** True once we signalled it: its non-zero exit then follows from another stage's failure. */
  readonly killed: boolean;
}

/** What exitCode and stopGroup look at of a process. */
type Spawned = Pick<Subprocess, "exited" | "exitCode" | "signalCode" | "pid">;

async function exitCode(proc: Spawned, stderrDone: Promise<void>): Promise<number> {
  const code = await proc.exited;
  await stderrDone;
  const signal = proc.signalCode;
  return signal ? 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0) : code;
}

/**
 * StageProcess.kill: whether its exit now follows from our signal. False when it had
 * exited already: reaped, nothing is left to stop; not yet reaped, its group is signalled
 * all the same, but its exit is its own (a stage killed from outside must be named as the
 * cause, not taken for one we stopped because its neighbour failed first).
 */
function stopGroup(proc: Spawned): boolean {
  // Its group may hold a reused pid once it has been reaped.
  if (proc.exitCode !== null || proc.signalCode) return false;
  const exitedAlready = exitedUnreaped(proc.pid);
  signalGroup(proc.pid, "SIGTERM");
  const timer = setTimeout(() => signalGroup(proc.pid, "SIGKILL"), KILL_GRACE_MS);
  // The group may outlive its leader (a plugin's children): always follow up.
  timer.unref?.();
  return !exitedAlready;
}

// Cancel must stop a pipeline within a second; half of it is the grace period.
const KILL_GRACE_MS = 500;

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone: the group is empty.
  }
}

/** A key as the guard's messages carry it; null for none. */
function base64(key: Uint8Array | null | undefined): string | null {
  return key ? Buffer.from(key).toString("base64") : null;
}
