// zstd in the store's guard (compress-beside.ts): a small backup is one frame made in the
// guard's own process, a large one goes on through the zstd program, which reads the rest
// itself; the stream restores with `zstd -d` either way, its raw size is exact, and a backup
// that failed never gets a complete stream. The "backup" is `cat` of a file writing into the
// input, as pg_dump would; the way out is a file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compressBeside, IN_PROCESS_MAX } from "../../src/pipeline/compress-beside.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "shield-test-compress-beside-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A compression into a file of its own, and what it said. */
function compression(zstd?: string[]) {
  const out = join(dir, `out-${++files}.zst`);
  const fd = openSync(out, "w");
  const said: string[] = [];
  const c = compressBeside(fd, (line) => said.push(line), zstd);
  return { c, said, out, close: () => closeSync(fd) };
}

/** What the backup's tools do: `bytes` into the compression's input, from a process of their own. */
function backup(input: number, bytes: Uint8Array): Promise<number> {
  const path = join(dir, `in-${++files}`);
  writeFileSync(path, bytes);
  return Bun.spawn(["cat", path], { stdin: "ignore", stdout: input }).exited;
}

/** Rows of text and random bytes: compressible, but not all of it. */
function dump(size: number): Buffer {
  const text = Buffer.from(Array.from({ length: Math.ceil(size / 64) }, (_, i) => `${i}\trow ${i % 97}\t${(i * 7919).toString(16)}\n`).join(""));
  const mixed = Buffer.concat([text, randomBytes(size)]);
  return mixed.subarray(0, size);
}

/** `zstd -d` of the file, as a restore runs it: its output and exit code. */
function unzstd(path: string): { code: number; bytes: Buffer } {
  const r = Bun.spawnSync(["zstd", "-d", "-c", path], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, bytes: r.stdout };
}

/** How many zstd frames the file holds (`zstd -lv`). */
function frames(path: string): number {
  const r = Bun.spawnSync(["zstd", "-lv", path], { stdout: "pipe", stderr: "pipe" });
  const m = /# Zstandard Frames: (\d+)/.exec(r.stdout.toString() + r.stderr.toString());
  if (!m) throw new Error(`zstd -lv said: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

/** Our zstd children still alive. */
const zstdChildren = () => Bun.spawnSync(["pgrep", "-P", String(process.pid), "-x", "zstd"]).stdout.toString().trim();

describe("compressBeside", () => {
  test("a small backup is one frame made in this process: no zstd program; zstd -d gives it back; the raw size is exact", async () => {
    for (const size of [1, 3000, IN_PROCESS_MAX - 1]) {
      const { c, out, close } = compression();
      const bytes = dump(size);
      expect(await backup(c.input, bytes)).toBe(0);
      expect(zstdChildren()).toBe("");
      expect(await c.finish()).toEqual({ code: 0, rawBytes: size });
      close();
      expect(frames(out)).toBe(1);
      const back = unzstd(out);
      expect(back.code).toBe(0);
      expect(back.bytes.equals(bytes)).toBe(true);
    }
  });

  test("a large backup: its head is a frame made here, the rest goes through zstd (a second frame); zstd -d gives all of it back in order; the raw size is exact", async () => {
    const { c, said, out, close } = compression();
    const bytes = dump(5 * IN_PROCESS_MAX + 12345);
    expect(await backup(c.input, bytes)).toBe(0);
    expect(await c.finish()).toEqual({ code: 0, rawBytes: bytes.length });
    close();
    expect(frames(out)).toBe(2);
    const back = unzstd(out);
    expect(back.code).toBe(0);
    expect(back.bytes.equals(bytes)).toBe(true);
    // zstd's report and chatter stay out of the task log.
    expect(said).toEqual([]);
  });

  test("an empty backup is an empty frame and a raw size of 0 (the daemon refuses it as an archive)", async () => {
    const { c, out, close } = compression();
    expect(await backup(c.input, new Uint8Array(0))).toBe(0);
    expect(await c.finish()).toEqual({ code: 0, rawBytes: 0 });
    close();
    expect(unzstd(out)).toEqual({ code: 0, bytes: Buffer.alloc(0) });
  });

  test("a backup that failed mid-stream: zstd is killed before it sees the end of its input, so the stream is never complete", async () => {
    const { c, out, close } = compression();
    const bytes = dump(40 * IN_PROCESS_MAX);
    // The tools wrote part of it and failed: what they wrote goes no further than a cut stream.
    expect(await backup(c.input, bytes)).toBe(0);
    for (let i = 0; i < 100 && zstdChildren() === ""; i++) await Bun.sleep(20);
    c.abandon();
    for (let i = 0; i < 100 && zstdChildren() !== ""; i++) await Bun.sleep(20);
    expect(zstdChildren()).toBe("");
    close();
    // At most the head made here came out whole (zstd's frame, if any of it came out, is cut).
    expect(unzstd(out).bytes.length).toBeLessThan(bytes.length);
  });

  test("zstd failing fails the compression: its exit code, why, and its words for the task log", async () => {
    const failing = join(dir, "zstd-failing");
    writeFileSync(failing, "#!/bin/sh\necho 'out of disk space' >&2\nexit 4\n");
    chmodSync(failing, 0o755);
    const { c, said, close } = compression([failing]);
    expect(await backup(c.input, dump(3 * IN_PROCESS_MAX))).toBe(0);
    expect(await c.finish()).toEqual({ code: 4, why: "zstd exited with code 4" });
    close();
    expect(said).toEqual(["zstd: out of disk space"]);
  });

  test("its FIFO leaves nothing in the temporary directory", async () => {
    const before = Bun.spawnSync(["sh", "-c", `ls ${tmpdir()} | grep -c shield-stage- || true`]).stdout.toString().trim();
    const { c, close } = compression();
    expect(await backup(c.input, dump(10))).toBe(0);
    await c.finish();
    close();
    const after = Bun.spawnSync(["sh", "-c", `ls ${tmpdir()} | grep -c shield-stage- || true`]).stdout.toString().trim();
    expect(after).toBe(before);
  });
});
