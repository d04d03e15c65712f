// Looking at the first bytes of a pipe without taking them: tee(2) copies them into
// a pipe of our own, and what is in the input stays there for whoever reads it next.
// A plugin that must tell what kind of input it has (a pg_dump archive or SQL) can
// then hand its stdin to the tool as it is: the tool reads every byte itself, none
// crosses the plugin (bench/DATAPATH.md, "Three data sets").
import { readSync } from "node:fs";
import { libc } from "../src/libc.ts";
import { osPipe } from "../src/agent/os-pipe.ts";

const SPLICE_F_NONBLOCK = 2;
const EAGAIN = 11;
/** How often to look again while the pipe is still empty. */
const POLL_MS = 5;

/**
 * The first `n` bytes in the pipe `fd`, left in it; an empty buffer when the pipe ended
 * empty. null when it cannot be told this way (not a pipe, no glibc, or fewer than `n`
 * bytes there so far, which may be all there will ever be): the caller then reads them.
 */
export async function peekPipe(fd: number, n: number, signal?: AbortSignal): Promise<Buffer | null> {
  const c = libc();
  if (!c) return null;
  let scratch;
  try {
    scratch = osPipe();
  } catch {
    return null;
  }
  try {
    for (;;) {
      const got = c.tee(fd, scratch.write, n, SPLICE_F_NONBLOCK);
      // Nothing there and no writer left: the input is empty.
      if (got === 0) return Buffer.alloc(0);
      if (got > 0) {
        if (got < n) return null;
        const head = Buffer.alloc(n);
        return readSync(scratch.nonBlocking, head, 0, n, null) === n ? head : null;
      }
      if (got !== -EAGAIN) return null;
      signal?.throwIfAborted();
      await Bun.sleep(POLL_MS);
    }
  } finally {
    scratch.close();
  }
}
