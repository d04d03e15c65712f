// Sealing: the last step of a backup before the store. It encrypts the stream into
// the archive format (encryption.ts) when the archive has a data key, and counts
// and hashes (SHA-256) the bytes the store receives. It runs inside the store's
// guard (guard.ts --seal), between the stage upstream (zstd, gzip or the target,
// which write into the guard's FIFO directly) and the store's stdin, so that the
// compressed archive never passes through the daemon: the daemon's event loop
// carrying every chunk through web streams cost more CPU than the rest of the
// pipeline could hide on two cores (bench/DATAPATH.md).
//
// Reads are synchronous and large: the stage upstream always runs under a guard
// of its own that kills it when the daemon dies, so a blocked read always ends.
// The store, though, can stall for good, so writes go first to a non-blocking end
// (one system call while the store keeps up) and only what that cannot take goes
// through a blocking end on the thread pool, leaving the event loop (the guard's
// lifeline to the daemon) free while the store catches up.
import { readSync, write, writeSync } from "node:fs";
import { ChunkSealer } from "./encryption.ts";

export interface Sealed {
  /** Bytes read from the stage upstream (the raw size when nothing compressed them). */
  bytesIn: number;
  /** Bytes written to the store: the archive's size. */
  bytes: number;
  /** SHA-256 of the bytes written to the store, in hex. */
  sha256: string;
}

export interface SealOptions {
  /** The input, opened blocking. */
  from: number;
  /** The store's input: the same FIFO opened twice, non-blocking and blocking (see above). */
  to: { nonBlocking: number; blocking: number };
  /** null: the archive is not encrypted, only counted and hashed. */
  dataKey: Uint8Array | null;
  /** Called about every `progressEvery` ms with the counts so far. */
  onProgress?: (p: { bytesIn: number; bytes: number }) => void;
  progressEvery?: number;
}

// Large reads: a pipe hands over what it holds (64 KiB by default) per read, and
// the buffer has room for a whole read beside a partial chunk carried over.
const READ_SIZE = 1 << 20;
// Even a store that keeps up must not keep the guard's event loop (IPC) waiting long.
const YIELD_EVERY_MS = 100;

/** Seals `from` into `to` until `from` ends. Throws when either side fails (a store that stopped reading: EPIPE). */
export async function seal(opts: SealOptions): Promise<Sealed> {
  const sealer = opts.dataKey ? new ChunkSealer(opts.dataKey) : null;
  const hash = new Bun.CryptoHasher("sha256");
  const chunk = sealer?.chunkSize ?? 0;
  const buf = Buffer.allocUnsafe(READ_SIZE + chunk);
  const progressEvery = opts.progressEvery ?? 1000;
  let bytesIn = 0;
  let bytes = 0;
  let lastYield = performance.now();
  let lastProgress = lastYield;

  const put = async (out: Uint8Array): Promise<void> => {
    hash.update(out);
    bytes += out.length;
    await writeAll(opts.to, out);
  };

  if (sealer) await put(sealer.header);
  // buf[0, fill): input not yet sealed (less than a chunk, between reads).
  let fill = 0;
  for (;;) {
    const n = readSync(opts.from, buf, fill, READ_SIZE, null);
    if (n === 0) break;
    bytesIn += n;
    if (!sealer) {
      await put(buf.subarray(0, n));
    } else {
      fill += n;
      let off = 0;
      for (; fill - off >= chunk; off += chunk) await put(sealer.seal(buf.subarray(off, off + chunk), false));
      if (off) buf.copyWithin(0, off, fill);
      fill -= off;
    }
    const now = performance.now();
    if (now - lastProgress >= progressEvery) {
      opts.onProgress?.({ bytesIn, bytes });
      lastProgress = now;
    }
    if (now - lastYield >= YIELD_EVERY_MS) {
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
  }
  // Always written, even when empty, so that the end of the archive is itself authenticated.
  if (sealer) await put(sealer.seal(buf.subarray(0, fill), true));
  return { bytesIn, bytes, sha256: hash.digest("hex") };
}

async function writeAll(to: SealOptions["to"], data: Uint8Array): Promise<void> {
  let at = 0;
  try {
    at = writeSync(to.nonBlocking, data);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
  }
  while (at < data.length) {
    // The store is behind: wait for it off the event loop.
    at += await new Promise<number>((resolve, reject) =>
      write(to.blocking, data, at, data.length - at, null, (err, n) => (err ? reject(err) : resolve(n))));
  }
}
