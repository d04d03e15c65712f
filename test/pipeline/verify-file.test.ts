// The verify pass over a file on every core (verify-file.ts, verify-worker.ts): the same
// verdict as one core's pass, the refusal naming the chunk that failed whichever share
// held it, and unseal() going on from where the shares ended.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { ArchiveDecryptError, ChunkOpener, ChunkSealer, HEADER_LENGTH, sealChunks, TAG_LENGTH } from "../../src/pipeline/encryption.ts";
import { unseal } from "../../src/pipeline/unseal.ts";
import { MIN_SHARE_BYTES, verifyFrames } from "../../src/pipeline/verify-file.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "shield-test-verify-file-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An archive of `chunks` full chunks and a last one of `lastBytes`, sealed under `key`. */
function archive(key: Uint8Array, chunkSize: number, chunks: number, lastBytes: number): Buffer {
  const sealer = new ChunkSealer(key, { chunkSize });
  return Buffer.concat([sealer.header, sealChunks(sealer, randomBytes(chunks * chunkSize)), sealer.seal(randomBytes(lastBytes), true)]);
}

/** Runs `body` with `bytes` in a file opened for reading. */
function withFile<T>(name: string, bytes: Uint8Array, body: (fd: number) => Promise<T>): Promise<T> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const fd = openSync(path, "r");
  return body(fd).finally(() => closeSync(fd));
}

describe("verifyFrames: whole frames in shares, one per thread", () => {
  const key = randomBytes(32);
  const S = 1000;
  const frame = S + TAG_LENGTH;
  const chunks = 300;
  const blob = archive(key, S, chunks, 123);
  // Shares of at least 50 frames: up to 3 of them (the first on this thread).
  const small = { cores: 3, minShareBytes: 100 * frame };

  test("every frame checked once, the opener's counter past them, the offset of what follows", async () => {
    let checked = 0;
    const opener = new ChunkOpener(key);
    const next = await withFile("good", blob, (fd) => verifyFrames(fd, opener, key, (n) => { checked += n; }, small));
    expect(next).toBe(HEADER_LENGTH + chunks * frame);
    expect(checked).toBe(chunks);
    expect(opener.counter).toBe(chunks);
    // The last chunk opens from there, as one core's pass would open it.
    expect((await opener.openLast(blob.subarray(next!))).length).toBe(123);
  });

  for (const [share, chunk] of [["the first", 7], ["the second", 150], ["the last", chunks - 1]] as const) {
    test(`a flipped bit in ${share} share is refused, naming its chunk`, async () => {
      const bad = Buffer.from(blob);
      bad[HEADER_LENGTH + chunk * frame + 500]! ^= 1;
      const err = await withFile(`bad-${chunk}`, bad, (fd) => verifyFrames(fd, new ChunkOpener(key), key, () => {}, small)).catch((e) => e);
      expect(err).toBeInstanceOf(ArchiveDecryptError);
      expect(err.message).toBe(`archive chunk ${chunk} failed authentication: the archive is corrupted, truncated or reordered`);
    });
  }

  test("a wrong key is refused at the first chunk", async () => {
    const err = await withFile("wrong-key", blob, (fd) => verifyFrames(fd, new ChunkOpener(randomBytes(32)), randomBytes(32), () => {}, small)).catch((e) => e);
    expect(err).toBeInstanceOf(ArchiveDecryptError);
    expect(err.message).toContain("failed authentication");
  });

  test("left to one thread's loop, having read nothing: one core, a small file, a header that does not parse, a pipe", async () => {
    await withFile("one-core", blob, async (fd) => expect(await verifyFrames(fd, new ChunkOpener(key), key, () => {}, { ...small, cores: 1 })).toBeNull());
    await withFile("small", blob, async (fd) => expect(await verifyFrames(fd, new ChunkOpener(key), key, () => {})).toBeNull());
    const notArchive = Buffer.from(blob);
    notArchive[0] = 0;
    await withFile("not-archive", notArchive, async (fd) => expect(await verifyFrames(fd, new ChunkOpener(key), key, () => {}, small)).toBeNull());
    const proc = Bun.spawn(["sh", "-c", "exit 0"], { stdout: "pipe" });
    const pipeFd = (proc.stdout as unknown as { fd?: number }).fd;
    await proc.exited;
    if (typeof pipeFd === "number") expect(await verifyFrames(pipeFd, new ChunkOpener(key), key, () => {}, small)).toBeNull();
  });
});

// The pass as a restore runs it: unseal() on a file handed over (one fd, both ends), large
// enough for two shares of MIN_SHARE_BYTES, on a machine of two cores or more.
describe.skipIf(availableParallelism() < 2)("unseal's verify pass over a file of two shares", () => {
  const key = randomBytes(32);
  const S = 64 * 1024;
  const chunks = Math.ceil((2 * MIN_SHARE_BYTES) / S) + 10;
  let blob: Buffer;
  beforeAll(() => {
    blob = archive(key, S, chunks, 4567);
  });

  const verify = (bytes: Uint8Array, name: string) =>
    withFile(name, bytes, (fd) => unseal({ from: { nonBlocking: fd, blocking: fd }, write: null, dataKey: key }));

  test("the counts of one core's pass, and the last chunk opened", async () => {
    const { unsealed } = await verify(blob, "two-shares");
    expect(unsealed).toEqual({ bytes: blob.length, bytesOut: chunks * S + 4567, sha256: null });
  });

  test("a chunk flipped in the worker's share is refused, before the end", async () => {
    const bad = Buffer.from(blob);
    const chunk = chunks - 20;
    bad[HEADER_LENGTH + chunk * (S + TAG_LENGTH) + 9]! ^= 0x80;
    const err = await verify(bad, "flipped-late").catch((e) => e);
    expect(err.name).toBe("Refused");
    expect(err.message).toBe(`archive chunk ${chunk} failed authentication: the archive is corrupted, truncated or reordered`);
    expect(err.atEnd).toBe(false);
  });

  test("cut short at a chunk boundary: the whole frames pass, the end is refused", async () => {
    const cut = blob.subarray(0, HEADER_LENGTH + chunks * (S + TAG_LENGTH));
    const err = await verify(cut, "cut").catch((e) => e);
    expect(err.name).toBe("Refused");
    expect(err.message).toBe(`truncated archive: final chunk missing after ${chunks} chunks`);
    expect(err.atEnd).toBe(true);
  });
});
