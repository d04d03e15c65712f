// Moving bytes between stages with backpressure. Bun's FileSink buffers whatever
// it is given; we wait for it to drain past a high-water mark so that memory
// stays bounded whatever the archive size.
import type { FileSink } from "bun";

const HIGH_WATER = 1 << 20;

/**
 * Copies a stream into a process's stdin. `beforeEnd` runs after the last byte
 * was written and before stdin is closed: a restore uses it to refuse (throw)
 * when the whole stream fails its checksum, so the target never sees a clean EOF.
 */
export async function pump(from: ReadableStream<Uint8Array>, to: FileSink, beforeEnd?: () => void | Promise<void>): Promise<void> {
  let buffered = 0;
  for await (const chunk of from) {
    const n = to.write(chunk);
    buffered += typeof n === "number" ? n : await n;
    if (buffered >= HIGH_WATER) {
      await to.flush();
      buffered = 0;
    }
  }
  await to.flush();
  await beforeEnd?.();
  await to.end();
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
