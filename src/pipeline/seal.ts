// Sealing: the last step of a backup before the store. It encrypts the stream into
// the archive format (encryption.ts) when the archive has a data key, and counts
// and hashes (SHA-256) the bytes the store receives. It runs inside the store's
// guard (guard.ts --seal), between the stage upstream (zstd, gzip or the target,
// which write into the guard's FIFO directly) and the store, so that the archive
// never passes through the daemon: one process and one pipe fewer per byte, and
// the daemon's event loop (the API, task logs, heartbeats) never paces a backup
// (bench/DATAPATH.md).
//
// The event loop (the guard's lifeline to the daemon, the store's exit, signals)
// must stay free however long the stage upstream is quiet (pg_dump waiting on a
// lock): a read goes first to a non-blocking end of the input (one system call
// while data is there), and only when there is none does it wait, in short turns
// (waitFor, below). Where the sealed bytes go is the guard's choice: a
// FIFO that is a store plugin's stdin (fifoWriter), or, for a built-in store
// that the guard runs in its own process, a stream handed to it (StreamWriter).
import { readSync, writeSync } from "node:fs";
import { libc, POLLIN, POLLOUT } from "../libc.ts";
import { readOnPool, writeAllOnPool } from "./pool-io.ts";

export interface Sealed {
  /** Bytes read from the stage upstream (the raw size when nothing compressed them). */
  bytesIn: number;
  /** Bytes written to the store: the archive's size. */
  bytes: number;
  /** SHA-256 of the bytes written to the store, in hex; "" when not asked for (SealOptions.hash). */
  sha256: string;
}

export interface SealOptions {
  /** The input (a FIFO), opened twice: non-blocking and blocking (see above). */
  from: { nonBlocking: number; blocking: number };
  /** Where the sealed bytes go; a promise it returns is awaited before the next write. */
  write: (out: Uint8Array) => void | Promise<void>;
  /** `write` holds on to what it is given after it returned (StreamWriter): the read buffer, reused, is then copied. */
  writeKeepsChunks?: boolean;
  /** null: the archive is not encrypted, only counted and hashed. */
  dataKey: Uint8Array | null;
  /**
   * With no `dataKey`: the input is an archive already sealed with this key (on an agent).
   * It passes on unchanged, and every chunk of it is authenticated on the way
   * (encryption.ts PassingCheck); seal() throws at the first that fails, or when the input
   * does not end with the archive's last chunk.
   */
  check?: Uint8Array | null;
  /** false: no SHA-256 of what is written (an agent whose core authenticates every chunk instead). Default true. */
  hash?: boolean;
  /** Called about every `progressEvery` ms with the counts so far. */
  onProgress?: (p: { bytesIn: number; bytes: number }) => void;
  progressEvery?: number;
  /**
   * A bandwidth limit (bytes per second read from upstream; 0 or absent: none).
   * Applied here because this is where a backup's and a copy's bytes pass through
   * a process of ours: the guard simply reads no faster, and the FIFO's own
   * backpressure slows the stages upstream (zstd, the target, a store's retrieve).
   */
  rate?: number;
  /**
   * Awaited once the input ended, before the last chunk is sealed (the one that
   * authenticates the archive's end): the agent checks there that every stage
   * upstream exited 0, and throws if not, so that a stream cut short never ends well.
   */
  beforeLast?: () => Promise<void>;
}

// Reads of up to 256 KiB, and the buffer has room for a whole read beside a partial
// chunk carried over. Larger than the 64 KiB of a default pipe, so that a read, its
// hash update and its write to the store come once per several chunks; not as large
// as the 1 MiB the pipes hold, so that a read, its sealed copy and the cipher's
// output stay in a core's cache (2 MiB of L2 here) on their way to the store: reading
// 1 MiB at a time took ~10 % more CPU for the same stream (bench/DATAPATH.md,
// "Waiting on a pipe, and the size of a read").
export const READ_SIZE = 256 << 10;
// Even a store that keeps up must not keep the guard's event loop (IPC) waiting long.
export const YIELD_EVERY_MS = 100;

/** Seals `from` into `write` until `from` ends. Throws when either side fails (a store that stopped reading: EPIPE). */
export function seal(opts: SealOptions): Promise<Sealed> {
  return counted(() => sealAll(opts));
}

async function sealAll(opts: SealOptions): Promise<Sealed> {
  // The cipher only for an encrypted archive (and node:crypto, with the first whole chunk:
  // see encryption.ts).
  const cipher = opts.dataKey || opts.check ? await import("./encryption.ts") : undefined;
  const sealer = opts.dataKey ? new cipher!.ChunkSealer(opts.dataKey) : null;
  const checker = !sealer && opts.check ? new cipher!.PassingCheck(opts.check) : null;
  const hash = opts.hash === false ? null : new Bun.CryptoHasher("sha256");
  const chunk = sealer?.chunkSize ?? 0;
  const buf = Buffer.allocUnsafe(READ_SIZE + chunk);
  // The sealed chunks of each read, in one buffer reused from read to read when `write` lets
  // go of what it is given once it returned.
  const sealedBuf = sealer && !opts.writeKeepsChunks ? Buffer.allocUnsafe(cipher!.sealedRoom(sealer, buf.length)) : undefined;
  const progressEvery = opts.progressEvery ?? 1000;
  let bytesIn = 0;
  let bytes = 0;
  let lastYield = performance.now();
  let lastProgress = lastYield;
  const started = lastYield;

  const put = async (out: Uint8Array): Promise<void> => {
    hash?.update(out);
    bytes += out.length;
    const pending = opts.write(out);
    if (pending) await pending;
  };

  if (sealer) await put(sealer.header);
  // buf[0, fill): input not yet sealed (less than a chunk, between reads).
  let fill = 0;
  for (;;) {
    const n = await readSome(opts.from, buf, fill, READ_SIZE);
    if (n === 0) break;
    bytesIn += n;
    if (!sealer) {
      if (checker) {
        try { checker.update(buf.subarray(0, n)); } catch (err) { refusedUpstream(err); }
      }
      await put(opts.writeKeepsChunks ? new Uint8Array(buf.subarray(0, n)) : buf.subarray(0, n));
    } else {
      fill += n;
      // Every whole chunk read goes on as one buffer (sealChunks): a read of a widened
      // pipe holds up to 1 MiB, and a write, hash update and wakeup of the store per
      // 64 KiB chunk was most of the guard's CPU beyond the cipher (bench/DATAPATH.md).
      const off = fill - (fill % chunk);
      if (off) {
        await put(cipher!.sealChunks(sealer, buf.subarray(0, off), sealedBuf));
        buf.copyWithin(0, off, fill);
      }
      fill -= off;
    }
    if (opts.rate) await pace(started, bytesIn, opts.rate);
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
  await opts.beforeLast?.();
  // Always written, even when empty, so that the end of the archive is itself authenticated.
  if (sealer) await put(await sealer.sealLast(buf.subarray(0, fill)));
  if (checker) await checker.end().catch(refusedUpstream);
  return { bytesIn, bytes, sha256: hash?.digest("hex") ?? "" };
}

/** A refusal of the archive sealed upstream (`check`) said as such; any other error as it is. */
function refusedUpstream(err: unknown): never {
  if ((err as Error)?.name !== "ArchiveDecryptError") throw err;
  throw new Error(`the archive sealed upstream (on the agent) did not arrive as it was sealed, altered or cut on its way: ${(err as Error).message}`);
}

/** Waits until `bytes` read since `started` (ms) are within `rate` bytes per second. */
export async function pace(started: number, bytes: number, rate: number): Promise<void> {
  const due = started + (bytes / rate) * 1000;
  const wait = due - performance.now();
  if (wait > 1) await Bun.sleep(wait);
}

/**
 * One read of a FIFO opened twice (see the top of this file): at once from the
 * non-blocking end while there is data, else once it comes (waitFor), or where poll
 * cannot be called, on the thread pool from the blocking end. 0 at the end of the input.
 *
 * Never on the pool only because the input is quiet. Tried (bench/DATAPATH.md, "Twentieth
 * session"): a read that went to the pool after 50 ms of quiet hung a MariaDB backup run
 * beside its store, in both runs (test/web/browser-mysql-rabbitmq.test.ts; mariadb-dump is
 * slower to start than pg_dump). Such a guard's own work for that backup goes through the
 * pool too (compress-beside.ts, its FIFOs' opens), and Bun's pool is small: two threads on
 * a 2-vCPU host.
 */
export async function readSome(from: { nonBlocking: number; blocking: number }, buf: Buffer, at: number, max: number): Promise<number> {
  for (;;) {
    try {
      return readSync(from.nonBlocking, buf, at, max, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
    }
    if (!(await waitFor(from.nonBlocking, POLLIN))) {
      return readOnPool(from.blocking, buf, at, max);
    }
  }
}

// How long one wait for a pipe holds the thread before the event loop gets its turn again.
const WAIT_TURN_MS = 10;

/**
 * A write that has waited this long in turns (the stage downstream is slow: `zstd -d` paced
 * by pg_restore, a store plugin behind its service) waits on in turns of IDLE_TURN_MS. Each
 * turn costs a turn of the event loop and a poll(2): ~180 µs of CPU on a slow 2-vCPU host,
 * ~12–18 ms for every second of waiting in turns of 10 ms (bench/idle-wait.ts). A restore's
 * guard writing a 5 MiB archive into `zstd -d` over 7 s took ~0.13 s of CPU that way. A
 * poll returns as soon as there is room, so only the event loop's turn comes later: the
 * daemon's word, the lifeline. Not the thread pool (see readSome), and not for reads: the
 * guard that reads may be running the backup beside its store, whose steps need the turns.
 */
export const IDLE_MS = 50;
const IDLE_TURN_MS = 50;

/**
 * Waits until `fd` (a non-blocking end of a pipe) is ready for `events` or a turn of
 * `turnMs` (WAIT_TURN_MS) has passed: the event loop's turn first (the lifeline, an in-process
 * store's or an agent socket's own I/O), then poll(2) on this thread. False where poll
 * cannot be called: the caller then waits on the thread pool.
 *
 * Why not the thread pool always: a read or write there wakes a pool thread, which then
 * wakes this one, for every burst of a stage that is slower than us (zstd's output
 * comes ~60 KiB at a time). Measured on 2 cores with two other busy processes
 * (bench/DATAPATH.md, "Waiting on a pipe, and the size of a read"): sealing zstd's output
 * of 327 MB took 3.5–3.8 s on the thread pool and 3.1–3.3 s polling, as openssl reading
 * the same pipe (3.2–4.3 s).
 */
export async function waitFor(fd: number, events: number, turnMs = WAIT_TURN_MS): Promise<boolean> {
  const c = libc();
  // Several streams in one process (an agent serving requests at once): a poll for one
  // would hold up the others for its turn each time, so they all wait on the pool.
  if (!c || streams > 1) return false;
  await new Promise((r) => setImmediate(r));
  const ready = c.poll(fd, events, turnMs);
  // 1 (ready), 0 (timed out) or -EINTR: the caller tries again, after another turn of the
  // loop. Any other failure of poll itself: the pool, rather than trying again at once forever.
  return ready >= 0 || ready === -EINTR;
}

const EINTR = 4;

/** seal() and unseal() calls going on in this process (see waitFor). */
let streams = 0;

/** Runs one stream's loop (seal, unseal), counted while it runs. */
export async function counted<T>(loop: () => Promise<T>): Promise<T> {
  streams++;
  try {
    return await loop();
  } finally {
    streams--;
  }
}

/**
 * Writes into a pipe or FIFO (a store plugin's stdin; for an unsealing guard, the
 * input of the stage downstream) opened twice. The store can
 * stall for good, so a write goes first to the non-blocking end (one system call
 * while the store keeps up), and what that cannot take waits in short turns
 * (waitFor), leaving the event loop (the guard's lifeline to the daemon) free
 * while the store catches up (in longer turns after IDLE_MS); where poll cannot
 * be called, through the blocking end on the thread pool.
 */
export function fifoWriter(to: { nonBlocking: number; blocking: number }): (out: Uint8Array) => void | Promise<void> {
  return pollingWriter(to.nonBlocking, (rest) => writeAllOnPool(to.blocking, rest));
}

/**
 * fifoWriter's loop for any non-blocking fd (an agent's socket too: agent/socket-writer.ts):
 * write(2) while the fd takes it, else waitFor and again (in turns of IDLE_TURN_MS once it
 * has waited IDLE_MS); where poll cannot be called, the rest goes to `elsewhere`, awaited.
 * `ready` runs before every write(2) and throws to stop it (the fd may be gone meanwhile).
 * Errors other than EAGAIN are thrown as node:fs gives them.
 */
export function pollingWriter(fd: number, elsewhere: (rest: Uint8Array) => Promise<void>, ready?: () => void): (out: Uint8Array) => void | Promise<void> {
  return (data) => {
    ready?.();
    const at = writeSome(fd, data, 0);
    if (at < data.length) return writeRest(fd, data, at, elsewhere, ready);
  };
}

async function writeRest(fd: number, data: Uint8Array, at: number, elsewhere: (rest: Uint8Array) => Promise<void>, ready?: () => void): Promise<void> {
  const since = performance.now();
  while (at < data.length) {
    const turn = performance.now() - since >= IDLE_MS ? IDLE_TURN_MS : WAIT_TURN_MS;
    if (!(await waitFor(fd, POLLOUT, turn))) return elsewhere(data.subarray(at));
    ready?.();
    at = writeSome(fd, data, at);
  }
}

/** One write(2) of `data` from `at`: the offset after what the fd took (none: EAGAIN). */
function writeSome(fd: number, data: Uint8Array, at: number): number {
  try {
    return at + writeSync(fd, data, at);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
    return at;
  }
}

/**
 * The sealed bytes as a stream, for a store run in the same process: no pipe, no
 * copy. A write waits while the store has 4 MiB or more it has not taken yet, so
 * memory stays bounded; once the store stopped taking them (it failed), a write throws.
 */
export class StreamWriter {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private wake: (() => void) | undefined;
  private canceled = false;

  constructor() {
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => { this.controller = c; },
      pull: () => this.resume(),
      cancel: () => { this.canceled = true; this.resume(); },
      // In bytes: the sealed buffers are up to a read's worth (1 MiB) each (see seal).
    }, new ByteLengthQueuingStrategy({ highWaterMark: 4 << 20 }));
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  readonly write = (out: Uint8Array): void | Promise<void> => {
    if (this.canceled) throw new Error("the store stopped reading its input");
    this.controller.enqueue(out);
    if ((this.controller.desiredSize ?? 0) > 0) return;
    return new Promise<void>((resolve) => (this.wake = resolve)).then(() => {
      if (this.canceled) throw new Error("the store stopped reading its input");
    });
  };

  /** The end of the store's input: only once every byte is sealed and the daemon committed. */
  close(): void {
    if (!this.canceled) this.controller.close();
  }

  /** Sealing failed: the store's input errors (never ends), so the store gives up and removes what it wrote. */
  fail(err: Error): void {
    if (this.canceled) return;
    this.canceled = true;
    this.controller.error(err);
  }
}
