// A built-in store run inside the process of its guard (guard.ts --in-process
// NAME), rather than as `shield plugin NAME store` beside it. With --seal, the
// guard then hands the sealed archive to the store as a stream in memory: one
// process and one pipe fewer for every byte of the archive (bench/DATAPATH.md).
// The daemon names the built-in by reference (its Store's Command carries
// `builtin: { name, args }`, contract.ts); nothing here reads a command line to
// find out what it is. The store runs through the plugin protocol's own
// runAction, so everything else about it (its endpoint from SHIELD_ENDPOINT,
// validate first, its exit codes, its key printed as JSON, SIGTERM removing its
// temporary file) is as in a process of its own.
import type { ActionStreams } from "../../plugins/protocol.ts";

export interface InProcessStore {
  /** Runs the store action; resolves with its exit code. */
  run(streams: Required<ActionStreams>): Promise<number>;
}

/**
 * The built-in store `name` of this binary, to run with the action arguments
 * `args` (what follows `plugin NAME`); undefined when there is no such built-in store.
 */
export async function inProcessStore(name: string, args: string[]): Promise<InProcessStore | undefined> {
  const [{ builtins }, { runAction }] = await Promise.all([import("../../plugins/index.ts"), import("../../plugins/protocol.ts")]);
  const plugin = builtins.get(name);
  if (!plugin?.store || args[0] !== "store") return undefined;
  return { run: (streams) => runAction(plugin, args, process.env, streams) };
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
