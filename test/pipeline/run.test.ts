// The pipelines of src/pipeline/run.ts with real processes: the fixture plugins
// (test/fixtures/plugins), real zstd, the guards. Verified before applied: a
// damaged blob, whatever the damage and wherever it is, fails the restore before
// the target's `restore` starts at all. And an empty backup is not an archive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { backup, holdTail, restore, Canceled, PipelineFailed, type ArchiveToRestore, type BackupResult, type PipelineContext } from "../../src/pipeline/run.ts";
import { DEFAULT_CHUNK_SIZE, HEADER_LENGTH, TAG_LENGTH } from "../../src/pipeline/encryption.ts";
import type { Compression } from "../../src/pipeline/compression.ts";
import { THREAD_MIN_BYTES } from "../../src/pipeline/threads.ts";
import { Supervisor } from "../../src/supervisor/index.ts";
import type { Catalog } from "../../src/catalog/index.ts";
import type { Core } from "../../src/core/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { log as daemonLog } from "../../src/log.ts";
import { FIXTURE_PLUGINS, supervisorWorld, waitTask } from "../helpers/supervisor.ts";
import { alive, descendants, stat } from "../helpers/processes.ts";

let catalog: Catalog;
let core: Core;
let plugins: PluginRegistry;
let cleanup: () => Promise<void>;
let dir: string;
let storeDir: string;
let ids: { store: string; schedule: string; retention: string };
let supervisor: Supervisor;

beforeAll(async () => {
  daemonLog.setSink(() => {});
  ({ catalog, cleanup, dir, storeDir, plugins, core, ids } = await supervisorWorld({
    name: "run", schedule: { name: "s", timespec: "daily at 4am" }, retention: "r", onTaskFiled: () => supervisor.nudge(),
  }));
  supervisor = new Supervisor({ catalog, plugins, masterKey: crypto.getRandomValues(new Uint8Array(32)), workers: 1, pollMs: 50 });
  await supervisor.start();
});

afterAll(async () => {
  await supervisor.stop();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function context(lines: string[] = []): PipelineContext {
  return { plugins, log: (l) => lines.push(l), signal: new AbortController().signal, progressEvery: 60_000 };
}
const store = () => ({ plugin: "dir-store", endpoint: JSON.stringify({ dir: storeDir }) });
const bytes = (endpoint: Record<string, unknown>) => ({ plugin: "bytes-target", endpoint: JSON.stringify(endpoint) });
const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

function toRestore(r: BackupResult, key = r.storeKey): ArchiveToRestore {
  return { storeKey: key, sha256: r.sha256, size: r.size, compression: r.compression, cipher: r.cipher, dataKey: r.dataKey };
}

/** Restores into a fresh `out` of bytes-target; what the target got, and the error if any. */
async function restoreInto(archive: ArchiveToRestore, name: string, st = store()) {
  const out = join(dir, `out-${name}`);
  const lines: string[] = [];
  let error: Error | undefined;
  try {
    await restore(context(lines), st, bytes({ size: 1, out }), archive);
  } catch (err) {
    error = err as Error;
  }
  // bytes-target's restore creates `out.partial` as soon as it starts, and renames it to `out` at the end.
  const reached = existsSync(out) || existsSync(`${out}.partial`);
  return { error, reached, out, log: lines.join("\n") };
}

let keys = 0;
/** Writes `blob` into the store under a new key, as if the store held it for the archive. */
function planted(blob: Uint8Array): string {
  const key = `planted-${++keys}`;
  writeFileSync(join(storeDir, key), blob);
  return key;
}

const REFUSED = /fails verification|truncated or altered|SHA-256 does not match|failed authentication|truncated archive|not a Shield encrypted archive/;

// One chunk: less than a chunk of plaintext. Many: several chunks (the data is
// pseudo-random, so zstd does not shrink it below that).
const SIZES = { "one-chunk": 20_000, "many-chunk": 5 * DEFAULT_CHUNK_SIZE + 1234 } as const;
const CASES: { encrypt: boolean; compression: Compression }[] = [
  { encrypt: true, compression: "zstd" },
  { encrypt: false, compression: "zstd" },
  { encrypt: false, compression: "none" },
];

/** The damages, for a blob of `len` bytes (and the blob itself, for the swaps). */
function damages(blob: Buffer, other: { sameSize: Buffer; otherArchive: Buffer }, encrypted: boolean): [string, Buffer][] {
  const len = blob.length;
  const flip = (at: number) => { const b = Buffer.from(blob); b[at]! ^= 0x01; return b; };
  const out: [string, Buffer][] = [];
  for (const at of [0, 7, HEADER_LENGTH, Math.floor(len / 3), Math.floor(len / 2), len - TAG_LENGTH - 1, len - TAG_LENGTH, len - 1]) {
    out.push([`flip byte ${at} of ${len}`, flip(at)]);
  }
  for (const to of [0, 1, HEADER_LENGTH, Math.floor(len / 2), len - TAG_LENGTH, len - 1]) out.push([`truncate to ${to} of ${len}`, blob.subarray(0, to)]);
  out.push(["append a byte", Buffer.concat([blob, Buffer.from([0])])]);
  out.push(["append a chunk's worth", Buffer.concat([blob, blob.subarray(HEADER_LENGTH, Math.min(len, HEADER_LENGTH + DEFAULT_CHUNK_SIZE + TAG_LENGTH))])]);
  const frame = DEFAULT_CHUNK_SIZE + TAG_LENGTH;
  if (encrypted && len > HEADER_LENGTH + 2 * frame) {
    // Two whole chunks trade places: each still authenticates under its own counter, which no longer matches.
    const a = blob.subarray(HEADER_LENGTH, HEADER_LENGTH + frame), b = blob.subarray(HEADER_LENGTH + frame, HEADER_LENGTH + 2 * frame);
    out.push(["swap chunks 0 and 1", Buffer.concat([blob.subarray(0, HEADER_LENGTH), b, a, blob.subarray(HEADER_LENGTH + 2 * frame)])]);
  }
  out.push(["swapped with another archive's blob of the same size", other.sameSize]);
  out.push(["replaced by another archive's blob", other.otherArchive]);
  return out;
}

describe("verified before applied: a damaged blob never reaches the target", () => {
  for (const { encrypt, compression } of CASES) {
    for (const [shape, size] of Object.entries(SIZES)) {
      test(`${shape}, ${compression}, ${encrypt ? "encrypted" : "unencrypted"}: every damage fails the restore before the target starts`, async () => {
        const backupOf = (endpoint: Record<string, unknown>) => backup(context(), bytes(endpoint), store(), { compression, encrypt });
        const archive = await backupOf({ size });
        // Same size, other bytes (the swap); and an archive of another target (the replacement).
        const twin = await backupOf({ size, seed: "twin" });
        const stranger = await backupOf({ size: size + 70_000, seed: "stranger" });
        const blob = readFileSync(join(storeDir, archive.storeKey));
        const twinBlob = readFileSync(join(storeDir, twin.storeKey));
        expect(blob.length).toBe(archive.size);
        if (encrypt) expect(blob.length).toBeGreaterThan(HEADER_LENGTH + (shape === "many-chunk" ? 2 : 0) * (DEFAULT_CHUNK_SIZE + TAG_LENGTH));
        expect(twinBlob.length).toBe(blob.length);
        expect(twinBlob.equals(blob)).toBe(false);

        const list = damages(blob, { sameSize: twinBlob, otherArchive: readFileSync(join(storeDir, stranger.storeKey)) }, encrypt);
        for (const [what, damaged] of list) {
          const r = await restoreInto(toRestore(archive, planted(damaged)), `${shape}-${compression}-${encrypt}-${keys}`);
          if (!r.error) throw new Error(`${what}: the restore succeeded`);
          expect(r.error, what).toBeInstanceOf(PipelineFailed);
          if (!REFUSED.test(r.error.message)) throw new Error(`${what}: unclear reason "${r.error.message}"`);
          // Not one byte reached the target: its restore never even started.
          if (r.reached) throw new Error(`${what}: the target's restore started (${r.error.message})`);
          expect(r.log).toContain("verifying the archive before the target sees any of it");
          expect(r.log).not.toContain("target restore");
        }

        // The undamaged blob restores, after its verify pass.
        const good = await restoreInto(toRestore(archive), `${shape}-${compression}-${encrypt}-good`);
        expect(good.error).toBeUndefined();
        const expected = Bun.spawnSync(["sh", "-c", `openssl enc -aes-128-ctr -nosalt -pass pass:seed -in /dev/zero 2>/dev/null | head -c ${size}`]).stdout;
        expect(sha256(readFileSync(good.out))).toBe(sha256(expected));
        expect(good.log).toContain(`verifying the archive before the target sees any of it: reading the whole blob (size, ${encrypt ? "every chunk's authentication" : "SHA-256"})`);
        expect(good.log).toMatch(/\nverified [\d.]+ (KiB|MiB) in [\d.]+ s/);
        // The verify pass comes first, the target after it.
        expect(good.log.indexOf("verified ")).toBeLessThan(good.log.indexOf("restored"));
      }, 120_000);
    }
  }

  // The second read of an encrypted archive is authenticated chunk by chunk and its size
  // compared, not hashed (readCheck in run.ts); an unencrypted one is hashed.
  // Either way, each of these changes made between the passes fails the restore.
  test("a blob that changes between the verify pass and the restore fails, saying the target may have received part of it", async () => {
    let n = 0;
    for (const { encrypt, compression } of CASES) {
      const size = SIZES["many-chunk"];
      const archive = await backup(context(), bytes({ size }), store(), { compression, encrypt });
      const twin = await backup(context(), bytes({ size, seed: "twin-between" }), store(), { compression, encrypt });
      const blob = readFileSync(join(storeDir, archive.storeKey));
      const twinBlob = readFileSync(join(storeDir, twin.storeKey));
      expect(twinBlob.length).toBe(blob.length);
      const frame = DEFAULT_CHUNK_SIZE + TAG_LENGTH;
      const flipped = Buffer.from(blob);
      flipped[Math.floor(blob.length / 2)]! ^= 0x01;
      const changes: [string, Buffer][] = [
        ["a byte flipped", flipped],
        ["another archive's blob of the same size", twinBlob],
        // Encrypted: cut after two whole chunks, so that what is left is whole frames.
        ["cut short", blob.subarray(0, encrypt ? HEADER_LENGTH + 2 * frame : Math.floor(blob.length / 2))],
        ["two chunks' worth swapped", Buffer.concat([blob.subarray(0, HEADER_LENGTH), blob.subarray(HEADER_LENGTH + frame, HEADER_LENGTH + 2 * frame),
          blob.subarray(HEADER_LENGTH, HEADER_LENGTH + frame), blob.subarray(HEADER_LENGTH + 2 * frame)])],
      ];
      for (const [what, changed] of changes) {
        const key = planted(blob);
        // changing-store serves the good blob once (the verify pass), then the changed one.
        writeFileSync(join(storeDir, `${key}.next`), changed);
        const r = await restoreInto(toRestore(archive, key), `changing-${++n}`, { plugin: "changing-store", endpoint: JSON.stringify({ dir: storeDir }) });
        const label = `${compression} ${encrypt ? "encrypted" : "unencrypted"}, ${what}`;
        expect(r.error, label).toBeInstanceOf(PipelineFailed);
        expect(r.error!.message, label).toContain("the blob read for the restore is not the one verified before it");
        expect(r.error!.message, label).toContain("the target may have received part of it");
        expect(r.log, label).toMatch(/\nverified /);
        // The target never saw the end of its input: it never finished (no `out`).
        expect(existsSync(r.out), label).toBe(false);
      }
    }
  }, 120_000);

  test("a cancel during the verify pass cancels the restore; the target never starts", async () => {
    const archive = await backup(context(), bytes({ size: 1000 }), store(), { compression: "zstd", encrypt: true });
    const out = join(dir, "out-canceled");
    const ac = new AbortController();
    const lines: string[] = [];
    const started = Date.now();
    const restoring = restore({ ...context(lines), signal: ac.signal }, { plugin: "changing-store", endpoint: JSON.stringify({ dir: storeDir, delay: 30 }) }, bytes({ size: 1, out }), toRestore(archive));
    await Bun.sleep(300);
    ac.abort(new Canceled("canceled"));
    const err = await restoring.catch((e) => e);
    expect(err).toBeInstanceOf(Canceled);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(existsSync(out) || existsSync(`${out}.partial`)).toBe(false);
    expect(lines.join("\n")).not.toContain("target restore");
  });

  test("a store that cannot find the blob fails the verify pass by its own exit, not as a damaged archive", async () => {
    const archive = await backup(context(), bytes({ size: 1000 }), store(), { compression: "zstd", encrypt: true });
    rmSync(join(storeDir, archive.storeKey));
    const r = await restoreInto(toRestore(archive), "missing");
    expect(r.error?.message).toBe("store retrieve (verify) failed (exit 1)");
    expect(r.reached).toBe(false);
  });
});

// A restore's reads are unsealed in the retrieve's guard (guard.ts --unseal): the
// counts, the SHA-256 and the chunks' authentication are checked there, and the
// daemon names what went wrong as before.
describe("a restore's reads of the blob, in the retrieve's guard", () => {
  test("a store failing part way through a read is named by its exit, in the verify pass and in the restore proper; the target never sees a clean end", async () => {
    let n = 0;
    for (const { encrypt, compression } of CASES) {
      const archive = await backup(context(), bytes({ size: SIZES["many-chunk"] }), store(), { compression, encrypt });
      const blob = readFileSync(join(storeDir, archive.storeKey));
      for (const read of [1, 2]) {
        const key = planted(blob);
        const failing = { plugin: "changing-store", endpoint: JSON.stringify({ dir: storeDir, cut: Math.floor(blob.length / 2), cut_read: read }) };
        const r = await restoreInto(toRestore(archive, key), `cut-${++n}`, failing);
        const label = `${compression} ${encrypt ? "encrypted" : "unencrypted"}, read ${read}`;
        expect(r.error, label).toBeInstanceOf(PipelineFailed);
        expect(r.error!.message, label).toBe(read === 1 ? "store retrieve (verify) failed (exit 5)" : "store retrieve failed (exit 5)");
        expect(r.log, label).toContain("lost the connection after");
        // The verify pass failed: the target never started. The restore proper: it never finished.
        if (read === 1) expect(r.reached, label).toBe(false);
        expect(existsSync(r.out), label).toBe(false);
      }
    }
  }, 60_000);

  test("every compression, encrypted or not, restores byte for byte (gzip -d's output crosses the daemon, counted; zstd and none do not)", async () => {
    const size = SIZES["many-chunk"];
    const expected = Bun.spawnSync(["sh", "-c", `openssl enc -aes-128-ctr -nosalt -pass pass:seed -in /dev/zero 2>/dev/null | head -c ${size}`]).stdout;
    for (const compression of ["zstd", "gzip", "none"] as const) {
      for (const encrypt of [true, false]) {
        const archive = await backup(context(), bytes({ size }), store(), { compression, encrypt });
        const out = join(dir, `out-every-${compression}-${encrypt}`);
        const r = await restore(context(), store(), bytes({ size: 1, out }), toRestore(archive));
        expect(r.rawSize, `${compression} ${encrypt}`).toBe(size);
        expect(sha256(readFileSync(out)), `${compression} ${encrypt}`).toBe(sha256(expected));
      }
    }
  }, 60_000);

  // A blob of THREAD_MIN_BYTES or more in the built-in fs store is handed over to the
  // retrieve's guard and read on its threads; the restore proper lends the plaintext's
  // pages to a decompressor of ours (lend.ts), and writes them into a target's own program.
  test("a large archive in the fs store (a thread's read): zstd, gzip and none, encrypted, byte for byte", async () => {
    const size = THREAD_MIN_BYTES + (3 << 20);
    const expected = sha256(Bun.spawnSync(["sh", "-c", `openssl enc -aes-128-ctr -nosalt -pass pass:seed -in /dev/zero 2>/dev/null | head -c ${size}`]).stdout);
    const base = join(dir, "fs-store");
    mkdirSync(base, { recursive: true });
    const fsStore = { plugin: "fs", endpoint: JSON.stringify({ base_dir: base }) };
    // The fixtures and the built-in fs store, run from the sources.
    const withFs = { ...context(), plugins: new PluginRegistry({ dirs: [FIXTURE_PLUGINS], self: [process.execPath, resolve(import.meta.dir, "../../src/main.ts")], builtins: ["fs"] }) };
    for (const compression of ["zstd", "gzip", "none"] as const) {
      const archive = await backup(withFs, bytes({ size }), fsStore, { compression, encrypt: true });
      expect(archive.size).toBeGreaterThan(THREAD_MIN_BYTES);
      const out = join(dir, `out-large-${compression}`);
      const r = await restore(withFs, fsStore, bytes({ size: 1, out }), toRestore(archive));
      expect(r.rawSize, compression).toBe(size);
      expect(sha256(readFileSync(out)), compression).toBe(expected);
      rmSync(out);
    }
  }, 120_000);

  // The retrieve's guard, its write failed, waits to be stopped; a stage downstream that
  // stopped reading but lingers (or exits 0) must not leave the restore waiting for ever.
  test("a target that stops reading and lingers: the restore fails at once, naming the broken pipe", async () => {
    for (const compression of ["none", "zstd"] as const) {
      const archive = await backup(context(), bytes({ size: 3 << 20 }), store(), { compression, encrypt: true });
      const out = join(dir, `out-closed-${compression}`);
      const started = performance.now();
      const err = await restore(context(), store(), bytes({ size: 1, out, restore_close: 30 }), toRestore(archive)).catch((e) => e);
      expect(err, compression).toBeInstanceOf(PipelineFailed);
      // Written into by the guard, the target's input breaks under it; by zstd, zstd fails.
      expect(err.message, compression).toMatch(compression === "none" ? /^store retrieve: unsealing the stream failed: EPIPE.*the stage downstream stopped reading/ : /^zstd -d failed/);
      expect(performance.now() - started, compression).toBeLessThan(15_000);
      expect(existsSync(out), compression).toBe(false);
    }
  }, 40_000);

  test("a rate limit paces the restore's read (in the retrieve's guard)", async () => {
    const size = 600_000;
    const archive = await backup(context(), bytes({ size }), store(), { compression: "none", encrypt: true });
    const out = join(dir, "out-paced");
    const lines: string[] = [];
    const rate = 400_000;
    const started = performance.now();
    await restore(context(lines), store(), bytes({ size: 1, out }), toRestore(archive), { rate });
    const secs = (performance.now() - started) / 1000;
    // The verify pass is not paced; the restore proper is, at `rate` bytes of the blob per second.
    expect(secs).toBeGreaterThan((archive.size / rate) * 0.8);
    expect(readFileSync(out).length).toBe(size);
    expect(lines.join("\n")).toMatch(/\nrestored [\d.]+ KiB in/);
  });
});

// zstd between two guarded stages runs without a guard of its own (stage.ts, Tool): the
// guards on either side give what its own would. Its failure is still named and fails the
// run, a cancel still stops it, and a cut stream it turns into a clean end never becomes
// an archive (the store's held input) nor a restore (the target's).
describe("zstd without a guard of its own", () => {
  const keyed = () => readdirSync(storeDir).filter((n) => !n.startsWith("."));
  /** The first child of this process whose command line starts with `prefix`, once there is one. */
  async function child(prefix: string): Promise<{ pid: number; cmd: string }> {
    for (let i = 0; i < 400; i++) {
      const found = descendants(process.pid).find((p) => p.cmd.startsWith(prefix));
      if (found) return found;
      await Bun.sleep(25);
    }
    throw new Error(`no ${prefix} started`);
  }
  const parentOf = (pid: number) => stat(pid)?.ppid;
  /** Kills the first child whose command starts with `prefix` (this process's own, not a guard's): `running` must fail naming it. */
  async function killedAndNamed(running: Promise<unknown>, prefix: string, named: string): Promise<void> {
    const tool = await child(prefix);
    expect(parentOf(tool.pid)).toBe(process.pid);
    process.kill(tool.pid, "SIGKILL");
    const err = await running.then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(PipelineFailed);
    expect(err.message).toBe(`${named} failed (exit 137)`);
  }

  test("backup: zstd is the daemon's own child; killed mid-stream, it is named as the cause, and no blob is kept", async () => {
    const before = keyed();
    const running = backup(context(), bytes({ size: 64 * 1024 * 1024, trickle: 0.02 }), store(), { compression: "zstd", encrypt: true });
    await killedAndNamed(running, "zstd ", "zstd");
    expect(keyed()).toEqual(before);
  });

  test("backup: a target that dies mid-stream is named; zstd never sees the end of its input (the daemon holds it), and no archive is made", async () => {
    const before = keyed();
    const lines: string[] = [];
    const err = await backup(context(lines), bytes({ size: 2_000_000, fail_after: 300_000 }), store(), { compression: "zstd", encrypt: true }).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(PipelineFailed);
    expect(err.message).toBe("target backup failed (exit 1)");
    expect(lines.join("\n")).not.toMatch(/^zstd/m);
    expect(keyed()).toEqual(before);
  });

  test("backup: a cancel stops zstd with the guarded stages", async () => {
    const before = keyed();
    const ac = new AbortController();
    const running = backup({ ...context(), signal: ac.signal }, bytes({ size: 64 * 1024 * 1024, trickle: 0.02 }), store(), { compression: "zstd", encrypt: true });
    const zstd = await child("zstd ");
    ac.abort(new Canceled("canceled"));
    expect(await running.then(() => undefined, (e) => e)).toBeInstanceOf(Canceled);
    expect(alive(zstd.pid)).toBe(false);
    expect(keyed()).toEqual(before);
  });

  test("restore: a store failing part way through a read longer than the held tail is named, not zstd -d (which never sees a cut end of its input)", async () => {
    let n = 0;
    for (const encrypt of [false, true]) {
      const archive = await backup(context(), bytes({ size: 4 * 1024 * 1024 }), store(), { compression: "zstd", encrypt });
      const blob = readFileSync(join(storeDir, archive.storeKey));
      for (let i = 0; i < 3; i++) {
        const key = planted(blob);
        // The restore proper's read breaks off at 3 MiB: past the unencrypted archive's held tail.
        const failing = { plugin: "changing-store", endpoint: JSON.stringify({ dir: storeDir, cut: 3 * 1024 * 1024, cut_read: 2 }) };
        const r = await restoreInto(toRestore(archive, key), `long-cut-${++n}`, failing);
        const label = `${encrypt ? "encrypted" : "unencrypted"}, run ${i + 1}`;
        expect(r.error?.message, label).toBe("store retrieve failed (exit 5)");
        expect(existsSync(r.out), label).toBe(false);
      }
    }
  }, 60_000);

  test("restore: zstd -d is the daemon's own child; killed mid-stream, it is named as the cause, and the target never sees the end of its input", async () => {
    const archive = await backup(context(), bytes({ size: 8 * 1024 * 1024 }), store(), { compression: "zstd", encrypt: true });
    const out = join(dir, "out-zstd-killed");
    // The target takes 64 KiB, then stalls: zstd -d blocks on its full input.
    const restoring = restore(context(), store(), bytes({ size: 1, out, restore_stall: 30 }), toRestore(archive));
    await killedAndNamed(restoring, "zstd -v -d", "zstd -d");
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});

describe("an empty backup is not an archive", () => {
  const keyed = () => readdirSync(storeDir).filter((n) => !n.startsWith("."));

  for (const compression of ["zstd", "gzip", "none"] as const) {
    test(`${compression}: a target that produced 0 bytes fails the task with the reason; no archive row, no blob`, async () => {
      const before = keyed();
      const target = await core.targets.create({ name: `empty-${compression}`, summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 0 }), agent: "" });
      const job = await core.jobs.create({ name: `empty-${compression}`, summary: "", target, ...ids, paused: true, compression });
      const task = await waitTask(catalog, await core.jobs.run(job, "tester"));
      expect(task.status).toBe("failed");
      expect(task.log).toContain("FAILED: the target produced no data (0 bytes; its backup exited 0): an empty backup is not an archive");
      expect(task.archiveUuid).toBeNull();
      expect((await catalog.archives.list({ target }, { limit: 10, offset: 0 })).length).toBe(0);
      expect(keyed()).toEqual(before);
    });
  }

  test("one byte is an archive", async () => {
    const r = await backup(context(), bytes({ size: 1 }), store(), { compression: "zstd", encrypt: true });
    expect(r.rawSize).toBe(1);
  });
});

// An unencrypted second read keeps its last bytes back until its SHA-256 is checked: a
// target that applies a whole dump before EOF (pg_restore) must never get a whole one
// that the hash then refuses.
describe("holdTail", () => {
  async function through(chunks: number[], held: number, check: () => Promise<void>): Promise<{ early: number; all: number; error?: unknown }> {
    let checking = false;
    let early = 0;
    let all = 0;
    const t = holdTail(held, async () => { checking = true; await check(); });
    const reading = (async () => {
      for await (const c of t.readable) { if (!checking) early += c.byteLength; all += c.byteLength; }
    })();
    const w = t.writable.getWriter();
    for (const n of chunks) await w.write(new Uint8Array(n));
    const closed = w.close().catch((e) => e);
    const error = await reading.then(() => undefined, (e) => e);
    await closed;
    return { early, all, error };
  }

  test("everything but the last `held` bytes goes on at once; the rest once the check passed", async () => {
    const r = await through([300, 300, 300, 300, 50], 400, async () => {});
    expect(r.error).toBeUndefined();
    expect(r.all).toBe(1250);
    expect(r.early).toBeLessThanOrEqual(1250 - 400);
    expect(r.early).toBeGreaterThan(0);
  });

  test("a failed check: the held bytes never go on, and the stream fails", async () => {
    const r = await through([300, 300, 300, 300, 50], 400, async () => { throw new Error("sha256 mismatch"); });
    expect(String(r.error)).toContain("sha256 mismatch");
    expect(r.all).toBeLessThanOrEqual(1250 - 400);
  });

  test("a stream shorter than what is held goes on only after the check", async () => {
    const r = await through([100, 100], 400, async () => {});
    expect(r).toEqual({ early: 0, all: 200, error: undefined });
  });
});
