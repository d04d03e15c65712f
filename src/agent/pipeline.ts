// The agent's part in a pipeline (run.ts), behind these few functions so that it
// can move onto the plugin host's Target interface: the target's stage is the
// relay (relay.ts), run under the guard like any stage, and what the relay needs
// (the request, with the endpoint and the data key) goes to it on its stdin.
import { selfCommand } from "../plugin-host/index.ts";
import type { Compression } from "../pipeline/compression.ts";
import type { AgentTarget } from "./directory.ts";
import { RESULT_PREFIX, type BackupReport } from "./protocol.ts";
import type { RelayHeader } from "./relay.ts";

export type { AgentTarget } from "./directory.ts";

export function relayArgv(): string[] {
  return [...selfCommand(), "agent-relay"];
}

/**
 * The first line of the relay's stdin for a backup: compressed and sealed on the agent with
 * `dataKey`; the store's guard authenticates every chunk as it arrives (run.ts), so the
 * agent need not hash it.
 */
export function backupHeader(agent: AgentTarget, plugin: string, endpoint: string, compression: Compression, dataKey: Uint8Array | null): Uint8Array {
  return line({ ...agent, address: agent.address, request: { op: "backup", plugin, endpoint, compression, dataKey: dataKey && Buffer.from(dataKey).toString("base64"), ...(dataKey ? { chunksChecked: true } : {}) } });
}

/** For a restore: the archive follows the line, decrypted and verified, still compressed. */
export function restoreHeader(agent: AgentTarget, plugin: string, endpoint: string, compression: Compression): Uint8Array {
  return line({ ...agent, request: { op: "restore", plugin, endpoint, compression } });
}

function line(h: RelayHeader): Uint8Array {
  return Buffer.from(JSON.stringify(h) + "\n");
}

/** A stderr line of the relay: the agent's report of a backup, which stays out of the task log. */
export function relayReport(l: string): { report?: BackupReport; keep: boolean } {
  const at = l.indexOf(RESULT_PREFIX);
  if (at < 0) return { keep: true };
  try {
    return { report: JSON.parse(l.slice(at + RESULT_PREFIX.length)) as BackupReport, keep: false };
  } catch {
    return { keep: true };
  }
}

/** `head`, then every chunk of `rest`. */
export function prefixed(head: Uint8Array, rest: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = rest.getReader();
  let sent = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (!sent) { sent = true; c.enqueue(head); return; }
      const r = await reader.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
