// A guard's threads over a file handed over (threads.ts, guard-thread.ts). The verify pass
// on every core (verify-file.ts): the same verdict as one core's pass, the refusal naming
// the chunk that failed whichever share held it, and unseal() going on from where the
// shares ended. The restore proper on a thread of its own: the same bytes into the FIFO,
// the same refusals and counts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { closeSync, constants as C, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { ArchiveDecryptError, ChunkOpener, ChunkSealer, HEADER_LENGTH, sealChunks, TAG_LENGTH } from "../../src/pipeline/encryption.ts";
import { fifoWriter } from "../../src/pipeline/seal.ts";
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

  test("left to one thread's loop, having read nothing: one core, a small file, a header that does not parse, a FIFO", async () => {
    await withFile("one-core", blob, async (fd) => expect(await verifyFrames(fd, new ChunkOpener(key), key, () => {}, { ...small, cores: 1 })).toBeNull());
    await withFile("small", blob, async (fd) => expect(await verifyFrames(fd, new ChunkOpener(key), key, () => {})).toBeNull());
    const notArchive = Buffer.from(blob);
    notArchive[0] = 0;
    await withFile("not-archive", notArchive, async (fd) => expect(await verifyFrames(fd, new ChunkOpener(key), key, () => {}, small)).toBeNull());
    const fifo = join(dir, "not-a-file.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const fifoFd = openSync(fifo, C.O_RDONLY | C.O_NONBLOCK);
    try {
      expect(await verifyFrames(fifoFd, new ChunkOpener(key), key, () => {}, small)).toBeNull();
    } finally {
      closeSync(fifoFd);
    }
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

// The restore proper as the guard runs it: `write` into a FIFO (fifoWriter) and its blocking
// end as `writeFd`, which sends a large file handed over to a thread of its own. The same
// again with `lend`: the thread lends the plaintext's pages to the FIFO (lend.ts).
for (const lend of [false, true])
describe.skipIf(availableParallelism() < 2)(`unseal's restore proper of a large file on a thread of its own${lend ? ", its pages lent" : ""}`, () => {
  const key = randomBytes(32);
  const S = 64 * 1024;
  const chunks = Math.ceil(MIN_SHARE_BYTES / S) + 7;
  const plain = randomBytes(chunks * S + 999);
  let blob: Buffer;
  beforeAll(() => {
    const sealer = new ChunkSealer(key, { chunkSize: S });
    blob = Buffer.concat([sealer.header, sealChunks(sealer, plain.subarray(0, chunks * S)), sealer.seal(plain.subarray(chunks * S), true)]);
  });

  /** unseal() of `bytes` into a FIFO that `cat` copies to a file; what it returned or threw, and what reached the file. */
  async function restore(bytes: Uint8Array, name: string, dataKey: Uint8Array | null = key) {
    name = `${name}-${lend}`;
    const fifo = join(dir, `${name}.fifo`);
    const got = join(dir, `${name}.out`);
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const reader = Bun.spawn(["sh", "-c", `cat < ${fifo} > ${got}`]);
    const blocking = openSync(fifo, C.O_WRONLY);
    const nonBlocking = openSync(fifo, C.O_WRONLY | C.O_NONBLOCK);
    const progress: number[] = [];
    const result = await withFile(name, bytes, (fd) =>
      unseal({ from: { nonBlocking: fd, blocking: fd }, write: fifoWriter({ nonBlocking, blocking }), writeFd: blocking, lend, dataKey, holdTail: dataKey ? 0 : 1 << 20, progressEvery: 20, onProgress: (p) => progress.push(p.bytes) }),
    ).catch((e) => e);
    closeSync(blocking);
    closeSync(nonBlocking);
    await reader.exited;
    return { result, out: readFileSync(got), progress };
  }

  test("encrypted: every byte of plaintext in order, the counts, progress on the way", async () => {
    const { result, out, progress } = await restore(blob, "enc");
    expect(result.unsealed).toEqual({ bytes: blob.length, bytesOut: plain.length, sha256: null });
    expect(result.tail.length).toBe(0);
    expect(out.equals(plain)).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
  });

  test("unencrypted: hashed, the last MiB held back and handed to the caller", async () => {
    const { result, out } = await restore(plain, "plain", null);
    expect(result.unsealed).toEqual({ bytes: plain.length, bytesOut: plain.length, sha256: new Bun.CryptoHasher("sha256").update(plain).digest("hex") });
    expect(Buffer.concat([out, result.tail]).equals(plain)).toBe(true);
    expect(result.tail.length).toBe(1 << 20);
  });

  test("a flipped chunk: refused naming it, nothing of it or after it written", async () => {
    const bad = Buffer.from(blob);
    const chunk = chunks - 4;
    bad[HEADER_LENGTH + chunk * (S + TAG_LENGTH) + 3]! ^= 2;
    const { result, out } = await restore(bad, "flipped");
    expect(result.name).toBe("Refused");
    expect(result.message).toBe(`archive chunk ${chunk} failed authentication: the archive is corrupted, truncated or reordered`);
    expect(result.atEnd).toBe(false);
    expect(out.length).toBeLessThanOrEqual(chunk * S);
    expect(out.equals(plain.subarray(0, out.length))).toBe(true);
  });

  test("a reader that stops: the write's failure (EPIPE), not a refusal", async () => {
    const fifo = join(dir, `stops-${lend}.fifo`);
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const reader = Bun.spawn(["sh", "-c", `head -c 1000000 < ${fifo} > /dev/null`]);
    const blocking = openSync(fifo, C.O_WRONLY);
    const nonBlocking = openSync(fifo, C.O_WRONLY | C.O_NONBLOCK);
    const err = await withFile(`stops-${lend}`, blob, (fd) =>
      unseal({ from: { nonBlocking: fd, blocking: fd }, write: fifoWriter({ nonBlocking, blocking }), writeFd: blocking, lend, dataKey: key })).catch((e) => e);
    closeSync(blocking);
    closeSync(nonBlocking);
    await reader.exited;
    expect(err.name).not.toBe("Refused");
    expect(err.code).toBe("EPIPE");
  });
});
