// Sealing on the agent: the compressed stream is encrypted into the archive format
// (encryption.ts's ChunkSealer, the same code and format as the core's seal.ts)
// before it leaves the data host, so that the core's store receives bytes it
// could store as they are. Kept apart from seal.ts, which reads FIFOs by file
// descriptor inside a guard: here the input is a process's stdout stream.
import { ChunkSealer } from "../pipeline/encryption.ts";

export class StreamSealer {
  private readonly sealer: ChunkSealer | null;
  private buf: Buffer;
  private fill = 0;
  private started = false;

  constructor(dataKey: Uint8Array | null) {
    this.sealer = dataKey ? new ChunkSealer(dataKey) : null;
    this.buf = Buffer.allocUnsafe(this.sealer?.chunkSize ?? 0);
  }

  /** The sealed bytes for `chunk` (possibly none yet: a partial chunk waits for more). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (!this.sealer) return [chunk];
    const out: Uint8Array[] = [];
    if (!this.started) { out.push(this.sealer.header); this.started = true; }
    const size = this.sealer.chunkSize;
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(size - this.fill, chunk.length - at);
      Buffer.from(chunk.buffer, chunk.byteOffset + at, n).copy(this.buf, this.fill);
      this.fill += n;
      at += n;
      if (this.fill === size) {
        out.push(this.sealer.seal(this.buf, false));
        this.fill = 0;
      }
    }
    return out;
  }

  /** The last chunk (authenticated as the last): only once the whole stream is known good. */
  end(): Uint8Array[] {
    if (!this.sealer) return [];
    const out: Uint8Array[] = [];
    if (!this.started) { out.push(this.sealer.header); this.started = true; }
    out.push(this.sealer.seal(this.buf.subarray(0, this.fill), true));
    return out;
  }
}
