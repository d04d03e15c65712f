// A built-in plugin's action run inside the process of its guard (guard.ts
// --in-process NAME), rather than as `shield plugin NAME ACTION` beside it.
// - A backup's store (with --seal): the guard hands it the sealed archive as a
//   stream in memory: one process and one pipe fewer for every byte of the archive.
// - A target's backup: the action runs on the guard's own stdin and stdout (the
//   FIFO the daemon gave it), so a tool it hands fd 1 to (pg_dump) writes there as
//   before: one Bun start fewer, on the path from the run request to the first
//   byte, for every backup (bench/DATAPATH.md, "Fixed cost (issue 20)").
// - A store's retrieve: the same, on the guard's own stdout (the pipe or FIFO the
//   daemon gave it): one Bun start fewer for every read of a blob (a download's, a
//   copy's and its read-back; a restore's reads are below).
// - A store's retrieve inside a restore's unsealing guard, for a built-in whose
//   blobs are local files (fs): the action hands the blob's file over, open, and the
//   guard reads it itself (inProcessRetrieve): one process and one pipe fewer for
//   every read of a restore (the verify pass and the restore proper). Other stores'
//   retrieves stay processes of their own there (guard.ts says why).
// - A target's backup beside a backup's store (with --with-source), when both are
//   built-ins and the backup's output is its tools' alone (pg_dump): the store's guard
//   runs it too, its tools writing into zstd's input: one Bun start fewer for every
//   backup (inProcessBackupBesideStore).
// - A target's restore: the action runs on the guard's held input (its FIFO made the
//   guard's fd 0), so a tool it hands fd 0 to (pg_restore) reads it as before, and
//   the input ends only on the daemon's commit, as for a process of its own.
// The daemon names the built-in by reference (its Store's Command carries
// `builtin: { name, args }`, contract.ts); nothing here reads a command line to
// find out what it is. The store runs through the plugin protocol's own
// runAction, so everything else about it (its endpoint from SHIELD_ENDPOINT,
// validate first, its exit codes, its key printed as JSON, SIGTERM removing its
// temporary file) is as in a process of its own.
import type { ActionStreams, BlobFile } from "../../plugins/protocol.ts";
// Only the one plugin's module: not plugins/index.ts, which evaluates every built-in.
import { loadBuiltin, toolBackups } from "../../plugins/one.ts";

export interface InProcessStore {
  /** Runs the store action; resolves with its exit code. */
  run(streams: Required<Pick<ActionStreams, "stdin" | "stdout">> & Pick<ActionStreams, "log">): Promise<number>;
}

/**
 * The built-in store `name` of this binary, to run with the action arguments
 * `args` (what follows `plugin NAME`) in the environment `env` (the guard's own,
 * unless it runs a target's backup as well: then the store's comes by message);
 * undefined when there is no such built-in store.
 */
export async function inProcessStore(name: string, args: string[], env: Record<string, string | undefined> = process.env): Promise<InProcessStore | undefined> {
  const { plugin, runAction } = await withProtocol(name);
  if (!plugin?.store || args[0] !== "store") return undefined;
  return { run: (streams) => runAction(plugin, args, env, streams) };
}

/** An action a built-in runs in the guard's process (on its own stdin and stdout, or handing a file over); resolves with its exit code. */
export interface InProcessAction {
  run(): Promise<number>;
}

/**
 * Actions a guard runs in its own process without --seal: a target's backup and a
 * store's retrieve (sources: no input, nothing held, nothing sealed; their stdout is
 * the guard's, their stderr the guard's, their exit code the guard's).
 */
const SOURCE_ACTIONS = new Set(["backup", "retrieve"]);

/** Actions a guard runs in its own process on its held input (its fd 0): a target's restore. */
const SINK_ACTIONS = new Set(["restore"]);

/**
 * The built-in `name`'s action `args[0]` (with its arguments, what follows
 * `plugin NAME`), to run on this process's own fds; undefined when there is no
 * such built-in or the action is not one a guard runs in process: a source's
 * without a held input, a sink's (`held`) with one.
 */
export async function inProcessAction(name: string, args: string[], opts: { held?: boolean; streams?: ActionStreams } = {}): Promise<InProcessAction | undefined> {
  const { plugin, runAction } = await withProtocol(name);
  const action = args[0];
  const allowed = opts.held ? SINK_ACTIONS : SOURCE_ACTIONS;
  if (!plugin || action === undefined || !allowed.has(action) || typeof plugin[action as "backup" | "retrieve" | "restore"] !== "function") return undefined;
  return { run: () => runAction(plugin, args, process.env, opts.streams) };
}

/**
 * A built-in target's backup whose output is its tools' (plugins/one.ts, toolBackups:
 * pg_dump, mariadb-dump write it themselves), to run in a store's guard beside the store (guard.ts,
 * --with-source), its tools writing into `output` (ctx.stdoutFd), not fd 1: the store's code
 * may touch fd 1 (an SDK making it non-blocking, say), which a tool sharing it would suffer;
 * undefined for any other. The action may not write to its stdout stream: a write of its own
 * would share the guard's event loop with the sealing of every byte. It takes no part in
 * signals (ActionStreams.signals): the store's action handles them and exits the process, and
 * its tools get them from their group. `stop` aborts it (its tools are signalled).
 */
export async function inProcessBackupBesideStore(name: string, args: string[], output: number, stop: AbortSignal): Promise<InProcessAction | undefined> {
  if (!toolBackups.includes(name) || args[0] !== "backup") return undefined;
  const { plugin, runAction } = await withProtocol(name);
  if (!plugin?.backup) return undefined;
  const stdout = new WritableStream<Uint8Array>({
    write() { throw new Error(`${name}: its backup wrote to stdout itself in the store's guard, where only its tools may`); },
  });
  return { run: () => runAction(plugin, args, process.env, { stdout, stdoutFd: output, signals: false, stop }) };
}

/**
 * The built-in store `name`'s retrieve (`args`: what follows `plugin NAME`), to run in an
 * unsealing guard's own process: it hands the blob over as an open file (`handOver`,
 * ActionContext.handOverFile) rather than writing it to stdout. A write to its stdout
 * stream fails, and the guard makes its fd 1 /dev/null: only what the guard unsealed
 * may reach the stage downstream. Undefined unless the built-in's blobs are local
 * files (Plugin.localBlobs).
 */
export async function inProcessRetrieve(name: string, args: string[], handOver: (file: BlobFile) => Promise<void>): Promise<InProcessAction | undefined> {
  const { plugin, runAction } = await withProtocol(name);
  if (!plugin?.localBlobs || !plugin.retrieve || args[0] !== "retrieve") return undefined;
  const stdout = new WritableStream<Uint8Array>({
    write() { throw new Error(`${name}: retrieve wrote to stdout in an unsealing guard, which reads the blob's file itself`); },
  });
  return { run: () => runAction(plugin, args, process.env, { stdout, handOverFile: handOver }) };
}

/** The built-in `name` (undefined when there is none) and the protocol's runAction, loaded side by side. */
async function withProtocol(name: string) {
  const [plugin, { runAction }] = await Promise.all([loadBuiltin(name), import("../../plugins/protocol.ts")]);
  return { plugin, runAction };
}

/** What the store prints (its key), kept in memory up to `max` characters. */
export function capturedOutput(max: number): { stream: WritableStream<Uint8Array>; text(): string } {
  const decoder = new TextDecoder();
  let text = "";
  const stream = new WritableStream<Uint8Array>({
    write(chunk) { if (text.length < max) text += decoder.decode(chunk, { stream: true }); },
  });
  return { stream, text: () => (text + decoder.decode()).slice(0, max) };
}
