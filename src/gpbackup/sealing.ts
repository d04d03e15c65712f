// How Shield mode seals an object on the Greenplum host before it reaches the
// store, and opens it on the way back: compressed with zstd when the backup asks
// for it, then encrypted in Shield's archive format (docs/archive-format.md) with
// the backup's data key. The store holds only sealed bytes; the key never touches
// the Greenplum host's disk (it comes from the core in an API answer, per backup).
//
// Streams all the way: Bun's CompressionStream("zstd") and the chunked cipher of
// src/pipeline/encryption.ts, so memory does not grow with the object. An object
// that fails authentication, or is cut short, errors the stream: it never reads
// as a short object.
import { decryptStream, encryptStream } from "../pipeline/encryption.ts";

export interface ObjectSealing {
  compression: "none" | "zstd";
  /** The backup's data key; absent when the backup is not encrypted. */
  dataKey?: Uint8Array;
}

export function isSealed(s: ObjectSealing): boolean {
  return s.compression !== "none" || s.dataKey !== undefined;
}

function streamOf(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) { await it.return?.(reason); },
  });
}

/** The object's bytes as they are stored. */
export function seal(source: AsyncIterable<Uint8Array>, s: ObjectSealing): AsyncIterable<Uint8Array> {
  if (!isSealed(s)) return source;
  let stream = streamOf(source);
  if (s.compression === "zstd") stream = stream.pipeThrough(new CompressionStream("zstd" as never) as unknown as TransformStream<Uint8Array, Uint8Array>);
  if (s.dataKey) stream = stream.pipeThrough(encryptStream(s.dataKey));
  return stream as unknown as AsyncIterable<Uint8Array>;
}

/** The object's own bytes, from what the store gives back. */
export function open(stored: ReadableStream<Uint8Array>, s: ObjectSealing): ReadableStream<Uint8Array> {
  let stream = stored;
  if (s.dataKey) stream = stream.pipeThrough(decryptStream(s.dataKey));
  if (s.compression === "zstd") stream = stream.pipeThrough(new DecompressionStream("zstd" as never) as unknown as TransformStream<Uint8Array, Uint8Array>);
  return stream;
}
