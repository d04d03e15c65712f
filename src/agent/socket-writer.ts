// Writes a backup's sealed archive onto the data connection (data.ts) with write(2) on
// the socket's own fd, rather than through node:net's socket.write.
//
// Why: socket.write may hold on to the buffer it is given until the kernel took it, so the
// sealing loop (seal.ts) gave it a fresh buffer per read: ~180 MiB of new memory per 1 GiB
// database backup, whose page faults and clearing were about half the agent's ~0.15 s of
// them per backup (perf; bench/DATAPATH.md, "Eighteenth session"). A write(2) that
// returned has copied what it took into the kernel, so the loop seals every read into
// one buffer it reuses.
//
// The socket stays Bun's: its errors, its close and its end (socket.end) go through
// node:net as before, and nothing else writes on it while the archive goes. The loop is
// the guard's own into a FIFO (seal.ts pollingWriter): when the kernel's buffer is full,
// waitFor (poll in short turns, the event loop's turn first); where that cannot be used
// (several streams in this process, no FFI) or the socket's fd is not to be had, the rest
// goes through socket.write and is awaited until the kernel took it, so that no later
// write(2) overtakes it and the buffer is free.
import type { Socket } from "node:net";
import { pollingWriter } from "../pipeline/seal.ts";

/** What the loop hands its sealed bytes to; the buffer is the caller's again once it returned (or its promise resolved). */
export type ArchiveWrite = (data: Uint8Array) => void | Promise<void>;

export const CLOSED_EARLY = "the core's data connection closed before the archive's end";

/** `gone`: the request is over or the socket closed (then a write throws CLOSED_EARLY). */
export function socketWriter(sock: Socket, gone: () => boolean): ArchiveWrite {
  const viaSock = (data: Uint8Array) => viaSocket(sock, gone, data);
  // Bun's, as Node's: the handle of a connected TCP socket has its fd. Not a public API,
  // hence the fallback rather than a failure when a runtime lacks it.
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) return viaSock;
  // Checked before every write(2): once the socket is destroyed its fd may be another file's.
  const write = pollingWriter(fd, viaSock, () => { if (gone()) throw new Error(CLOSED_EARLY); });
  return (data) => {
    try {
      return write(data)?.catch(closedEarly);
    } catch (err) {
      closedEarly(err);
    }
  };
}

/** A failed write(2) (EPIPE, ECONNRESET) said as the connection's early close. */
function closedEarly(err: unknown): never {
  const code = (err as NodeJS.ErrnoException).code;
  throw code ? new Error(`${CLOSED_EARLY} (${code})`) : err;
}

/** Through node:net, resolved once the kernel took all of it (or the socket closed: then it throws). */
async function viaSocket(sock: Socket, gone: () => boolean, data: Uint8Array): Promise<void> {
  if (gone()) throw new Error(CLOSED_EARLY);
  await new Promise<void>((resolve) => {
    const done = () => { sock.off("close", done); resolve(); };
    sock.on("close", done);
    sock.write(data, () => done());
  });
  if (gone()) throw new Error(CLOSED_EARLY);
}

/**
 * How much of the archive goes onto the data connection per write: the size of the pipes
 * on the core (fifo.ts), which the relay splices what arrives into.
 *
 * Why gather at all: every write that reaches the core wakes the relay, which splices it
 * into the store's FIFO and so wakes the store's guard. zstd's output comes in bursts of
 * ~60 KiB, read and sent one by one: ~3,000 wakeups of each per 1 GiB database backup,
 * ~180 in writes of a MiB. Measured on 2 cores, each round beside the build before: the
 * store's guard took 0.72 s of CPU per such backup against 0.85 (7 rounds), and 0.73
 * against 0.80 (5 rounds); the relay 0.29 against 0.31 (bench/DATAPATH.md, "Nineteenth session").
 */
export const GATHER_BYTES = 1 << 20;

/**
 * `write` in pieces of `size` bytes: what it is given is copied into a buffer of that size
 * (the caller's is its own again once the call returned, as `write` promises), which goes
 * on once full. `flush` sends what is left: it is called, and awaited, after the last write.
 */
export function gathering(write: ArchiveWrite, size: number): { write: ArchiveWrite; flush(): Promise<void> } {
  const buf = Buffer.allocUnsafe(size);
  let fill = 0;
  const flush = async () => {
    const n = fill;
    fill = 0;
    if (n) await write(buf.subarray(0, n));
  };
  return {
    flush,
    write: async (data) => {
      for (let at = 0; at < data.length;) {
        const n = Math.min(size - fill, data.length - at);
        buf.set(data.subarray(at, at + n), fill);
        fill += n;
        at += n;
        if (fill === size) await flush();
      }
    },
  };
}
