// Moving one stream into and out of an object store with bounded memory.
//
// The uploader reads the stream in parts of `chunkSize` and keeps at most
// `concurrency` parts in flight (plus the one being filled): memory is about
// chunkSize × (concurrency + 1), whatever the stream's length, and stdin is not
// read further while every slot is busy (backpressure to gpbackup_helper).
// A stream shorter than one part is one plain PUT (an empty stream an empty
// object, as gpbackup_s3_plugin stores it).
//
// MultipartTarget is deliberately small: the built-in s3 store (plugins/s3) has
// its own bounded multipart uploader; once both are on main, one of them can
// implement the other's interface and this file shrinks to the chunker.
import type { Transfer } from "./config.ts";

/** One object being written in parts. Contract: parts are numbered from 1; complete() gets them in order. */
export interface MultipartTarget {
  /** The whole object in one request (streams shorter than one part, and empty ones). */
  putWhole(body: Uint8Array): Promise<void>;
  begin(): Promise<void>;
  /** Resolves with the part's ETag. Called concurrently, up to the transfer's concurrency. */
  part(number: number, body: Uint8Array): Promise<string>;
  complete(etags: string[]): Promise<void>;
  /** Best effort: a failed upload leaves no parts billed behind it. */
  abort(): Promise<void>;
}

/** Where restored bytes go, in order. A returned promise is waited for (backpressure). */
export type Sink = (chunk: Uint8Array) => Promise<void> | void;

/**
 * Yields the stream in pieces of exactly `size` bytes, the last one shorter
 * (possibly empty). Each piece is copied once, into a buffer from `take`: the
 * uploader hands back a buffer once its part is sent, so a stream of any length
 * runs on the same few buffers and leaves the garbage collector nothing to chase.
 */
export async function* chunked(source: AsyncIterable<Uint8Array>, size: number, take: () => Uint8Array = () => new Uint8Array(size)): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array | undefined;
  let have = 0;
  for await (const piece of source) {
    let off = 0;
    while (off < piece.length) {
      buf ??= take();
      const n = Math.min(size - have, piece.length - off);
      buf.set(piece.subarray(off, off + n), have);
      have += n;
      off += n;
      if (have === size) {
        yield buf;
        buf = undefined;
        have = 0;
      }
    }
  }
  yield buf ? buf.subarray(0, have) : new Uint8Array(0);
}

/** Uploads the stream; resolves with the bytes stored. */
export async function upload(target: MultipartTarget, source: AsyncIterable<Uint8Array>, t: Transfer): Promise<number> {
  // concurrency parts in flight + the one being filled; allocated on demand (a small stream needs one).
  const free: Uint8Array[] = [];
  const parts = chunked(source, t.chunkSize, () => free.pop() ?? new Uint8Array(t.chunkSize));
  const first = (await parts.next()).value as Uint8Array;
  if (first.length < t.chunkSize) {
    await target.putWhole(first);
    return first.length;
  }
  await target.begin();
  const etags: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let total = 0;
  try {
    let n = 0;
    for (let body: Uint8Array | undefined = first; body && body.length > 0; body = (await parts.next()).value as Uint8Array | undefined) {
      const number = ++n;
      total += body.length;
      const sent = body;
      const p: Promise<void> = target.part(number, sent).then(
        (etag) => { etags[number - 1] = etag; if (sent.length === t.chunkSize) free.push(sent); Bun.gc(false); },
        // ^ a hint to collect the HTTP layer's garbage of the part just sent: without it the
        // heap drifts up by ~30 MiB per GiB streamed before the collector catches up.
        (err) => { failure ??= err; },
      ).finally(() => inFlight.delete(p));
      inFlight.add(p);
      // Wait for a free slot before reading on: stdin is not read while every part is in flight.
      while (inFlight.size >= t.concurrency) await Promise.race(inFlight);
      if (failure) throw failure;
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    await target.complete(etags);
    return total;
  } catch (err) {
    await Promise.allSettled(inFlight);
    await target.abort().catch(() => {});
    throw err;
  }
}

/**
 * Downloads an object of `size` bytes as ranges of chunkSize, up to concurrency
 * ranges fetched ahead, written to the sink in order: memory is at most
 * concurrency ranges. `range(start, end)` fetches bytes start..end inclusive.
 */
export async function download(size: number, t: Transfer, range: (start: number, end: number) => Promise<Uint8Array>, sink: Sink): Promise<number> {
  const count = Math.ceil(size / t.chunkSize);
  const ahead: Promise<Uint8Array>[] = [];
  let next = 0;
  const fetchNext = () => {
    const start = next * t.chunkSize;
    const end = Math.min(size, start + t.chunkSize) - 1;
    const p = range(start, end);
    p.catch(() => {}); // observed below, in order; no unhandled rejection meanwhile
    ahead.push(p);
    next++;
  };
  let written = 0;
  while (next < count && ahead.length < t.concurrency) fetchNext();
  while (ahead.length) {
    const body = await ahead.shift()!;
    if (next < count) fetchNext();
    await sink(body);
    written += body.length;
  }
  return written;
}

/** A sink writing to stdout, waiting for it to drain: a slow reader slows the download, never the memory. */
export function stdoutSink(): Sink {
  return (chunk) => {
    if (process.stdout.write(chunk)) return;
    return new Promise<void>((resolve, reject) => {
      const onDrain = () => { process.stdout.off("error", onError); resolve(); };
      const onError = (err: Error) => { process.stdout.off("drain", onDrain); reject(err); };
      process.stdout.once("drain", onDrain);
      process.stdout.once("error", onError);
    });
  };
}

/** Waits until everything written to stdout has been handed to the reader. */
export function flushStdout(): Promise<void> {
  return new Promise((resolve) => process.stdout.write("", () => resolve()));
}
