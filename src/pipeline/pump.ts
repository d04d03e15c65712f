// Moving bytes between stages with backpressure. Bun's FileSink buffers whatever
// it is given; we wait for it to drain past a high-water mark so that memory
// stays bounded whatever the archive size.
import type { FileSink } from "bun";

const HIGH_WATER = 1 << 20;

/** The receiving end of a pump: a stage's input (see Stage.input and Stage.endInput). */
export interface Input {
  input(): Promise<FileSink>;
  endInput(): Promise<void>;
}

/**
 * Copies a stream into a stage's input. `beforeEnd` runs after the last byte
 * was written and before the input is ended: it refuses (throws) when a stage
 * upstream failed or the whole stream fails its checksum, so that the stage
 * never sees the end of an incomplete stream.
 */
export async function pump(from: ReadableStream<Uint8Array>, to: Input | FileSink, beforeEnd?: () => void | Promise<void>): Promise<void> {
  const sink = "input" in to ? await to.input() : to;
  let buffered = 0;
  for await (const chunk of from) {
    const n = sink.write(chunk);
    buffered += typeof n === "number" ? n : await n;
    if (buffered >= HIGH_WATER) {
      await sink.flush();
      buffered = 0;
    }
  }
  await sink.flush();
  await beforeEnd?.();
  await ("endInput" in to ? to.endInput() : to.end());
}

/** Counts the bytes passing through; read `bytes` at any time (progress) or after the end. */
export class ByteCounter {
  bytes = 0;
  readonly stream = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, ctl) => {
      this.bytes += chunk.byteLength;
      this.observe(chunk);
      ctl.enqueue(chunk);
    },
  });
  protected observe(_chunk: Uint8Array): void {}
}

/** Counts and hashes (SHA-256) the bytes passing through. */
export class Digest extends ByteCounter {
  private readonly hasher = new Bun.CryptoHasher("sha256");
  private hex: string | undefined;
  protected override observe(chunk: Uint8Array): void {
    this.hasher.update(chunk);
  }
  /** Only once the stream has ended. */
  sha256(): string {
    return (this.hex ??= this.hasher.digest("hex"));
  }
}
