// The verify pass over a file, on every core. A restore reads the whole blob and
// authenticates every chunk before the target sees a byte of it (unseal.ts), so on a
// large archive the pass is time a restore waits with nothing else to do: ~0.2 s per GiB
// on one core here, with the other cores idle. The chunks of an encrypted archive are
// authenticated each on its own (its nonce is its position), so when the retrieve handed
// over the blob's file (the fs store's), the whole frames are split into one share per
// core: this thread checks the first, a worker thread each other (threads.ts), each
// reading its share at its own offsets (pread). What is left after the last whole frame
// (the archive's last chunk, or a sign it is cut short) goes on to unseal.ts's loop, as
// in a pass on one core.
//
// A blob streamed from a store (S3, a plugin) is read once, in order, on one core, as before.
import { fstatSync, readSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ArchiveDecryptError, ChunkOpener, checkChunks, HEADER_LENGTH } from "./encryption.ts";
import { READ_SIZE, YIELD_EVERY_MS } from "./seal.ts";
import { onThread, THREAD_MIN_BYTES } from "./threads.ts";

/** Frames of at least this many bytes per share, or fewer shares. */
export const MIN_SHARE_BYTES = THREAD_MIN_BYTES;
/**
 * At most this many shares, however many cores: each thread beyond the guard's own is a
 * JavaScript heap of its own (~10–20 MB), and a pass of 1 GiB on 4 is already ~0.06 s.
 */
export const MAX_SHARES = 4;

/** Frames [first, first + count) of the archive. */
export interface Share {
  first: number;
  count: number;
}

/** What a share's thread is given (guard-thread.ts). */
export interface ShareRequest extends Share {
  fd: number;
  key: Uint8Array;
  header: Uint8Array;
}

/**
 * Authenticates every whole frame of the archive in `fd` (a regular file) on up to `cores`
 * threads (MAX_SHARES at most; shares of at least `minShareBytes`), once the header is
 * read (`opener`, its counter 0). Returns null, having read nothing, where one thread would
 * do as well (one core, a small file, a header that does not parse: the caller's loop then
 * says why); else the offset of the first byte after the last whole frame, with the
 * opener's counter past those frames. Throws an ArchiveDecryptError on the first refusal
 * any share found, the others stopped. `onChecked`: frames checked, as they are.
 */
export async function verifyFrames(
  fd: number,
  opener: ChunkOpener,
  key: Uint8Array,
  onChecked: (frames: number) => void,
  { cores = availableParallelism(), minShareBytes = MIN_SHARE_BYTES }: { cores?: number; minShareBytes?: number } = {},
): Promise<number | null> {
  const stat = fstatSync(fd);
  if (!stat.isFile()) return null;
  const shares = Math.min(cores, MAX_SHARES, Math.floor(stat.size / minShareBytes));
  if (shares < 2) return null;
  const header = Buffer.alloc(HEADER_LENGTH);
  if (readSync(fd, header, 0, HEADER_LENGTH, 0) < HEADER_LENGTH) return null;
  try {
    opener.readHeader(header);
  } catch {
    return null;
  }
  const frames = Math.floor((stat.size - HEADER_LENGTH) / opener.frameSize);
  const split: Share[] = [];
  for (let i = 0; i < shares; i++) {
    const first = Math.floor((frames * i) / shares);
    split.push({ first, count: Math.floor((frames * (i + 1)) / shares) - first });
  }
  const stop = { stopped: false };
  const threads: { terminate(): void }[] = [];
  const others = split.slice(1).map(async (share) => {
    const thread = onThread({ share: { ...share, fd, key, header } }, (r) => "checked" in r && onChecked(r.checked));
    threads.push(thread);
    const end = await thread.ended;
    if ("done" in end || stop.stopped) return;
    if ("refused" in end) throw new ArchiveDecryptError(end.refused);
    // A thread that could not do its share (it did not start, it died) leaves it to this
    // one: what it checked before that is checked again, never skipped.
    console.error(`a thread of the verify pass failed (${"failed" in end ? end.failed : "?"}); frames ${share.first}–${share.first + share.count - 1} are checked on the guard's own thread`);
    await checkShare(fd, shareOpener(key, header, share.first), share, onChecked, stop);
  });
  try {
    await Promise.all([checkShare(fd, opener, split[0]!, onChecked, stop), ...others]);
  } catch (err) {
    stop.stopped = true;
    throw err;
  } finally {
    for (const thread of threads) thread.terminate();
  }
  opener.counter = frames;
  return HEADER_LENGTH + frames * opener.frameSize;
}

/** An opener for a share that starts at frame `first`. */
export function shareOpener(key: Uint8Array, header: Uint8Array, first: number): ChunkOpener {
  const opener = new ChunkOpener(key);
  opener.readHeader(header);
  opener.counter = first;
  return opener;
}

/**
 * Checks one share, `opener` at its first frame, reading up to READ_SIZE of whole frames at
 * a time at their offsets; gives the event loop a turn about every YIELD_EVERY_MS (on this
 * thread: the guard's lifeline) and ends early once `stop.stopped`.
 */
export async function checkShare(fd: number, opener: ChunkOpener, share: Share, onChecked: (frames: number) => void, stop: { stopped: boolean }): Promise<void> {
  const perRead = Math.max(1, Math.floor(READ_SIZE / opener.frameSize));
  const buf = Buffer.allocUnsafe(perRead * opener.frameSize);
  let lastYield = performance.now();
  for (let done = 0; done < share.count && !stop.stopped;) {
    const n = Math.min(perRead, share.count - done);
    const length = n * opener.frameSize;
    const offset = HEADER_LENGTH + (share.first + done) * opener.frameSize;
    let got = 0;
    while (got < length) {
      const r = readSync(fd, buf, got, length - got, offset + got);
      // The file is shorter than it was when the pass began: not the archive it was.
      if (r === 0) throw new Error(`the blob's file shrank while it was verified (no bytes at offset ${offset + got})`);
      got += r;
    }
    checkChunks(opener, buf.subarray(0, length));
    done += n;
    onChecked(n);
    if (performance.now() - lastYield >= YIELD_EVERY_MS) {
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
  }
}
