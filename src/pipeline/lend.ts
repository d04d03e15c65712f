// Lending pages to a pipe: vmsplice(2) puts references to a buffer's pages into the
// pipe instead of copying the bytes, and its reader's read(2) copies them out from
// there. The restore proper of a large local file writes every byte of plaintext into
// the decompressor's FIFO; lent, the copy into the pipe is gone, and the reader's
// reads cost less too. 1 GiB of random plaintext into `zstd -d` (bench/restore-proper.ts):
// the guard 0.52 s of CPU against 0.67 written, zstd 0.50 against 0.60, 0.89 s against
// 1.13. Only where the reader keeps up: paced by what comes after it (pg_restore), the
// pipe is full, each call lends a few pages as they are freed, and the two cost the same
// (bench/DATAPATH.md, "Seventeenth session").
//
// A lent page belongs to the pipe until its reader read it: written over before, the
// reader would get the new bytes. Three rules keep that from happening:
// - A buffer is handed out again only once a pipe's worth of bytes (F_GETPIPE_SZ, asked
//   each time: its size can change) was lent after it. The pipe holds at most
//   size ÷ PAGE_SIZE pages and a page at most PAGE_SIZE bytes, so by then every page of
//   it has left the pipe, read.
// - The pipe's reader must copy what it reads (read(2)): a reader that splices the pages
//   on (to a socket, or tee(2)s them) keeps references after they left the pipe. So pages
//   are lent only to a decompressor of ours (zstd, gzip), never to a target's own
//   program, which may do either (run.ts decides, the guard is told: `lend`).
// - A buffer is let go only once the pipe let go of it (one too small for a larger chunk
//   size): the pipe may still hold the last ones' pages when the lending ends, and memory
//   let go is soon written over by the allocator's next user. A lender and its
//   buffers (a pipe's worth and a few) live until the process exits, which unmaps them
//   without touching the pages a pipe still holds; so does the thread that lent them
//   (threads.ts).
import { writeSync } from "node:fs";
import { errnoName, libc } from "../libc.ts";
import { pipeSize } from "./fifo.ts";

const EINTR = 4;

/** Every lender made, kept from the garbage collector until the process exits (see above). */
const lenders: PageLender[] = [];

export class PageLender {
  /** Buffers handed out, oldest first, each with the count of bytes lent when it was last lent (or handed out). */
  private readonly ring: { buf: Buffer; mark: number }[] = [];
  /** Bytes lent so far. */
  private lent = 0;

  private constructor(private readonly fd: number, private readonly vmsplice: (fd: number, data: Uint8Array) => number, private readonly pipeSize: () => number) {}

  /** A lender into the pipe `fd` (blocking), or null where pages cannot be lent (no vmsplice, not a pipe). */
  static to(fd: number): PageLender | null {
    const c = libc();
    if (!c || pipeSize(fd) === 0) return null;
    const lender = new PageLender(fd, c.vmsplice, () => pipeSize(fd));
    lenders.push(lender);
    return lender;
  }

  /**
   * A buffer of at least `size` bytes to fill and write(): the oldest one handed out, once
   * the pipe has let go of every page of it; a new one until then (a pipe's worth and a few).
   */
  buffer(size: number): Buffer {
    const oldest = this.ring[0];
    if (oldest && this.lent - oldest.mark >= this.pipeSize()) {
      this.ring.shift();
      // One too small (a header named a larger chunk size) is let go.
      if (oldest.buf.length >= size) {
        oldest.mark = this.lent;
        this.ring.push(oldest);
        return oldest.buf;
      }
    }
    // Its own memory, never a slice of a pool: write() tells a buffer of ours by it.
    const buf = Buffer.allocUnsafeSlow(size);
    this.ring.push({ buf, mark: this.lent });
    return buf;
  }

  /**
   * Writes `bytes` into the pipe, all of them, blocking while it is full: lent when they lie
   * in a buffer from buffer(), copied (write(2)) otherwise. Throws as a write would (EPIPE:
   * the reader is gone).
   */
  write(bytes: Uint8Array): void {
    const mine = this.ring.findLast((e) => e.buf.buffer === bytes.buffer);
    if (!mine) {
      for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at);
      return;
    }
    for (let at = 0; at < bytes.length;) {
      const n = this.vmsplice(this.fd, bytes.subarray(at));
      if (n === -EINTR) continue;
      if (n < 0) throw errnoError(-n, "vmsplice");
      at += n;
      this.lent += n;
    }
    mine.mark = this.lent;
  }
}

/** An error as node:fs would throw it for errno `errno` (its code: EPIPE, ...). */
function errnoError(errno: number, call: string): Error {
  const code = errnoName(errno);
  return Object.assign(new Error(`${code}: ${call} failed`), { code, errno: -errno, syscall: call });
}
