// A built-in store run inside the process of its guard (guard.ts --in-process),
// rather than as `shield plugin NAME store` beside it. With --seal, the guard
// then hands the sealed archive to the store as a stream in memory: one process
// and one pipe fewer for every byte of the archive (bench/DATAPATH.md). The
// store runs through the plugin protocol's own runAction, so everything else
// about it (its endpoint from SHIELD_ENDPOINT, validate first, its exit codes,
// its key printed as JSON, SIGTERM removing its temporary file) is as in a
// process of its own. Any other command runs as a process, as always.
import type { ActionStreams } from "../../plugins/protocol.ts";

export interface InProcessStore {
  /** Runs the store action; resolves with its exit code. */
  run(streams: Required<ActionStreams>): Promise<number>;
}

/**
 * The built-in store `argv` names (`<this binary> [main.ts] plugin NAME store ARGS...`),
 * or undefined when it names anything else.
 */
export async function inProcessStore(argv: string[]): Promise<InProcessStore | undefined> {
  if (argv[0] !== process.execPath) return undefined;
  const at = argv.indexOf("plugin");
  if (at < 1 || at > 2 || argv[at + 2] !== "store") return undefined;
  const [{ builtins }, { runAction }] = await Promise.all([import("../../plugins/index.ts"), import("../../plugins/protocol.ts")]);
  const plugin = builtins.get(argv[at + 1]!);
  if (!plugin?.store) return undefined;
  return { run: (streams) => runAction(plugin, argv.slice(at + 2), process.env, streams) };
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
