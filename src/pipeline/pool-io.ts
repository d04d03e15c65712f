// Reads and writes of a blocking fd (a FIFO) on the thread pool, for a guard whose own
// thread must stay free while they wait: the event loop carries its lifeline to the
// daemon and its signals. Used by seal.ts where poll(2) cannot be called, and by
// compress-beside.ts for the head of a backup.

import { read, write } from "node:fs";

/** One read(2) of up to `max` bytes into `buf` at `at`: the count, 0 at the end of the input. */
export function readOnPool(fd: number, buf: Uint8Array, at: number, max: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, at, max, null, (err, n) => (err ? reject(err) : resolve(n))));
}

/** One write(2) of `data` from `at`: the count written, which a pipe may keep short of the rest. */
export function writeOnPool(fd: number, data: Uint8Array, at: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, data, at, data.length - at, null, (err, n) => (err ? reject(err) : resolve(n))));
}

/** All of `data`, in as many writes as the fd takes. */
export async function writeAllOnPool(fd: number, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length;) at += await writeOnPool(fd, data, at);
}
