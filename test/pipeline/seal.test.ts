// seal() waits for a quiet input by polling it in short turns (seal.ts, waitFor), and a
// writer whose reader is slow in longer turns once it has waited IDLE_MS: the bytes must
// come out the same, a long silence must leave the event loop free, and an input whose
// writers are gone must end.
import { describe, expect, test } from "bun:test";
import { closeSync, constants as C, openSync, readSync, rmSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { libc, POLLIN, POLLOUT } from "../../src/libc.ts";
import { makeFifo } from "../../src/pipeline/fifo.ts";
import { fifoWriter, IDLE_MS, seal } from "../../src/pipeline/seal.ts";
import { ChunkSealer, decryptStream, sealChunks } from "../../src/pipeline/encryption.ts";

/** A FIFO opened as the guard opens its input (non-blocking and blocking ends) and a writer. */
function fifo() {
  const { dir, path } = makeFifo();
  const nonBlocking = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
  // Non-blocking: the test writes from the same thread that seals.
  const writer = openSync(path, C.O_WRONLY | C.O_NONBLOCK);
  const blocking = openSync(path, C.O_RDONLY);
  return { from: { nonBlocking, blocking }, writer, close: () => { for (const fd of [nonBlocking, blocking]) closeSync(fd); rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * Seals `bursts` written into a FIFO, each after a pause of `pauseMs`: the plaintext, what the
 * archive decrypts back to, the bytes seal() read, and how often a 5 ms timer fired meanwhile.
 */
async function sealAfterPauses(bursts: Buffer[], pauseMs: number) {
  const p = fifo();
  const key = randomBytes(32);
  const out: Uint8Array[] = [];
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    const writing = (async () => {
      for (const b of bursts) {
        await Bun.sleep(pauseMs);
        let at = 0;
        while (at < b.length) {
          try { at += writeSync(p.writer, b, at); } catch (err) { if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err; await Bun.sleep(1); }
        }
      }
      closeSync(p.writer);
    })();
    const sealed = await seal({ from: p.from, write: (b) => { out.push(new Uint8Array(b)); }, dataKey: key });
    await writing;
    const back = Buffer.from(await new Response(new Blob(out).stream().pipeThrough(decryptStream(key))).arrayBuffer());
    return { plain: Buffer.concat(bursts), back, bytesIn: sealed.bytesIn, ticks };
  } finally {
    clearInterval(timer);
    p.close();
  }
}

/**
 * 3 MB through fifoWriter into a FIFO whose reader sleeps `pauseMs(bytes read so far)` before
 * each read of up to 100 KB: what it wrote, what the reader got, and a 5 ms timer's ticks meanwhile.
 */
async function writeToSlowReader(pauseMs: (read: number) => number) {
  const { dir, path } = makeFifo();
  const reader = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
  const nonBlocking = openSync(path, C.O_WRONLY | C.O_NONBLOCK);
  const blocking = openSync(path, C.O_WRONLY);
  const data = randomBytes(3_000_000);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    const got: Buffer[] = [];
    const reading = (async () => {
      const buf = Buffer.alloc(100_000);
      let total = 0;
      while (total < data.length) {
        await Bun.sleep(pauseMs(total));
        try {
          const n = readSync(reader, buf, 0, buf.length, null);
          got.push(Buffer.from(buf.subarray(0, n)));
          total += n;
        } catch (err) { if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err; }
      }
    })();
    await fifoWriter({ nonBlocking, blocking })(data);
    await reading;
    return { data, got: Buffer.concat(got), ticks };
  } finally {
    clearInterval(timer);
    for (const fd of [reader, nonBlocking, blocking]) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("libc poll", () => {
  test.skipIf(!libc())("tells a pipe that has bytes from one that has none, and a full one from one with room", () => {
    const p = fifo();
    try {
      const c = libc()!;
      expect(c.poll(p.from.nonBlocking, POLLIN, 0)).toBe(0);
      const t0 = performance.now();
      expect(c.poll(p.from.nonBlocking, POLLIN, 30)).toBe(0);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
      expect(c.poll(p.writer, POLLOUT, 0)).toBe(1);
      writeSync(p.writer, Buffer.from("x"));
      expect(c.poll(p.from.nonBlocking, POLLIN, 1000)).toBe(1);
      expect(c.poll(-1, POLLIN, 0)).toBe(0); // a negative fd is ignored by poll(2)
    } finally {
      closeSync(p.writer);
      p.close();
    }
  });
});

describe("seal on a FIFO", () => {
  test("a writer that pauses between bursts: every byte sealed in order, and the event loop runs meanwhile", async () => {
    const bursts = [randomBytes(300_000), randomBytes(70_000), randomBytes(1_500_000), randomBytes(5)];
    const { plain, back, bytesIn, ticks } = await sealAfterPauses(bursts, 60);
    expect(bytesIn).toBe(plain.length);
    expect(back.equals(plain)).toBe(true);
    // 4 pauses of 60 ms: a 5 ms timer fires many times while seal() waits on the quiet FIFO.
    expect(ticks).toBeGreaterThan(20);
  });

  test("a silence upstream of 300 ms: the event loop runs throughout, and the bytes come whole", async () => {
    const { plain, back, bytesIn, ticks } = await sealAfterPauses([randomBytes(700_000)], 300);
    expect(bytesIn).toBe(plain.length);
    expect(back.equals(plain)).toBe(true);
    // 300 ms of silence: a 5 ms timer fires throughout.
    expect(ticks).toBeGreaterThan(20);
  });

  test("an archive sealed upstream (an agent's), checked as it passes: unchanged and hashed; altered or cut, refused; unhashed when asked", async () => {
    const key = randomBytes(32);
    const sealer = new ChunkSealer(key);
    const archive = Buffer.concat([sealer.header, sealChunks(sealer, randomBytes(40 * sealer.chunkSize)), sealer.seal(randomBytes(1234), true)]);
    const flipped = Buffer.from(archive);
    flipped[archive.length >> 1]! ^= 1;
    /** `input` through seal() with `check`: what came out and the result, or the error. */
    const through = async (input: Buffer, hash?: boolean) => {
      const p = fifo();
      const out: Uint8Array[] = [];
      try {
        let stop = false;
        const writing = (async () => {
          for (let at = 0; at < input.length && !stop;) {
            try { at += writeSync(p.writer, input, at, Math.min(100_000, input.length - at)); } catch (err) { if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err; await Bun.sleep(1); }
          }
          closeSync(p.writer);
        })();
        const sealed = await seal({ from: p.from, write: (b) => { out.push(new Uint8Array(b)); }, dataKey: null, check: key, hash }).catch((e: Error) => e);
        // Refused half way, seal() reads no more: the writer gives up.
        stop = true;
        await writing;
        return { out: Buffer.concat(out), sealed };
      } finally {
        p.close();
      }
    };
    const good = await through(archive);
    expect(good.out.equals(archive)).toBe(true);
    expect(good.sealed).toEqual({ bytesIn: archive.length, bytes: archive.length, sha256: new Bun.CryptoHasher("sha256").update(archive).digest("hex") });
    expect(((await through(archive, false)).sealed as { sha256: string }).sha256).toBe("");
    for (const bad of [flipped, archive.subarray(0, archive.length - 1234), archive.subarray(0, 12 + 7 * (sealer.chunkSize + 16))]) {
      const { sealed } = await through(bad);
      expect(sealed).toBeInstanceOf(Error);
      expect((sealed as Error).message).toMatch(/^the archive sealed upstream \(on the agent\) did not arrive as it was sealed, altered or cut on its way: (archive chunk \d+ failed authentication|truncated archive: final chunk missing after 7 chunks)/);
    }
  });

  test("two streams at once in one process (an agent's requests): both whole, neither held up by the other's quiet input", async () => {
    const quiet = fifo();
    const busy = fifo();
    try {
      // One input stays quiet for 800 ms while the other streams 4 MB.
      const data = randomBytes(4_000_000);
      const quietSealing = seal({ from: quiet.from, write: () => {}, dataKey: null });
      const t0 = performance.now();
      const writing = (async () => {
        for (let at = 0; at < data.length;) {
          try { at += writeSync(busy.writer, data, at); } catch (err) { if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err; await Bun.sleep(1); }
        }
        closeSync(busy.writer);
      })();
      const sealed = await seal({ from: busy.from, write: () => {}, dataKey: null });
      await writing;
      expect(sealed.bytesIn).toBe(data.length);
      expect(performance.now() - t0).toBeLessThan(800);
      await Bun.sleep(800 - (performance.now() - t0));
      closeSync(quiet.writer);
      expect((await quietSealing).bytesIn).toBe(0);
    } finally {
      quiet.close();
      busy.close();
    }
  });

  test("fifoWriter into a FIFO whose reader is slow: every byte arrives, in order", async () => {
    const { data, got } = await writeToSlowReader(() => 2);
    expect(got.equals(data)).toBe(true);
  });

  test("fifoWriter into a FIFO whose reader pauses longer than IDLE_MS: longer turns, every byte in order, the event loop running", async () => {
    let pauses = 0;
    // Twice, a pause of 4 × IDLE_MS once the pipe is full.
    const { data, got, ticks } = await writeToSlowReader((read) => read > 1_000_000 && pauses < 2 ? (pauses++, IDLE_MS * 4) : 1);
    expect(got.equals(data)).toBe(true);
    // The reader's sleeps are timers too: the event loop ran throughout, at least once a turn.
    expect(ticks).toBeGreaterThan(15);
  });
});
