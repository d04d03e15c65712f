// Lending pages to a pipe (lend.ts): a buffer comes back only once the pipe has let go of
// every page of it, bytes not in the lender's buffers are copied, a reader gone is EPIPE,
// and pages lent at the end of a restore reach a reader that reads them late, after the
// thread that lent them ended and the memory around it was churned.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { closeSync, constants as C, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { libc } from "../../src/libc.ts";
import { ChunkSealer, sealChunks } from "../../src/pipeline/encryption.ts";
import { PageLender } from "../../src/pipeline/lend.ts";
import { unseal } from "../../src/pipeline/unseal.ts";
import { pipeSize, widenPipe } from "../../src/pipeline/fifo.ts";

let dir: string;
let fifos = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "shield-test-lend-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A FIFO of 1 MiB, opened here at both ends: reads without waiting, writes that block. */
function pipe(): { r: number; w: number; close(): void } {
  const path = join(dir, `p-${++fifos}`);
  expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
  const r = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
  const w = openSync(path, C.O_WRONLY);
  widenPipe(w);
  return { r, w, close: () => { closeSync(r); closeSync(w); } };
}

function readExactly(fd: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let at = 0; at < n;) at += readSync(fd, out, at, n - at, null);
  return out;
}

describe.skipIf(!libc())("PageLender", () => {
  test("a buffer is handed out again only once a pipe's worth was lent after it", () => {
    const p = pipe();
    const size = pipeSize(p.w);
    expect(size).toBe(1 << 20);
    const lender = PageLender.to(p.w)!;
    const Q = size / 4;
    const lend = (fill: number) => {
      const b = lender.buffer(Q);
      b.fill(fill, 0, Q);
      lender.write(b.subarray(0, Q));
      return b;
    };
    const first = [1, 2, 3, 4].map(lend);
    // The pipe is full of them: the next buffer is a new one, not the first.
    const fifth = lender.buffer(Q);
    expect(first).not.toContain(fifth);
    // One read frees the first quarter's pages; the fifth fills it.
    expect(readExactly(p.r, Q).equals(Buffer.alloc(Q, 1))).toBe(true);
    fifth.fill(5, 0, Q);
    lender.write(fifth.subarray(0, Q));
    // A pipe's worth lent after the first: it comes back, and no other yet.
    expect(lender.buffer(Q)).toBe(first[0]!);
    expect(lender.buffer(Q)).not.toBe(first[1]!);
    // What the pipe held was not touched by any of it.
    for (const fill of [2, 3, 4, 5]) expect(readExactly(p.r, Q).equals(Buffer.alloc(Q, fill))).toBe(true);
    p.close();
  });

  test("bytes outside its buffers are copied: the caller may write over them at once", () => {
    const p = pipe();
    const lender = PageLender.to(p.w)!;
    const mine = Buffer.from("not the lender's");
    lender.write(mine);
    mine.fill(0);
    expect(readExactly(p.r, 16).toString()).toBe("not the lender's");
    p.close();
  });

  test("a reader gone: EPIPE, as a write says it", () => {
    const p = pipe();
    const lender = PageLender.to(p.w)!;
    closeSync(p.r);
    const b = lender.buffer(4096);
    let err: (Error & { code?: string }) | undefined;
    try {
      lender.write(b.subarray(0, 4096));
    } catch (e) {
      err = e as Error;
    }
    expect(err?.code).toBe("EPIPE");
    closeSync(p.w);
  });

  test("not a pipe (a file): no lender", () => {
    const path = join(dir, "file");
    writeFileSync(path, "x");
    const fd = openSync(path, "r+");
    expect(PageLender.to(fd)).toBeNull();
    closeSync(fd);
  });
});

// The pipe may still hold the last MiB's pages when the thread that lent them ended: they
// must stay as they were until read. The reader reads all but them, waits, then reads
// them, while this process allocates and writes over a lot of memory.
test.skipIf(!libc() || availableParallelism() < 2)("pages lent at the end of a restore reach a reader that reads them late, after the thread ended", async () => {
  const key = randomBytes(32);
  const S = 64 * 1024;
  const chunks = 1200; // 75 MiB: past THREAD_MIN_BYTES, so on a thread of its own
  const plain = randomBytes(chunks * S + 4321);
  const sealer = new ChunkSealer(key, { chunkSize: S });
  const blobPath = join(dir, "late.blob");
  writeFileSync(blobPath, Buffer.concat([sealer.header, sealChunks(sealer, plain.subarray(0, chunks * S)), sealer.seal(plain.subarray(chunks * S), true)]));
  const fifo = join(dir, "late.fifo");
  const got = join(dir, "late.out");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const held = plain.length - (900 << 10);
  const reader = Bun.spawn(["python3", "-c", `
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
out = open(sys.argv[2], "wb")
left = int(sys.argv[3])
while left > 0:
    d = os.read(fd, min(left, 1 << 16))
    if not d: break
    out.write(d); left -= len(d)
time.sleep(1.5)
while True:
    d = os.read(fd, 1 << 16)
    if not d: break
    out.write(d)
out.close()
`, fifo, got, String(held)]);
  const w = openSync(fifo, C.O_WRONLY);
  widenPipe(w);
  const fd = openSync(blobPath, "r");
  const write = (b: Uint8Array) => { throw new Error(`the thread writes, not this (${b.length} bytes)`); };
  const result = await unseal({ from: { nonBlocking: fd, blocking: fd }, write, writeFd: w, lend: true, dataKey: key });
  closeSync(fd);
  expect(result.unsealed.bytesOut).toBe(plain.length);
  // Memory let go of by the thread would be handed out again now, and written over.
  for (let i = 0; i < 20; i++) {
    Bun.gc(true);
    const churn: Buffer[] = [];
    for (let j = 0; j < 16; j++) churn.push(Buffer.allocUnsafe(1 << 20).fill(0xee));
  }
  closeSync(w);
  expect(await reader.exited).toBe(0);
  const out = readFileSync(got);
  expect(out.length).toBe(plain.length);
  expect(out.equals(plain)).toBe(true);
}, 60_000);
