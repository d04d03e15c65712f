// What the core asks of an agent, over one SSH "exec" channel per request.
//
// Why SSH and not TLS: both ends already hold Ed25519 key pairs (the core's is
// served by /v1/meta/pubkey in SSH's authorized_keys form), and SSH authenticates
// both sides by such raw keys, pinned, without a certificate authority, X.509
// certificates to issue, renew and revoke, or hostname checks that an agent known
// by an IP address cannot pass. It also carries, per request, a channel with
// stdin, stdout, a separate stderr, an exit status and window-based flow control:
// exactly what a plugin run needs, with no protocol of our own to write. `ssh2` is
// pure JavaScript (its native speed-ups are optional) and has both ends.
//
// The exec command is the request as JSON. It holds the endpoint (its secrets)
// and, for a backup, the archive's data key: they travel only inside the
// authenticated, encrypted channel, are never written to disk or to a process's
// arguments on the agent, and are forgotten when the request ends.
import type { Compression } from "../pipeline/compression.ts";

export const DEFAULT_AGENT_PORT = 5444;

/**
 * The name of an agent that dials the core (NAT mode, nat.ts): never holds ":",
 * so that a target's `agent` is either HOST:PORT or such a name, and is not a bare
 * IPv4 address (that is an address whose port was forgotten).
 */
export const NAT_NAME = /^(?![0-9.]+$)[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * The SSH ciphers both ends offer, fastest first: AES-GCM runs on AES-NI through
 * the runtime's crypto and needs no separate MAC. Measured in ssh2 on Bun, 256 MiB
 * through one channel: aes128-gcm 317 MiB/s, aes128-ctr (+ HMAC) 195 MiB/s;
 * chacha20-poly1305 is not available in Bun's crypto (bench/DATAPATH.md).
 */
export const CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"] as const;
/** The SSH user name the core connects as (the key is what is checked). */
export const CORE_USER = "shield-core";

export type AgentRequest =
  /** stdout: HelloReply as JSON. */
  | { op: "hello" }
  /** The plugin's own action: stdout, stderr and exit code as the plugin gave them. */
  | { op: "validate" | "test"; plugin: string; endpoint: string }
  /**
   * stdout: the archive, compressed and sealed on the agent (seal.ts's format);
   * the last stderr line is RESULT_PREFIX + BackupReport. Exit 0 only when every
   * process exited 0 and every byte was sent: anything else is no archive.
   */
  | {
    op: "backup"; plugin: string; endpoint: string; compression: Compression; dataKey: string | null;
    /**
     * Asks for the archive over the agent's data port (data.ts) rather than this
     * channel's stdout: the one-time token the core then presents there. Only with a
     * data key (the bytes are sealed before they leave the host). An agent without
     * a data port ignores it and streams on stdout as before.
     */
    dataToken?: string;
    /**
     * The core authenticates every chunk of the archive as it arrives (its store's guard,
     * with the data key): over the data port the agent then sends no SHA-256 of it
     * (BackupReport.sha256), which would only cost it a pass over every byte.
     */
    chunksChecked?: boolean;
  }
  /**
   * stdin: the archive decrypted on the core (verified there first), still
   * compressed, in frames (see frames below); the agent decompresses it into the
   * target's `restore`, which sees the end of its input only at the commit frame.
   */
  | { op: "restore"; plugin: string; endpoint: string; compression: Compression };

export interface HelloReply {
  version: string;
  plugins: { name: string; version?: string; target: boolean; store: boolean }[];
}

export interface BackupReport {
  rawBytes: number | null;
  bytes: number;
  /**
   * Over the data port, unless the request said chunksChecked: the SHA-256 (hex) of every
   * byte sent there, which the daemon compares with what the store's guard received.
   */
  sha256?: string;
}

/** Prefixes the agent's own report line on a backup's stderr (kept out of the task log). */
export const RESULT_PREFIX = "shield-agent-result: ";

// Restore input framing: [u32 length][bytes]…, then a frame of length 0: the commit.
// Without it, a connection that drops would look to the agent like the end of the
// input, and a target would restore a truncated archive as if it were whole.
export function frame(chunk: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(chunk.length);
  return Buffer.concat([head, chunk]);
}
export const COMMIT_FRAME = Buffer.alloc(4);

/** Reassembles frames: `onData` for each piece of payload, `onCommit` at the zero frame. */
export class Deframer {
  private pending = Buffer.alloc(0);
  private left = 0;
  committed = false;
  constructor(private readonly onData: (b: Buffer) => void, private readonly onCommit: () => void) {}

  push(b: Buffer): void {
    if (this.committed) throw new Error("data after the commit");
    let at = 0;
    while (at < b.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, b.length - at);
        this.onData(b.subarray(at, at + n));
        this.left -= n;
        at += n;
        continue;
      }
      const take = b.subarray(at, at + 4 - this.pending.length);
      this.pending = Buffer.concat([this.pending, take]);
      at += take.length;
      if (this.pending.length < 4) continue;
      const len = this.pending.readUInt32BE(0);
      this.pending = Buffer.alloc(0);
      if (len === 0) {
        this.committed = true;
        if (at < b.length) throw new Error("data after the commit");
        this.onCommit();
        return;
      }
      this.left = len;
    }
  }
}
