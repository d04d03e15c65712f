// The two things the daemon asks of plugins, as it sees them: a Store keeps
// archives (blobs) under keys it chooses, a Target is a data system to back up
// and restore. Each is a plugin bound to one endpoint. Whoever holds one never
// needs to know whether it is a built-in, an external executable, or how it
// wants its endpoint given: it asks for the Command of an action and runs it
// (the pipeline runs each under a guard, see src/pipeline/guard.ts).
//
// The streaming actions are Commands rather than calls because their bytes must
// not cross the daemon: the pipeline wires them process to process. The short
// actions (validate, test) are calls, with their deadline and retries already
// applied (wrappers.ts).
import type { PluginInfo } from "./info.ts";

/** A plugin as found: where it lives and what its `info` said. */
export interface ResolvedPlugin {
  /** The name jobs and targets refer to it by. */
  name: string;
  /** Where it comes from, for /v1/plugins: "builtin" or the executable's path. */
  source: string;
  /** How to run it, before the action: the executable, or this binary's `plugin NAME`. */
  argv: string[];
  info: PluginInfo;
}

/** How to run one action of a bound plugin. */
export interface Command {
  /** The whole command line. Never holds a secret for a plugin that takes its endpoint from the environment. */
  argv: string[];
  /**
   * Its whole environment: the allow-listed part of the daemon's (never the
   * daemon's own secrets), the endpoint for plugins that read SHIELD_ENDPOINT,
   * SHIELD_ALLOW_PATH when the daemon is confined, and what the action adds.
   */
  env: Record<string, string>;
  /**
   * Set for a built-in of this very binary: which one, and the arguments of its
   * action (what follows `plugin NAME` in argv). A guard may then run it in its
   * own process by this reference (in-process.ts) instead of spawning argv.
   */
  builtin?: { name: string; args: string[] };
}

/** What every bound plugin answers. */
export interface Bound {
  readonly plugin: ResolvedPlugin;
  /**
   * The plugin's check of the endpoint, without touching the data system.
   * Resolves with its words when the endpoint is usable; rejects with
   * PluginFailed (its words, its exit code) when not. Changes nothing, so a
   * crash is retried; an answer of "invalid" is final.
   */
  validate(signal?: AbortSignal): Promise<string>;
  /**
   * A live check: can connect (a store: can write and delete). Resolves with the
   * plugin's words; rejects with PluginFailed. Changes nothing lasting, so a crash is retried.
   */
  test(signal?: AbortSignal): Promise<string>;
}

/**
 * A store: keeps each archive as one blob under a key the store chooses.
 *
 * - store: the Command reads the whole archive on stdin and, on exit 0, prints
 *   `{"key": "..."}`. A key becomes valid only once the blob is complete and
 *   durable: a store that exits 0 has flushed everything, and `retrieve` of the
 *   key gives back exactly the bytes it read. A store must take the end of its
 *   input as the end of the archive only when it comes after the daemon's
 *   commit (the guard holds the input open until then), and must never print a
 *   key for a blob it did not finish. One that fails or is killed prints no key
 *   and leaves no blob under any key; what it may have written meanwhile is
 *   either removed by it (SIGTERM) or, for a store with `partialBlobs`, named
 *   after the run's partial id so that `purge partial:ID` removes it.
 * - retrieve: the Command writes the blob of a key to stdout, byte for byte, and
 *   exits 0 only when all of it was written. A key with no blob fails (exit 4).
 * - purge: the Command removes the blob of a key. Idempotent: a key with no blob
 *   is success, so it is safe to run again (the daemon retries a purge that
 *   failed for a passing reason). After exit 0, retrieve of the key fails.
 * Two stores running at once never collide: each chooses a key of its own.
 */
export interface Store extends Bound {
  /** `store` (the pipeline adds SHIELD_PARTIAL_ID to its env for a store with partialBlobs: src/pipeline/partial.ts). */
  store(): Command;
  retrieve(key: string): Command;
  /** `purge` of `key`; without one, the command the guard completes with `--key KEY` itself. */
  purge(key?: string): Command;
  /** The store keeps the partial-blob contract (its `info` says "partial_blobs": "yes"): it may be sent `purge partial:ID`. */
  readonly partialBlobs: boolean;
  /** The store can run inside its guard, fed the sealed stream in memory: a built-in of this binary. */
  readonly inProcess: boolean;
  /**
   * A built-in whose blobs are local files (plugins/one.ts, localBlobStores): its retrieve
   * can run inside an unsealing guard, which then reads the blob's file itself.
   */
  readonly localBlobs: boolean;
}

/**
 * A target: the data system an endpoint names.
 * - backup: the Command writes the data to stdout and exits 0 only when all of
 *   it was written: a tool failing mid-stream makes it exit non-zero, so a
 *   truncated stream never passes for a complete one.
 * - restore: the Command reads the data on stdin and replaces what the endpoint
 *   holds. It must act on the end of its input only after the daemon's commit
 *   (the guard holds the input open until the archive is verified); killed
 *   before that, it leaves the data system as its own rules on failure say
 *   (postgres: in one transaction, rolled back).
 */
export interface Target extends Bound {
  backup(): Command;
  /** The target's backup can run inside its guard (a built-in of this binary): one process fewer per backup. */
  readonly inProcess: boolean;
  /**
   * A built-in whose backup hands its stdout to its tools and moves no byte of the data itself (a
   * header line at most, written where they write; plugins/one.ts, toolBackups): the store's guard
   * can run it as well, when the store is a built-in too.
   */
  readonly backupByTool: boolean;
  restore(): Command;
  /**
   * Restore drills: the plugin's optional `verify` of what the endpoint holds (its
   * figures), or "unsupported" when the plugin offers none (exit 2). Rejects with
   * PluginFailed when it ran and failed. Changes nothing; never retried.
   */
  verify(signal?: AbortSignal): Promise<{ summary: string; figures: Record<string, unknown> } | "unsupported">;
  /** Restore drills: the optional `clean` that empties a scratch target; "unsupported" when absent (exit 2). */
  clean(signal?: AbortSignal): Promise<string | "unsupported">;
}
