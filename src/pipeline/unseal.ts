// Unsealing: the first step of a restore after the store, the counterpart of
// sealing (seal.ts). It reads what the store's `retrieve` writes (or the blob's file
// itself, when the retrieve handed it over: the fs store's), counts it, hashes
// it (SHA-256) when the archive is not encrypted, and decrypts it chunk by chunk
// (encryption.ts) when it is, passing each chunk's plaintext on only once its tag
// was verified. It runs inside the retrieve's guard (guard.ts --unseal), between the
// store and the stage downstream (zstd -d, gzip -d, or the target itself), which
// reads a FIFO the guard writes into: no byte of the archive crosses the daemon, in
// a restore as in a backup (bench/DATAPATH.md).
//
// The verify pass passes nothing on (no `write`): it only reads, counts, hashes or
// authenticates (an encrypted archive's chunks without decrypting them, and, when the
// retrieve handed over a large file, on every core: verify-file.ts). The restore proper
// passes the plaintext on (from a large file handed over, on a thread of its own: see
// `writeFd`; its pages lent to a decompressor of ours: `lend`), but for an unencrypted
// archive not its last `holdTail` bytes: nothing
// authenticates its chunks on the way, and a target may apply what it got before its
// input ends (pg_restore commits a whole custom-format dump before it sees EOF), so a
// blob swapped for another whole archive between the passes would be applied before
// its SHA-256 refused it. The guard writes that tail only once the daemon compared the
// counts (see guard.ts).
//
// Reads and writes as in seal.ts (readSome, fifoWriter): up to 256 KiB at a time, non-blocking
// first and waiting in short turns only when that would block, so the guard's event
// loop (its lifeline to the daemon, signals) stays free however slow either side is. A
// file handed over is read the same way, and a regular file never makes a read wait in
// turns: each read is a plain read(2) on the event loop. Should the file's disk or mount
// stall, the guard notices a lost lifeline or a SIGTERM only once that read returns (the
// daemon's SIGKILL after a cancel still ends it), as the fs store's own writes already do
// in a backup. Reading it on the thread pool instead doubled the time of a verify pass
// (1 GiB: 715–890 ms against 368–437; bench/DATAPATH.md, "Tenth session").
import { fstatSync, readSync } from "node:fs";
import type { ArchiveDecryptError } from "./encryption.ts";
import { counted, pace, READ_SIZE, readSome, YIELD_EVERY_MS } from "./seal.ts";
import { onThread, THREAD_MIN_BYTES } from "./threads.ts";

export interface Unsealed {
  /** Bytes read from the store: the blob's size. */
  bytes: number;
  /** Bytes of plaintext (still compressed) the blob holds: passed on, or that would have been (the verify pass). */
  bytesOut: number;
  /** SHA-256 of the blob in hex; null when encrypted (not hashed: see readCheck in run.ts). */
  sha256: string | null;
}

export interface UnsealOptions {
  /** The store's output (a FIFO), opened twice: non-blocking and blocking (see seal.ts); or the blob's file, handed over (one fd, both). */
  from: { nonBlocking: number; blocking: number };
  /**
   * Where the plaintext goes; null: nowhere, the verify pass. It must be done with what it
   * was given once it returned (or its promise resolved): the buffer is reused.
   */
  write: ((out: Uint8Array) => void | Promise<void>) | null;
  /**
   * The blocking write end `write` writes to (a FIFO). Given, the restore proper of a large
   * file handed over runs on a thread of its own (threads.ts), whose writes wait in
   * write(2) as a tool's would: waiting for room in the FIFO from the event loop instead
   * (fifoWriter) woke the guard for every read of the stage downstream. With the faster
   * verify pass, the retrieve's guard went from 1.45 to 1.05 s of CPU per GiB of raw dump
   * (bench/DATAPATH.md, "Fifteenth session").
   */
  writeFd?: number;
  /**
   * With `writeFd`: its reader copies what it reads (a decompressor of ours), so the thread
   * may lend it the plaintext's pages instead of writing them (lend.ts).
   */
  lend?: boolean;
  /**
   * Where each read's plaintext is opened (encrypted, the restore proper), for a `write`
   * that keeps what it was given after it returned (lend.ts); without it, one buffer is
   * reused from read to read.
   */
  plainBuffer?: (size: number) => Buffer;
  /** null: the archive is not encrypted, only counted and hashed. */
  dataKey: Uint8Array | null;
  /** With `write`, unencrypted: the last bytes are not written but returned (`tail`), for after the daemon's commit. */
  holdTail?: number;
  /** Called about every `progressEvery` ms: bytes read from the store, bytes of plaintext passed on. */
  onProgress?: (p: { bytesIn: number; bytes: number }) => void;
  progressEvery?: number;
  /** A bandwidth limit (bytes per second read from the store; 0 or absent: none). */
  rate?: number;
}

/**
 * The blob is not an archive under this key, or not a whole one (an ArchiveDecryptError's
 * words). `atEnd`: refused only once the store's output had ended (it is short), when a
 * store that failed part way may be the cause.
 */
export class Refused extends Error {
  constructor(message: string, readonly atEnd: boolean) {
    super(message);
    this.name = "Refused";
  }
}


/**
 * What the restore proper of an unencrypted archive keeps back until the daemon's
 * commit (`holdTail`; and the agent's restore, which the daemon still feeds, the same
 * in run.ts): more than a zstd block (128 KiB), so that a dump is never whole before.
 */
export const TAIL_HELD = 1 << 20;

/**
 * Unseals `from` into `write` until `from` ends. Throws Refused when the blob fails
 * authentication (encrypted), and whatever reading or writing throws (EPIPE: the
 * stage downstream stopped reading). What it throws about was never written.
 */
export function unseal(opts: UnsealOptions): Promise<{ unsealed: Unsealed; tail: Uint8Array }> {
  return counted(() => unsealAll(opts));
}

async function unsealAll(opts: UnsealOptions): Promise<{ unsealed: Unsealed; tail: Uint8Array }> {
  // A file the retrieve handed over (one fd for both ends), read at offsets of our choice.
  const file = opts.from.blocking === opts.from.nonBlocking && !opts.rate ? opts.from.blocking : null;
  if (file !== null && opts.write && opts.writeFd !== undefined && largeFile(file)) {
    const done = await onThreadOfItsOwn(file, opts.writeFd, opts);
    if (done) return done;
  }
  // The cipher only for an encrypted archive, as in seal.ts.
  const cipher = opts.dataKey ? await import("./encryption.ts") : undefined;
  const opener = cipher ? new cipher.ChunkOpener(opts.dataKey!) : null;
  const headerLength = cipher?.HEADER_LENGTH ?? 0;
  const hash = opener ? null : new Bun.CryptoHasher("sha256");
  const hold = opts.write && !opener ? (opts.holdTail ?? 0) : 0;
  const progressEvery = opts.progressEvery ?? 1000;
  // Room for a whole read beside what is carried over: a partial frame (encrypted) or the held tail.
  let buf = Buffer.allocUnsafe(READ_SIZE + (cipher ? cipher.DEFAULT_CHUNK_SIZE + cipher.TAG_LENGTH : hold));
  // Encrypted, the restore proper: the plaintext of each read's frames, reused from read to
  // read (what was written into the FIFO is in the pipe by the time the next read is opened).
  let plain = opener && opts.write ? Buffer.allocUnsafe(buf.length) : undefined;
  let bytesIn = 0;
  let bytesOut = 0;
  let lastYield = performance.now();
  let lastProgress = lastYield;
  const started = lastYield;
  // Encrypted: whether the header is read (the opener knows the frame size from then on).
  let headed = false;
  /** The counts to onProgress, about every `progressEvery` ms. */
  const progress = (now: number): void => {
    if (now - lastProgress < progressEvery) return;
    opts.onProgress?.({ bytesIn, bytes: bytesOut });
    lastProgress = now;
  };

  const put = async (out: Uint8Array): Promise<void> => {
    bytesOut += out.length;
    if (!opts.write || !out.length) return;
    const pending = opts.write(out);
    if (pending) await pending;
  };
  const refused = (err: unknown, atEnd: boolean): unknown =>
    (err as Error)?.name === "ArchiveDecryptError" ? new Refused((err as ArchiveDecryptError).message, atEnd) : err;

  // The verify pass over a file handed over: its whole frames on every core at once
  // (verify-file.ts); the loop below then reads what follows them, from `position`.
  let position: number | null = null;
  if (file !== null && opener && !opts.write) {
    const { verifyFrames } = await import("./verify-file.ts");
    const onChecked = (frames: number) => {
      bytesIn += frames * opener.frameSize;
      bytesOut += frames * opener.chunkSize;
      progress(performance.now());
    };
    try {
      position = await verifyFrames(file, opener, opts.dataKey!, onChecked);
    } catch (err) {
      throw refused(err, false);
    }
    if (position !== null) {
      headed = true;
      // Exact, whatever the progress counted (a share a failed worker left is checked again).
      bytesIn = position;
      bytesOut = opener.counter * opener.chunkSize;
    }
  }

  // buf[0, fill): read, not yet passed on (a partial frame, the held tail, the header).
  let fill = 0;
  for (;;) {
    const n = position === null ? await readSome(opts.from, buf, fill, READ_SIZE) : readSync(file!, buf, fill, READ_SIZE, position);
    if (n === 0) break;
    if (position !== null) position += n;
    bytesIn += n;
    if (!opener) {
      hash!.update(buf.subarray(fill, fill + n));
      fill += n;
      const off = fill - Math.min(fill, hold);
      if (off) {
        await put(buf.subarray(0, off));
        buf.copyWithin(0, off, fill);
        fill -= off;
      }
    } else {
      fill += n;
      try {
        if (!headed && fill >= headerLength) {
          opener.readHeader(buf.subarray(0, headerLength));
          headed = true;
          buf.copyWithin(0, headerLength, fill);
          fill -= headerLength;
          // A header may name a larger chunk (up to MAX_CHUNK_SIZE): room for one frame beside a read.
          if (buf.length < READ_SIZE + opener.frameSize) {
            const bigger = Buffer.allocUnsafe(READ_SIZE + opener.frameSize);
            buf.copy(bigger, 0, 0, fill);
            buf = bigger;
            if (plain) plain = Buffer.allocUnsafe(buf.length);
          }
        }
        if (headed) {
          // Every whole frame read is opened at once (a full frame is never the last): one
          // write of their plaintext per read, as seal.ts seals one per read.
          const off = fill - (fill % opener.frameSize);
          if (off) {
            const frames = buf.subarray(0, off);
            // The verify pass only checks: the plaintext is counted, not gathered.
            const into = plain && (opts.plainBuffer?.(plain.length) ?? plain);
            const opened = into ? cipher!.openChunks(opener, frames, into) : cipher!.checkChunks(opener, frames);
            buf.copyWithin(0, off, fill);
            fill -= off;
            if (into) await put(into.subarray(0, opened));
            else bytesOut += opened;
          }
        }
      } catch (err) {
        throw refused(err, false);
      }
    }
    if (opts.rate) await pace(started, bytesIn, opts.rate);
    const now = performance.now();
    progress(now);
    if (now - lastYield >= YIELD_EVERY_MS) {
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
  }
  let tail: Uint8Array = new Uint8Array(0);
  if (opener) {
    let last: Buffer;
    try {
      // What is left after the last whole frame is the last chunk, or the archive is cut short.
      last = await opener.openLast(headed ? buf.subarray(0, fill) : new Uint8Array(0), headed ? headerLength : fill);
    } catch (err) {
      throw refused(err, true);
    }
    await put(last);
  } else if (fill) {
    tail = opts.write ? new Uint8Array(buf.subarray(0, fill)) : tail;
    bytesOut += fill;
  }
  opts.onProgress?.({ bytesIn, bytes: bytesOut });
  return { unsealed: { bytes: bytesIn, bytesOut, sha256: hash ? hash.digest("hex") : null }, tail };
}

/** A file handed over worth a thread of its own. */
function largeFile(fd: number): boolean {
  const stat = fstatSync(fd);
  return stat.isFile() && stat.size >= THREAD_MIN_BYTES;
}

/**
 * unseal() of the file `fd` into `out` on a guard thread, which calls it there with a
 * blocking writer; null when the thread could not begin (nothing was read or written:
 * the caller unseals on this thread). Rejects as unseal() would.
 */
async function onThreadOfItsOwn(fd: number, out: number, opts: UnsealOptions): Promise<{ unsealed: Unsealed; tail: Uint8Array } | null> {
  let began = false;
  const thread = onThread(
    { unseal: { fd, out, dataKey: opts.dataKey, holdTail: opts.dataKey ? 0 : (opts.holdTail ?? 0), progressEvery: opts.progressEvery ?? 1000, lend: opts.lend ?? false } },
    (report) => {
      if ("started" in report) began = true;
      else if ("progress" in report) opts.onProgress?.(report.progress);
    },
  );
  const end = await thread.ended;
  if ("unsealed" in end) return { unsealed: end.unsealed, tail: end.tail };
  if ("refused" in end) throw new Refused(end.refused, end.atEnd ?? false);
  const failed = "failed" in end ? end : { failed: "the guard's thread ended without a word", code: undefined };
  if (!began) {
    console.error(`the restore's thread could not begin (${failed.failed}); the guard's own thread reads the blob`);
    return null;
  }
  throw Object.assign(new Error(failed.failed), { code: failed.code });
}
