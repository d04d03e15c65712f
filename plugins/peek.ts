// Looking at the first bytes of a pipe without taking them: tee(2) copies them into
// a pipe of our own, and what is in the input stays there for whoever reads it next.
// A plugin that must tell what kind of input it has (a pg_dump archive or SQL) can
// then hand its stdin to the tool as it is: the tool reads every byte itself, none
// crosses the plugin (bench/DATAPATH.md, "Three data sets"). peekPipe looks at a
// fixed number of bytes (pg_dump's magic), peekLine at the first line (a mysql
// archive's header).
import { readSync } from "node:fs";
import { libc } from "../src/libc.ts";
import { osPipe } from "../src/agent/os-pipe.ts";

const SPLICE_F_NONBLOCK = 2;
const EAGAIN = 11;
/** How often to look again while the pipe is still empty. */
const POLL_MS = 5;

/**
 * Tees what is in the pipe `fd` (up to `max` bytes, from its start each time) into a
 * scratch pipe and asks `look` what it makes of the `copied` bytes, which it must take
 * out of `scratch` (non-blocking): a Buffer or null is the answer, undefined means
 * "look again later" (every POLL_MS). An empty buffer when the pipe ended empty; null
 * when tee(2) cannot be used (no glibc, not a pipe).
 */
async function teeUntil(fd: number, max: number, signal: AbortSignal | undefined,
  look: (copied: number, scratch: number) => Buffer | null | undefined): Promise<Buffer | null> {
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
      const got = c.tee(fd, scratch.write, max, SPLICE_F_NONBLOCK);
      // Nothing there and no writer left: the input is empty.
      if (got === 0) return Buffer.alloc(0);
      if (got > 0) {
        const seen = look(got, scratch.nonBlocking);
        if (seen !== undefined) return seen;
      } else if (got !== -EAGAIN) return null;
      signal?.throwIfAborted();
      await Bun.sleep(POLL_MS);
    }
  } finally {
    scratch.close();
  }
}

/**
 * The first `n` bytes in the pipe `fd`, left in it; an empty buffer when the pipe ended
 * empty. null when it cannot be told this way (not a pipe, no glibc, or fewer than `n`
 * bytes there so far, which may be all there will ever be): the caller then reads them.
 */
export function peekPipe(fd: number, n: number, signal?: AbortSignal): Promise<Buffer | null> {
  return teeUntil(fd, n, signal, (got, scratch) => {
    if (got < n) return null;
    const head = Buffer.alloc(n);
    return readSync(scratch, head, 0, n, null) === n ? head : null;
  });
}

/**
 * Each tee copies from the start of the input again: takes all `got` bytes of this copy out of
 * `scratch` into `buf`; false when they are not all there.
 */
function copyOut(scratch: number, buf: Buffer, got: number): boolean {
  for (let have = 0; have < got;) {
    const n = readSync(scratch, buf, have, got - have, null);
    if (n <= 0) return false;
    have += n;
  }
  return true;
}

/** How long peekLine waits for the rest of a first line it has seen the start of. */
const LINE_WAIT_MS = 200;

/**
 * The first line in the pipe `fd` (up to and with its newline), left in it; an empty
 * buffer when the pipe ended empty. null when it cannot be told this way (not a pipe,
 * no glibc, no newline in the first `max` bytes, or none came within LINE_WAIT_MS of
 * the first bytes: an input of one short line may be all there is, and tee(2) cannot
 * tell its end from a pause): the caller then reads them.
 */
export function peekLine(fd: number, max: number, signal?: AbortSignal): Promise<Buffer | null> {
  let firstSeen: number | undefined;
  const buf = Buffer.alloc(max);
  return teeUntil(fd, max, signal, (got, scratch) => {
    if (!copyOut(scratch, buf, got)) return null;
    const newline = buf.subarray(0, got).indexOf(10);
    if (newline !== -1) return Buffer.from(buf.subarray(0, newline + 1));
    // The scratch pipe (1 MiB) or `max` is full without a newline: not a line this can see.
    if (got >= max) return null;
    firstSeen ??= performance.now();
    return performance.now() - firstSeen > LINE_WAIT_MS ? null : undefined;
  });
}

/**
 * The bytes in the pipe `fd` before the first line that starts with `line` (from the start of
 * the input up to and with the newline before it), left in it. null when there is no such line
 * in the first `max` bytes, or when none came within LINE_WAIT_MS of the last bytes seen (the
 * input may have less, and tee(2) cannot tell its end from a pause), or when it cannot be told
 * this way (not a pipe, no glibc): the caller then reads them.
 */
export function peekBefore(fd: number, line: string, max: number, signal?: AbortSignal): Promise<Buffer | null> {
  const mark = Buffer.from(`\n${line}`);
  const buf = Buffer.alloc(max);
  let seen = 0;
  let lastGrowth = performance.now();
  return teeUntil(fd, max, signal, (got, scratch) => {
    if (!copyOut(scratch, buf, got)) return null;
    const at = buf.subarray(0, got).indexOf(mark);
    if (at !== -1) return Buffer.from(buf.subarray(0, at + 1));
    if (got >= max) return null;
    if (got > seen) { seen = got; lastGrowth = performance.now(); }
    return performance.now() - lastGrowth > LINE_WAIT_MS ? null : undefined;
  });
}

/**
 * Takes out of the pipe `fd` the bytes a peek saw there, `expected` (so they are there: a read
 * returns at once), and checks that they are the same.
 */
export function takeFromPipe(fd: number, expected: Buffer): void {
  const got = Buffer.alloc(expected.length);
  for (let at = 0; at < got.length;) {
    try {
      const n = readSync(fd, got, at, got.length - at, null);
      if (n <= 0) throw new Error(`the input ended ${got.length - at} bytes short of what was seen in it`);
      at += n;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      Bun.sleepSync(1);
    }
  }
  if (!got.equals(expected)) throw new Error("the input changed between a look at it and its read");
}
