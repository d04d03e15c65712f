// `shield guard [--held-input | --held-fifo PATH [--seal [--in-process NAME [--with-source]]]] [--store] [--] ARGV...`,
// `shield guard [--held-input | --held-fifo PATH] --in-process NAME [--] ACTION [ARGS...]`,
// `shield guard --unseal [--in-process NAME] [--] ARGV...`:
// the small process every stage of a pipeline runs under (internal: the daemon
// starts it, never a human), but zstd between two guarded stages, which their
// guards cover (stage.ts, Tool).
//
// Why it exists: the daemon can die at any moment (kill -9, OOM, a crash), and
// then every pipe it held closes. To a store, a closed stdin looks exactly like
// the clean end of a complete archive, so it would commit a blob under a key
// that nobody records: an orphan. And a target that is not writing (pg_dump
// waiting on a lock) would live on. The guard holds a lifeline to the daemon
// (its IPC channel, which the kernel closes when the daemon dies) and:
// - runs ARGV in its own process group (the daemon started the guard in a new
//   session), with the guard's stdin/stdout/stderr handed over as they are: the
//   data never passes through the guard (but see --seal and --unseal);
// - when the lifeline closes, kills the whole group with SIGKILL (itself
//   included), so no stage outlives the daemon, whatever it was doing: a stage
//   that has not seen the end of its input must never take the daemon's death
//   for it, and one that has (committed) finishes work nobody will record. The
//   one exception is a committed store, given a moment to finish (see Phase):
//   killed while it names its blob, it could leave the blob under a key nobody
//   knows. The pipeline must be gone within seconds of the daemon (issue 11);
// - with --held-input, gives ARGV a FIFO as stdin instead and keeps a write end
//   of it open itself. The daemon writes the data into the FIFO; the stage sees
//   the end of its input only once the daemon has closed its end AND sent
//   "commit" (after every stage upstream exited 0 and the stream was verified).
//   Without a commit the stage is killed while its input is still open, so it
//   can never mistake the daemon's death for a complete stream. With
//   --held-fifo PATH the daemon made the FIFO (alone in a directory of its own,
//   removed like ours), so that the stage writing into it can start at once;
//   the guard opens it the same way;
// - with --store, reads the store's output (its key), reports it, and waits for
//   the daemon to acknowledge that the key is recorded in the catalog (where
//   recovery will find it). Should the lifeline close in between, the guard
//   purges that blob itself with the `purge` invocation the daemon sent (within
//   a bound: nobody waits for it). What a store killed before it exited left
//   (a partial blob) is the daemon's recovery to purge (see SHIELD_PARTIAL_ID in
//   plugins/protocol.ts);
// - with --seal (and --held-fifo), the data does pass through the guard: it
//   reads the daemon's FIFO itself (the stage upstream writes into it
//   directly), encrypts it with the data key the daemon sends, counts and
//   hashes it (seal.ts), and writes it into a FIFO of its own that is the
//   stage's stdin. That FIFO is held like any other: the stage sees its end
//   only after the guard has written the last sealed byte AND the daemon said
//   "commit". The guard reports the counts and the SHA-256 when its input ends.
//   With --in-process NAME, ARGV is the action of this binary's built-in store
//   NAME (`store`, what follows `plugin NAME`): the guard runs that store itself
//   and hands it the sealed stream in memory instead (plugin-host/in-process.ts);
//   every rule above holds the same;
// - with --with-source as well, the guard also runs the backup's source: a built-in
//   target's backup whose output is its tools' (pg_dump, mariadb-dump), named by the daemon in
//   the `seal` message with the store's environment (the guard's own is the target's,
//   which its tools inherit: the store's endpoint never reaches them) and the FIFO its
//   tools write into (zstd's input, or our own input uncompressed). The guard opens that
//   FIFO itself and hands its tools that fd, never its fd 1: the store's code may touch
//   fd 1 (an SDK making it non-blocking made pg_dump fail with EAGAIN). The group, the
//   lifeline and a cancel reach the tools as they reach a spawned stage. When the backup
//   ends, the guard closes its end (so that the reader sees the end of the stream) and
//   reports its exit code (`sourceExited`); the daemon treats it as a stage of its own.
//   Its words keep fd 2, the daemon's pipe for the target; the store's and ours go by
//   message (`said`). Should the store end first, the backup is stopped. One Bun start
//   fewer per backup (bench/DATAPATH.md, "Thirteenth session"). With `compress` in that
//   message, the guard compresses the tools' output itself into that FIFO (the store's own
//   input then), in this process for a small backup and through a zstd of its own past that
//   (compress-beside.ts): no zstd process at all for a small database. Its report then
//   carries the raw size;
// - with --in-process NAME alone (no held input, no --seal, no --store, no --unseal), ARGV is
//   a source action of this binary's built-in plugin NAME (a target's `backup`, a
//   store's `retrieve`): the guard runs it itself, on its own stdin, stdout and
//   stderr, rather than spawning `shield plugin NAME ACTION` (plugin-host/in-process.ts).
//   The tools it starts (pg_dump) are in the guard's group, so the lifeline and a
//   cancel reach them as they reach a spawned stage; its exit code is the stage's;
// - with --in-process NAME and a held input (--held-input or --held-fifo, no --seal,
//   no --store), ARGV is a sink action of the built-in NAME (a target's `restore`):
//   the guard makes the held FIFO its own fd 0 (dup2) and runs the action on it, so
//   a tool it hands fd 0 to (pg_restore) reads the FIFO itself. The hold is as for
//   a spawned stage: the input ends only on the daemon's commit; a cancel stops the
//   action's tools before the guard exits (plugins/protocol.ts), and the lifeline
//   kills the group;
// - with --unseal, ARGV is a store's `retrieve`, and the data does pass through the
//   guard. Either the retrieve is a process of its own that writes into a FIFO of the
//   guard's own, or (--in-process NAME) it is the retrieve of a built-in store whose
//   blobs are local files (fs), which the guard runs itself and which hands the blob's
//   file over (in-process.ts, inProcessRetrieve; every other store's is a process of its
//   own: see inProcessRetrieval below). The guard reads it, counts it, hashes it when the archive is
//   unencrypted, decrypts it with the data key the daemon sends, authenticating each
//   chunk before it goes on (unseal.ts), and writes the plaintext (still compressed) into its own stdout: a
//   FIFO made by the daemon that the stage downstream reads (zstd -d, gzip -d, the
//   target), whose input is held until the daemon's commit (by its own guard, or, zstd
//   -d's, which runs without one, by the daemon itself: stage.ts, Tool). Nothing
//   is written for the verify pass (`discard`). Once the store exited and its output
//   ended, the guard reports the store's exit code and the counts (`unsealed`). An
//   unencrypted archive's last bytes are held back until the daemon compared them
//   with the catalog and sent "commit": only then are they written and the guard
//   exits 0 (with nothing held back, it waits for that commit all the same: its exit
//   must not reach the daemon before its report). A blob refused (or a failure to read
//   or write) is reported (`unsealFailed`), nothing more of it is written (what went
//   before was authenticated chunk by chunk, or is short of the held tail), and the
//   guard waits to be stopped.
//   Should the lifeline close before the end, the group is killed, the held tail is
//   never written, and the target, whose own guard dies too, never sees the end of its
//   input (zstd -d may see the cut end of its own, with the daemon's hold gone, but what
//   it makes of it goes no further than the target's held input).
//
// The messages (JSON over the IPC channel) are the types below.
import { closeSync, constants as C, open, openSync, rmSync } from "node:fs";
import { constants as os } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { makeFifo, widenPipe } from "./fifo.ts";
import type { BesideCompression } from "./compress-beside.ts";
import { capturedOutput, inProcessAction, inProcessBackupBesideStore, inProcessRetrieve, inProcessStore, type InProcessAction, type InProcessStore } from "../plugin-host/in-process.ts";
import type { BlobFile } from "../../plugins/protocol.ts";
import type { Sealed, StreamWriter } from "./seal.ts";
import type { Unsealed } from "./unseal.ts";
import { libc } from "../libc.ts";

/** daemon → guard */
export type ToGuard =
  | { purge: string[] } // --store: how to purge a key (argv without --key), sent before commit
  | { opened: true } // --held-input: the daemon has opened the FIFO; its name can go
  | { commit: true } // end the held input: the stage may now see the end of its stream (--unseal: write the held tail, then exit)
  // --seal: the archive's data key (base64), null for none, and a bandwidth limit (bytes/s); sent first.
  // With --with-source, also the store's environment and the source to run beside it (a built-in's backup),
  // and compress: "zstd" when the guard compresses its output itself (compress-beside.ts) before `output`.
  // check: with key null, the input is sealed already (on an agent) with this data key (base64):
  // every chunk is authenticated as it passes (seal.ts).
  | { seal: { key: string | null; check?: string; rate?: number; env?: Record<string, string>; source?: BesideSource } }
  | { ack: boolean } // --store: true = the key is recorded; false = purge the blob
  // --unseal: the archive's data key (base64), null for none; a bandwidth limit (bytes/s);
  // discard: pass nothing on (the verify pass); lend: the stage downstream is a decompressor of
  // ours, which copies what it reads (lend.ts). Sent first: the store starts once it is here.
  | { unseal: { key: string | null; rate?: number; discard?: boolean; lend?: boolean } };

/** --unseal: the daemon's word on how (see ToGuard). */
interface UnsealSettings { key: Uint8Array | null; rate: number; discard: boolean; lend: boolean }

/** --with-source: the backup a store's guard runs beside the store, and where its output goes. */
export interface BesideSource { name: string; args: string[]; output: string; compress?: "zstd" }

/** guard → daemon */
export type FromGuard =
  | { fifo: string } // --held-input: open this FIFO for writing (O_WRONLY|O_NONBLOCK)
  // --store: the store exited; its stdout; complete: it had seen the end of its input (a
  // store that exits 0 before that has no whole archive, whatever it printed)
  | { stored: { code: number; output: string; complete: boolean } }
  | { progress: { bytesIn: number; bytes: number } } // --seal, --unseal: bytes read and written so far, every second or so
  | { sealed: Sealed } // --seal: the input ended and every byte of it is written, sealed, into the stage's input
  | { sealFailed: string } // --seal: reading, sealing or writing failed; the stage's input stays open
  // --unseal: the store exited (its code) and its output ended, every byte of it read and
  // (but an unencrypted archive's held tail) passed on; the counts and the SHA-256 (unencrypted)
  | { unsealed: Unsealed & { code: number } }
  // --unseal: the blob was refused (refused: its chunks fail authentication; then code: the
  // store's exit, when the refusal came at the end of its output), or reading or writing
  // failed; nothing more of it is passed on, and the guard waits to be stopped
  | { unsealFailed: { message: string; refused: boolean; code?: number } }
  // --with-source: the backup ended (its tools exited) with this code, and was compressed (rawBytes:
  // its size before, with compress); our end of its way out is closed
  | { sourceExited: number; rawBytes?: number }
  | { said: string }; // --with-source: a line of the store's (or the guard's own) for the task log; fd 2 is the target's

/** How the daemon starts `shield guard`: the compiled binary runs itself; from source, this file. */
export function guardCommand(): string[] {
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main === process.execPath;
  return compiled ? [process.execPath, "guard"] : [process.execPath, resolve(import.meta.dir, "guard.ts")];
}

/** The key a store printed (`{"key": "..."}`), or undefined. */
export function parseStoreKey(output: string): string | undefined {
  try {
    const key = JSON.parse(output)?.key;
    return typeof key === "string" && key ? key : undefined;
  } catch {
    return undefined;
  }
}

// A store prints one short JSON line; a runaway one must not fill the guard's memory.
const MAX_OUTPUT = 64 * 1024;
// A purge the daemon asked for (ack false) may take its time; one after the daemon
// died has nobody waiting for it, and the pipeline must be gone within 5 s of the
// daemon: what it fails to remove, the daemon's recovery purges (the key is recorded).
const PURGE_TIMEOUT_MS = 60_000;
const LOST_PURGE_TIMEOUT_MS = 2_500;
// A committed store whose daemon died: long enough for a store to finish a small
// blob (then its key is purged, nothing is left), short enough that the store, the
// purge and all are gone within 5 s.
const COMMITTED_STORE_GRACE_MS = 1_500;
// A built-in store that stopped reading its input: how long its own exit (which names the
// cause) may take before the sealing failure is reported instead.
const STORE_FAILING_MS = 2_000;
// --with-source, the store ended first: how long the backup beside it may take to stop
// (its tools signalled) before the guard exits all the same (the daemon kills the group).
const SOURCE_STOP_MS = 2_000;
/** How long a stage that failed waits for our own signal's handler, had a cancel stopped it (stoppedOr). */
const SIGNAL_SETTLE_MS = 20;

/**
 * Where a guard is, which decides what the daemon's death (the lifeline closing) means:
 * - starting: opening FIFOs; the stage has not started. Lost: exit (nothing to kill but us).
 * - running: the stage runs and has not seen the end of its input on the daemon's
 *   word (or has none held). Lost: kill the group at once.
 * - committed: the daemon said commit: the stage finishes a stream judged complete.
 *   Lost: nobody will record what it makes, so kill the group at once; a store gets
 *   COMMITTED_STORE_GRACE_MS first (see the top of this file), then is killed too.
 * - exited: the stage is gone; a store's key may await the daemon's ack. Lost: a key
 *   not acknowledged is purged (within LOST_PURGE_TIMEOUT_MS), then the guard exits.
 */
type Phase = "starting" | "running" | "committed" | "exited";

/** Where say() goes instead of fd 2: with --with-source, fd 2 is the target's. */
let sayVia: ((line: string) => void) | undefined;

function say(line: string): void {
  if (sayVia) return sayVia(`guard: ${line}`);
  try { process.stderr.write(`guard: ${line}\n`); } catch { /* the daemon is gone */ }
}

/**
 * --with-source: the backup run beside the store, once started: when it ended, and what stops it.
 * Whichever way the guard ends, it is stopped first (runGuard), should the store have gone first
 * or the guard have failed before the store started: its tools must not outlive the guard.
 */
let besideSource: { ended: Promise<void>; stop: AbortController } | undefined;

export async function runGuard(args: string[]): Promise<number> {
  try {
    return await guard(args);
  } finally {
    if (besideSource) {
      besideSource.stop.abort();
      await Promise.race([besideSource.ended, Bun.sleep(SOURCE_STOP_MS)]);
    }
  }
}

async function guard(args: string[]): Promise<number> {
  // "--" is optional: `bun guard.ts -- CMD` (from source) does not pass it on.
  let i = 0;
  // --held-fifo PATH: a held input whose FIFO (alone in a directory of its own) the daemon made.
  let madeFifo: string | undefined;
  // --in-process NAME: the built-in store NAME, run in this process.
  let builtin: string | undefined;
  while (["--held-input", "--store", "--held-fifo", "--seal", "--in-process", "--unseal", "--with-source"].includes(args[i]!)) {
    if (args[i] === "--held-fifo") madeFifo = args[++i];
    else if (args[i] === "--in-process") builtin = args[++i];
    i++;
  }
  const flags = args.slice(0, i);
  const argv = args.slice(args[i] === "--" ? i + 1 : i);
  if (madeFifo !== undefined && !isAbsolute(madeFifo)) {
    say("--held-fifo needs the absolute path of a FIFO");
    return 1;
  }
  if (!argv.length) {
    say("usage: shield guard [--held-input | --held-fifo PATH [--seal [--in-process NAME]]] [--store] [--] COMMAND [ARGS...], shield guard --in-process NAME [--] ACTION, shield guard --unseal [--in-process NAME] [--] RETRIEVE... (internal: run by the daemon)");
    return 1;
  }
  const sealing = flags.includes("--seal");
  if (sealing && madeFifo === undefined) {
    say("--seal needs --held-fifo: the stage upstream writes into the daemon's FIFO");
    return 1;
  }
  if (!process.send || !process.connected) {
    if (madeFifo) rmSync(dirname(madeFifo), { recursive: true, force: true });
    say("shield guard is internal: the daemon runs each stage of a pipeline under it");
    return 1;
  }
  const held = flags.includes("--held-input") || madeFifo !== undefined;
  const store = flags.includes("--store");
  const unsealing = flags.includes("--unseal");
  if (unsealing && (held || sealing || store)) {
    if (madeFifo) rmSync(dirname(madeFifo), { recursive: true, force: true });
    say("--unseal is for a store's retrieve alone: no held input, no --seal, no --store");
    return 1;
  }
  const send = (m: FromGuard) => { try { process.send!(m); } catch { /* lifeline gone: handled below */ } };
  const withSource = flags.includes("--with-source");
  // --with-source: fd 2 is the target's; the store's lines and ours go to the task log by message.
  const said = withSource ? (line: string) => send({ said: line }) : undefined;
  if (withSource) {
    if (!sealing || !store || builtin === undefined) {
      if (madeFifo) rmSync(dirname(madeFifo), { recursive: true, force: true });
      say("--with-source is for the guard of a built-in store that seals: --held-fifo, --seal, --in-process NAME, --store");
      return 1;
    }
    sayVia = said;
  }

  let phase: Phase = "starting";
  let lost = false;
  let onLost!: () => void;
  const lifelineLost = new Promise<void>((r) => (onLost = r));
  process.on("disconnect", () => {
    lost = true;
    onLost();
    // Unsealing, the stage downstream must never see the end of what we wrote: whatever we are at, the group goes.
    if (unsealing && phase !== "starting") killGroup();
    // Starting, the flow below sees `lost` at its next step (a blocking open is raced with it).
    // The backup beside the store starts before the store does: its tools go at once too.
    if (phase === "running" || (phase === "starting" && besideSource)) killGroup();
    else if (phase === "committed") {
      if (!store) killGroup();
      // The group goes unless the store exited meanwhile (then its key is purged below).
      else setTimeout(() => { if (phase !== "exited") killGroup(); }, COMMITTED_STORE_GRACE_MS);
    }
  });

  // The stage's held input was ended on the daemon's word (and, sealing, after the last sealed byte).
  let inputEnded = false;
  let stageExited = false;
  let purgeArgv: string[] | undefined;
  let fifoDir: string | undefined;
  let holdFd: number | undefined;
  let onAck!: (keep: boolean) => void;
  const acked = new Promise<boolean>((r) => (onAck = r));
  let onCommit!: () => void;
  const commitSent = new Promise<void>((r) => (onCommit = r));
  let onSealKey!: (key: Uint8Array | null) => void;
  const sealKey = new Promise<Uint8Array | null>((r) => (onSealKey = r));
  // --with-source: the store's environment and the backup to run beside it, from the `seal` message.
  type Beside = { env?: Record<string, string>; source?: BesideSource };
  let onBeside!: (b: Beside) => void;
  const beside = new Promise<Beside>((r) => (onBeside = r));
  let sealRate = 0;
  let sealCheck: Uint8Array | null = null;
  // --unseal --in-process NAME: the built-in's retrieve hands the blob's file over (handOver), and
  // gets it back once we read it all (fileRead), or failed to.
  let onBlobGiven!: (file: BlobFile) => void;
  const blobGiven = new Promise<BlobFile>((r) => (onBlobGiven = r));
  let onFileRead!: () => void;
  const fileRead = new Promise<void>((r) => (onFileRead = r));
  const handOver = (file: BlobFile): Promise<void> => { onBlobGiven(file); return fileRead; };
  let onUnseal!: (settings: UnsealSettings) => void;
  const unsealSettings = new Promise<UnsealSettings>((r) => (onUnseal = r));
  // --seal: a blocking write end of the stage's input, beside holdFd (see seal.ts).
  let sealOut: number | undefined;
  const removeFifo = () => {
    if (fifoDir) rmSync(fifoDir, { recursive: true, force: true });
    fifoDir = undefined;
  };
  const releaseInput = () => {
    if (holdFd !== undefined) closeSync(holdFd);
    if (sealOut !== undefined) closeSync(sealOut);
    holdFd = sealOut = undefined;
  };
  process.on("message", (m: ToGuard) => {
    if ("purge" in m) purgeArgv = m.purge;
    else if ("opened" in m) removeFifo();
    else if ("commit" in m) {
      if (phase === "running") phase = "committed";
      onCommit();
      // Sealing, the input ends once the last sealed byte is written (below).
      if (!sealing) { inputEnded = !stageExited; releaseInput(); }
    } else if ("ack" in m) onAck(m.ack);
    else if ("unseal" in m) onUnseal({ key: m.unseal.key === null ? null : new Uint8Array(Buffer.from(m.unseal.key, "base64")), rate: m.unseal.rate ?? 0, discard: m.unseal.discard ?? false, lend: m.unseal.lend ?? false });
    else if ("seal" in m) {
      sealRate = m.seal.rate ?? 0;
      sealCheck = m.seal.check ? new Uint8Array(Buffer.from(m.seal.check, "base64")) : null;
      onBeside({ env: m.seal.env, source: m.seal.source });
      onSealKey(m.seal.key === null ? null : new Uint8Array(Buffer.from(m.seal.key, "base64")));
    }
  });
  // A cancel signals the whole group: the stage got the same signal. Exiting now
  // would release a held input before the stage is gone, so wait for the stage;
  // one that has not started yet is not started at all.
  let stopSignal: NodeJS.Signals | undefined;
  let onStop!: () => void;
  const stopRequested = new Promise<void>((r) => (onStop = r));
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => { stopSignal ??= sig; onStop(); });
  /** The exit code of a guard stopped by stopSignal, as a shell would give it. */
  const stoppedCode = (): number => 128 + (os.signals[stopSignal!] ?? 0);
  /**
   * A failed stage's code, or stoppedCode() if a cancel stopped it. A cancel signals the
   * whole group at once, and the stage (or a tool it ran: pg_restore exits 1 on SIGTERM)
   * can be reaped before our own signal's handler has run: a moment for it first, so that
   * a canceled guard says so whichever the event loop heard first (seen in CI: exit 3).
   */
  const stoppedOr = async (code: number): Promise<number> => {
    if (!stopSignal) await Bun.sleep(SIGNAL_SETTLE_MS);
    return stopSignal ? stoppedCode() : code;
  };
  const notStarted = (): number => {
    removeFifo();
    say(`${stopSignal} before the stage started: not started`);
    return stoppedCode();
  };
  // Whichever way we go (a built-in store exits the process on a signal), the daemon's FIFO goes with us.
  process.on("exit", () => removeFifo());

  const killGroup = (): never => {
    removeFifo();
    // The stage first, with SIGKILL: it gets no chance to act on a closing input.
    try { process.kill(-process.pid, "SIGKILL"); } catch { /* not a group leader: at least the guard goes */ }
    process.exit(137);
  };

  let stdin: number | "inherit" = "inherit";
  // The FIFO the daemon's side writes into, and (without --seal, the same) the one the stage reads.
  let fifo = "";
  let stageFifo = "";
  if (madeFifo) {
    // The daemon made it so that the stage writing into it could start alongside us;
    // the daemon holds it open until we report, so nothing written meanwhile is lost.
    fifo = stageFifo = madeFifo;
    fifoDir = dirname(madeFifo);
  } else if (held) {
    let made;
    try {
      made = makeFifo();
    } catch (err) {
      say((err as Error).message);
      return 3;
    }
    fifoDir = made.dir;
    fifo = stageFifo = made.path;
  }
  // --seal: our input, opened blocking and non-blocking (see seal.ts).
  let sealIn: { blocking: number; nonBlocking: number } | undefined;
  let ownDir: string | undefined;
  // --with-source: the backup beside the store, started at once: it writes into zstd's input (or
  // our own FIFO), which the daemon holds open, while the store and its FIFOs get ready.
  let storeEnv: Record<string, string | undefined> = process.env;
  if (withSource) {
    const got = await Promise.race([beside, lifelineLost.then(() => undefined), stopRequested.then(() => null)]);
    if (got === null) return notStarted();
    if (got === undefined) return killGroup();
    if (!got.source || !got.env) {
      removeFifo();
      say("--with-source: the daemon named no backup to run, or no environment for the store");
      return 3;
    }
    // On the thread pool, as our input: the daemon holds the FIFO open, but were it gone, a
    // blocking open on the event loop would never return.
    const output = await Promise.race([openFifo(got.source.output, C.O_WRONLY).catch((err: Error) => err), lifelineLost.then(() => undefined), stopRequested.then(() => null)]);
    if (output === null) return notStarted();
    if (output === undefined) return killGroup();
    if (output instanceof Error) {
      removeFifo();
      say(`--with-source: cannot open the backup's way out: ${output.message}`);
      return 3;
    }
    // compress: the tools write into a FIFO of the compression's, which writes into `output`.
    let compression: BesideCompression | undefined;
    try {
      if (got.source.compress) compression = (await import("./compress-beside.ts")).compressBeside(output, toFd2);
    } catch (err) {
      closeSync(output);
      removeFifo();
      say(`--with-source: cannot compress the backup: ${(err as Error).message}`);
      return 3;
    }
    const stop = new AbortController();
    const source = await inProcessBackupBesideStore(got.source.name, got.source.args, compression?.input ?? output, stop.signal);
    if (!source) {
      compression?.abandon();
      closeSync(output);
      removeFifo();
      say(`--with-source: no built-in backup of "${got.source.name}" that can run beside the store`);
      return 3;
    }
    if (stopSignal) return notStarted();
    if (lost) return killGroup();
    storeEnv = got.env;
    besideSource = { ended: runSource(source, output, compression, () => (stopSignal ? stoppedCode() : undefined), send), stop };
  }
  // --in-process NAME: a built-in store, run here and fed the sealed stream in memory (plugin-host/in-process.ts).
  const inProcess: InProcessStore | undefined = builtin !== undefined && sealing && store ? await inProcessStore(builtin, argv, storeEnv) : undefined;
  // --in-process NAME alone: a built-in's source action (a target's backup, a store's retrieve), run here on our own fds.
  const inProcessSource: InProcessAction | undefined = builtin !== undefined && !sealing && !store && !held && !unsealing ? await inProcessAction(builtin, argv) : undefined;
  // --unseal --in-process NAME: a built-in's retrieve that hands over the blob's file, which we read ourselves.
  const inProcessRetrieval: InProcessAction | undefined = builtin !== undefined && unsealing ? await inProcessRetrieve(builtin, argv, handOver) : undefined;
  if (unsealing && builtin !== undefined && !inProcessRetrieval) {
    // Only a store whose blobs are local files: the retrieve of a cloud store writes through writers
    // of fd 1 that keep a copy of it (Bun's, an SDK's touching process.stdout), and such a copy of
    // the FIFO's write end, left open after the action, kept the guard from ever seeing the end of
    // the blob. As a process of its own, its exit closes every copy.
    say(`--unseal --in-process ${builtin}: not a built-in store whose blobs are local files; its retrieve runs as a process of its own`);
    return 1;
  }
  // --in-process NAME with a held input: a built-in's sink action (a target's restore), run here on the held FIFO as our fd 0.
  const inProcessSink: InProcessAction | undefined = builtin !== undefined && !sealing && !store && held ? await inProcessAction(builtin, argv, { held: true }) : undefined;
  if (builtin !== undefined && !inProcess && !inProcessSource && !inProcessSink && !inProcessRetrieval) {
    removeFifo();
    say(`--in-process ${builtin}: no built-in store of that name to run with --seal --store, nor a built-in's backup or retrieve to run without them, nor its restore on a held input`);
    return 3;
  }
  // The sealing code is loaded by the guards that seal only: every backup starts at least
  // two guards. (node:crypto, which the cipher needs, comes later still: only for an
  // archive of more than one chunk, encryption.ts.)
  const sealer = sealing ? await import("./seal.ts") : undefined;
  if (sealing) {
    // On the thread pool: the daemon holds a write end until we report, but were it
    // already gone, a blocking open on the event loop would never return, and the
    // lifeline could not act.
    // A stop meanwhile (the daemon let go of its end: no writer may ever come) ends the wait too.
    const opened = await Promise.race([openFifo(fifo, C.O_RDONLY), lifelineLost.then(() => undefined), stopRequested.then(() => null)]);
    if (opened === null) return notStarted();
    if (opened === undefined) return killGroup();
    sealIn = { blocking: opened, nonBlocking: openSync(fifo, C.O_RDONLY | C.O_NONBLOCK) };
  }
  // --unseal: the store's output (a FIFO of ours: its read ends, and the write end the store gets),
  // where the plaintext goes (our stdout, reopened: blocking and non-blocking), and how.
  let unsealIn: { blocking: number; nonBlocking: number } | undefined;
  let unsealOut: { blocking: number; nonBlocking: number } | undefined;
  let retrievedEnd: number | undefined;
  let unsealWith: UnsealSettings | undefined;
  if (unsealing) {
    // The key first: a store started before it would only fill its pipe.
    const got = await Promise.race([unsealSettings, lifelineLost.then(() => undefined), stopRequested.then(() => null)]);
    if (got === null) return notStarted();
    if (got === undefined) return killGroup();
    unsealWith = got;
    let made: { dir: string; path: string } | undefined;
    try {
      // A retrieve run here hands over the blob's file (read below); one of its own writes into a FIFO of ours.
      if (!inProcessRetrieval) {
        made = makeFifo();
        // Order as for a held input: a non-blocking reader lets the writer open, the writer the blocking reader.
        const nonBlocking = openSync(made.path, C.O_RDONLY | C.O_NONBLOCK);
        retrievedEnd = openSync(made.path, C.O_WRONLY);
        // Every byte of the blob crosses it: 1 MiB, as the daemon's (fifo.ts).
        widenPipe(retrievedEnd);
        unsealIn = { nonBlocking, blocking: openSync(made.path, C.O_RDONLY) };
      }
      if (!got.discard) unsealOut = await openStdoutAgain(lifelineLost);
      // A retrieve run here must hand its blob over, never write it to fd 1, the stage
      // downstream's input (only what we unsealed goes there): fd 1 becomes /dev/null.
      if (inProcessRetrieval && !stdoutToNull()) throw new Error("cannot keep the retrieve run here off the stage downstream's input (dup2)");
    } catch (err) {
      say(`--unseal: ${(err as Error).message}`);
      return 3;
    } finally {
      if (made) rmSync(made.dir, { recursive: true, force: true });
    }
    if (lost) return killGroup();
  }
  try {
    if (sealing && !inProcess) {
      const made = makeFifo();
      ownDir = made.dir;
      stageFifo = made.path;
    }
    if (held && !inProcess) {
      // Order matters: a blocking open of one end waits for the other. A non-blocking
      // reader lets our writer open; our writer lets the stage's blocking reader open.
      const probe = openSync(stageFifo, C.O_RDONLY | C.O_NONBLOCK);
      holdFd = openSync(stageFifo, C.O_WRONLY | C.O_NONBLOCK);
      // A FIFO of ours (the daemon widened those it made): 1 MiB, as theirs (fifo.ts).
      if (stageFifo !== madeFifo) widenPipe(holdFd);
      if (sealing) sealOut = openSync(stageFifo, C.O_WRONLY);
      stdin = openSync(stageFifo, C.O_RDONLY);
      closeSync(probe);
    }
  } catch (err) {
    removeFifo();
    say((err as Error).message);
    return 3;
  } finally {
    // Our own FIFO has all its ends open (or failed): its name is no longer needed.
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  }

  if (stopSignal) return notStarted();
  // Lost while we were starting: the stage is not started at all. (From here until the
  // phase is "running" nothing awaits, so no message or disconnect comes in between.)
  if (lost) killGroup();
  // The stage: a process, or a built-in store run here. Its exit code, and its output (a store's key).
  let exited: Promise<number>;
  let output: Promise<string>;
  // Where sealed bytes go, and how the stage's input ends (after the commit).
  let sealedTo: StreamWriter | undefined;
  if (inProcess) {
    sealedTo = new sealer!.StreamWriter();
    const out = capturedOutput(MAX_OUTPUT);
    exited = inProcess.run({ stdin: sealedTo.stream, stdout: out.stream, log: said });
    output = exited.then(() => out.text());
  } else if (inProcessSource) {
    // Its stdout is ours (the FIFO the daemon gave us); what it starts inherits it, and our group.
    exited = inProcessSource.run();
    output = Promise.resolve("");
  } else if (inProcessRetrieval) {
    // It hands over the blob's file (handOver) and waits until we read it (below).
    exited = inProcessRetrieval.run();
    output = Promise.resolve("");
  } else if (inProcessSink) {
    // The held FIFO becomes our fd 0: the action and what it starts (pg_restore, handed fd 0) read it there.
    const fd = stdin as number;
    const moved = libc()?.dup2(fd, 0) ?? -1;
    closeSync(fd);
    if (moved !== 0) {
      removeFifo();
      say(`--in-process ${builtin}: cannot make the held input this process's stdin (dup2: ${moved === -1 ? "no libc" : `errno ${-moved}`})`);
      return 3;
    }
    exited = inProcessSink.run();
    output = Promise.resolve("");
  } else {
    let child;
    try {
      child = Bun.spawn(argv, { stdin, stdout: unsealing ? retrievedEnd! : store ? "pipe" : "inherit", stderr: "inherit", env: process.env });
    } catch (err) {
      removeFifo();
      say(`cannot start ${argv[0]}: ${(err as Error).message}`);
      return 127;
    } finally {
      if (typeof stdin === "number") closeSync(stdin);
      // The store holds the only write end: when it is gone, we see the end of the blob.
      if (retrievedEnd !== undefined) closeSync(retrievedEnd);
    }
    const proc = child;
    exited = proc.exited.then(() => proc.signalCode ? 128 + (os.signals[proc.signalCode as keyof typeof os.signals] ?? 0) : (proc.exitCode ?? 1));
    output = store ? readCapped(proc.stdout as ReadableStream<Uint8Array>) : Promise.resolve("");
  }
  // Whether the stage had seen the end of its input, as things stood when it exited.
  let complete = false;
  exited = exited.then((code) => {
    stageExited = true;
    phase = "exited";
    complete = inputEnded;
    return code;
  });
  phase = "running";
  if (held) send({ fifo });

  if (sealing) {
    void (async () => {
      const dataKey = await Promise.race([sealKey, lifelineLost.then(() => undefined)]);
      if (dataKey === undefined) return; // the daemon is gone: the group is killed below
      try {
        const sealed = await sealer!.seal({
          from: sealIn!, dataKey, check: sealCheck, rate: sealRate,
          write: sealedTo ? sealedTo.write : sealer!.fifoWriter({ nonBlocking: holdFd!, blocking: sealOut! }),
          writeKeepsChunks: sealedTo !== undefined,
          onProgress: (progress) => send({ progress }),
        });
        send({ sealed });
        // The stage sees its end only on the daemon's word: every stage upstream exited 0.
        await commitSent;
        // A stage already gone never saw this end (a store that exited 0 early has no whole archive).
        inputEnded = !stageExited;
        if (sealedTo) sealedTo.close();
        else releaseInput();
      } catch (err) {
        // Most likely the stage stopped reading (its exit says why). Its input stays
        // open, so it can never take this for a complete stream: the daemon stops the
        // run, or, gone, leaves it to us.
        // A built-in store is told at once (an error is not an end): it removes what it wrote.
        sealedTo?.fail(err as Error);
        // A built-in store that stopped reading is failing, in this process: its own words (the
        // service's refusal) and its exit code name the cause, so they go first. Told of the
        // sealing failure at once, the daemon stopped the run before the store had said them.
        if (sealedTo && await Promise.race([exited.then(() => true, () => true), Bun.sleep(STORE_FAILING_MS).then(() => false)])) return;
        send({ sealFailed: (err as Error).message });
      } finally {
        // Our ends of the input, its only read ends once the daemon let go of its hold:
        // a stage upstream still writing meets EPIPE (it holds a write end only, see
        // Run.fifo), and the daemon names the store's failure, downstream, as the cause.
        closeSync(sealIn!.blocking);
        closeSync(sealIn!.nonBlocking);
      }
    })();
  }

  /**
   * --unseal --in-process: what the retrieve handed over, read as the store's output would
   * be (a regular file is read without waiting); when the retrieve ended without handing
   * anything over (no such blob), an empty input: its exit code then says why, as a store
   * that wrote nothing and failed would.
   */
  const retrievedFile = async (): Promise<{ blocking: number; nonBlocking: number }> => {
    const given = await Promise.race([blobGiven, exited.then(() => null)]);
    const fd = given ? given.fd : openSync("/dev/null", C.O_RDONLY);
    if (!given) void fileRead.then(() => closeSync(fd));
    // A regular file: a read never waits in turns (unseal.ts says what a stalled disk does).
    return { blocking: fd, nonBlocking: fd };
  };

  // --unseal: the exit code the guard ends with, once the blob was read, checked and passed on.
  let unsealed: Promise<number> | undefined;
  if (unsealing) {
    unsealed = (async (): Promise<number> => {
      const { key, rate, discard, lend } = unsealWith!;
      // Loaded by the guards that unseal only, as the sealing code is.
      const [{ fifoWriter }, { Refused, TAIL_HELD, unseal: unsealStream }] = await Promise.all([import("./seal.ts"), import("./unseal.ts")]);
      const write = unsealOut ? fifoWriter(unsealOut) : null;
      let result: Awaited<ReturnType<typeof unsealStream>>;
      try {
        result = await unsealStream({
          from: unsealIn ?? await retrievedFile(), dataKey: key, rate, write, writeFd: unsealOut?.blocking, lend, holdTail: discard ? 0 : TAIL_HELD,
          onProgress: (progress) => send({ progress }),
        });
      } catch (err) {
        onFileRead();
        const refused = err instanceof Refused;
        // Refused at the end of the blob (it is short): the store closed its output, so it is
        // exiting, and a store that failed part way is the cause, not the truncation.
        const code = refused && err.atEnd ? await exited : undefined;
        const message = (err as NodeJS.ErrnoException).code === "EPIPE" ? `${(err as Error).message}: the stage downstream stopped reading before the end` : (err as Error).message;
        if (!stopSignal) send({ unsealFailed: { message, refused, code } });
        // Nothing more is written; the daemon stops the run (or, gone, the lifeline does).
        await stopRequested;
        await exited;
        return stoppedCode();
      }
      // A retrieve run here closes the file it handed over, and returns.
      onFileRead();
      const code = await exited;
      if (!stopSignal) send({ unsealed: { ...result.unsealed, code } });
      // A store that failed: its code is the guard's, at once (the daemon waits for it).
      if (code !== 0) return stoppedOr(code);
      // Otherwise not a moment before the daemon's word, even with nothing held back: the
      // report goes over the IPC channel asynchronously, and an exit reaching the daemon
      // before it would read as a retrieve that ended without one.
      const go = await Promise.race([commitSent.then(() => true), stopRequested.then(() => false)]);
      if (!go) return stoppedCode();
      if (result.tail.length) {
        // Held back until the daemon compared the counts with the catalog: its commit.
        try {
          await write!(result.tail);
        } catch (err) {
          say(`--unseal: writing the last ${result.tail.length} bytes failed: ${(err as Error).message}`);
          return 1;
        }
      }
      return stopSignal ? stoppedCode() : code;
    })();
  }

  // Should the lifeline close meanwhile, the group is killed (see Phase): only a
  // committed store that exits within its grace gets past here then.
  const code = await exited;
  if (unsealed) return unsealed;
  // So that a daemon still writing gets EPIPE, not a stall. Sealing, the sealer still
  // uses these ends: it meets EPIPE itself, and whatever is left closes when we exit.
  if (!sealing) releaseInput();
  removeFifo();
  if (!store) return code === 0 ? code : stoppedOr(code);

  const out = await output;
  const key = code === 0 ? parseStoreKey(out) : undefined;
  if (!lost) send({ stored: { code, output: out, complete } });
  if (!key) return code;
  const keep = lost ? false : await Promise.race([acked, lifelineLost.then(() => false)]);
  if (!keep) await purge(purgeArgv, key, lifelineLost, lost);
  return code;
}

/**
 * --with-source: runs the backup beside the store, its tools writing into `output` (or into
 * `compression`, which writes into it). Once it returned (its tools exited) and what it wrote is
 * compressed, our end of `output` is closed, so that the stage reading it sees its end, and only
 * then is its exit code reported (`stopped`: a guard stopped by a signal reports that, as a
 * process of its own would have exited). Resolves when done.
 */
async function runSource(source: InProcessAction, output: number, compression: BesideCompression | undefined, stopped: () => number | undefined, send: (m: FromGuard) => void): Promise<void> {
  let code = await source.run().catch((err) => {
    say(`the backup beside the store failed: ${(err as Error)?.message ?? err}`);
    return 3;
  });
  let rawBytes: number | undefined;
  if (compression && code === 0 && stopped() === undefined) {
    const compressed = await compression.finish();
    if (compressed.why) toFd2(compressed.why);
    code = compressed.code;
    rawBytes = compressed.rawBytes;
  } else compression?.abandon();
  closeSync(output);
  send({ sourceExited: stopped() ?? code, ...(rawBytes !== undefined ? { rawBytes } : {}) });
}

/** A line on fd 2, which with --with-source is the target's: the daemon puts it in the task log as the backup's. */
function toFd2(line: string): void {
  try { process.stderr.write(`${line}\n`); } catch { /* the daemon is gone */ }
}

/**
 * Our stdout (a FIFO), opened again by its /proc name: twice, non-blocking and blocking,
 * for fifoWriter (seal.ts). The non-blocking open fails (ENXIO) when nobody reads it any
 * more; the blocking one goes to the thread pool all the same, so the lifeline can act.
 */
async function openStdoutAgain(lifelineLost: Promise<void>): Promise<{ blocking: number; nonBlocking: number }> {
  const path = "/proc/self/fd/1";
  const nonBlocking = openSync(path, C.O_WRONLY | C.O_NONBLOCK);
  const blocking = await Promise.race([
    new Promise<number>((resolve, reject) => open(path, C.O_WRONLY, (err, fd) => (err ? reject(err) : resolve(fd)))),
    lifelineLost.then(() => -1),
  ]);
  return { nonBlocking, blocking };
}

/** Makes fd 1 /dev/null (dup2); false where it cannot. */
function stdoutToNull(): boolean {
  const c = libc();
  if (!c) return false;
  const fd = openSync("/dev/null", C.O_WRONLY);
  try {
    return c.dup2(fd, 1) === 1;
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a FIFO's read or write end (blocking: a tool handed it expects that) on the thread
 * pool, leaving the event loop free: the open waits for the other end.
 */
function openFifo(path: string, flags: typeof C.O_RDONLY | typeof C.O_WRONLY): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

async function readCapped(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) if (text.length < MAX_OUTPUT) text += decoder.decode(chunk, { stream: true });
  return (text + decoder.decode()).slice(0, MAX_OUTPUT);
}

/** Removes a blob nobody will record; within LOST_PURGE_TIMEOUT_MS once the daemon is gone, even if it died meanwhile. */
async function purge(argv: string[] | undefined, key: string, lifelineLost: Promise<void>, lost: boolean): Promise<void> {
  if (!argv?.length) {
    say(`cannot purge blob ${key}: the daemon sent no purge command`);
    return;
  }
  // With the daemon gone, its pipes are broken: a plugin writing to them would die of SIGPIPE.
  const quiet = lost ? "ignore" : "inherit";
  const p = Bun.spawn([...argv, "--key", key], { stdin: "ignore", stdout: quiet, stderr: quiet, env: process.env });
  let timer = setTimeout(() => p.kill("SIGKILL"), lost ? LOST_PURGE_TIMEOUT_MS : PURGE_TIMEOUT_MS);
  void lifelineLost.then(() => {
    if (lost || p.exitCode !== null || p.signalCode) return;
    clearTimeout(timer);
    timer = setTimeout(() => p.kill("SIGKILL"), LOST_PURGE_TIMEOUT_MS);
  });
  const code = await p.exited;
  clearTimeout(timer);
  say(code === 0 ? `purged blob ${key}: it was never recorded` : `purging blob ${key} failed (exit ${code})`);
}

if (import.meta.main) {
  runGuard(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
    say(`failed: ${(err as Error)?.message ?? err}`);
    process.exit(3);
  });
}
