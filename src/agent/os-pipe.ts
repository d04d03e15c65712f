// A pipe between processes the agent starts, with the agent holding only the ends
// it needs. Bun has no pipe(2) of its own, so it is made as a FIFO opened from
// both sides and unlinked at once (fifo.ts): a kernel pipe like any other from
// then on. Why not hand one process's stdout stream to the next one's stdin
// (Bun.spawn's `stdin: p.stdout`)? Bun then copies every byte through this
// process (measured: ~0.37 s of CPU per GiB in the parent), and on the agent the
// target's raw dump is the largest stream of all.
import { closeSync, constants as C, openSync, rmSync } from "node:fs";
import { makeFifo, widenPipe } from "../pipeline/fifo.ts";

// A pipe holds 64 KiB by default: pg_dump and zstd then wake each other (and us) every
// 64 KiB. Bun's stdio socketpairs, which these pipes replaced, buffer more, and measured
// less CPU in pg_dump and zstd for it (bench/DATAPATH.md). So the pipe is widened to
// 1 MiB (widenPipe, fifo.ts).

export interface OsPipe {
  /** The read end, blocking: a process's stdin, or read on the thread pool where poll cannot be called (seal.ts). */
  readonly read: number;
  /** The read end again, non-blocking: a read that returns at once when nothing is there (seal.ts). */
  readonly nonBlocking: number;
  /** The write end (blocking): a process's stdout. */
  readonly write: number;
  /** Our copy of the write end goes: the reader then sees the end once the writing process exits. */
  closeWrite(): void;
  closeRead(): void;
  close(): void;
}

export function osPipe(): OsPipe {
  const { dir, path } = makeFifo();
  const fds: number[] = [];
  try {
    // In this order nothing blocks: a FIFO opens for writing once it has a reader, for reading once it has a writer.
    fds.push(openSync(path, C.O_RDONLY | C.O_NONBLOCK));
    fds.push(openSync(path, C.O_WRONLY));
    fds.push(openSync(path, C.O_RDONLY));
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const [nonBlocking, write, read] = fds as [number, number, number];
  widenPipe(write);
  const open = new Set(fds);
  const shut = (...which: number[]) => {
    for (const fd of which) if (open.delete(fd)) { try { closeSync(fd); } catch { /* already gone */ } }
  };
  return {
    read, nonBlocking, write,
    closeWrite: () => shut(write),
    closeRead: () => shut(read, nonBlocking),
    close: () => shut(read, nonBlocking, write),
  };
}
