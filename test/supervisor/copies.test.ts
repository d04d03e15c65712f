// Copies to a second store and limits, with real processes (test plugins in shell,
// the compiled guard), a real SQLite catalog: a job's archive is copied to its
// extra store as a `copy` task and verified there; a restore whose primary blob is
// damaged or gone uses the copy and says so; a copy expires by its own policy and
// is purged; a store's max_tasks runs its tasks one after the other; a bandwidth
// limit holds roughly (loose on purpose: speed belongs in bench/).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Core } from "../../src/core/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { Supervisor } from "../../src/supervisor/index.ts";
import type { Catalog } from "../../src/catalog/index.ts";
import { Purger } from "../../src/scheduler/purger.ts";
import { log } from "../../src/log.ts";
import { supervisorWorld, waitTask as waitTaskOf } from "../helpers/supervisor.ts";

const SIZE = 2 * 1024 * 1024 + 5;

let catalog: Catalog;
let core: Core;
let supervisor: Supervisor;
let cleanup: () => Promise<void>;
let dir: string;
let storeDir: string;
let ids: { store: string; schedule: string; retention: string };
let n = 0;

const waitTask = (uuid: string, timeoutMs?: number) => waitTaskOf(catalog, uuid, timeoutMs);
const sha = (b: Buffer) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

function expected(size: number): Buffer {
  const r = Bun.spawnSync(["sh", "-c", `openssl enc -aes-128-ctr -nosalt -pass pass:seed -in /dev/zero 2>/dev/null | head -c ${size}`]);
  return Buffer.from(r.stdout);
}

async function store(limits: { maxTasks?: number; bandwidth?: number } = {}) {
  const d = join(dir, `store-${++n}`);
  mkdirSync(d, { recursive: true });
  const uuid = await core.stores.create({ name: `s${n}`, summary: "", plugin: "dir-store", endpoint: JSON.stringify({ dir: d }), ...limits });
  return { uuid, dir: d };
}

async function job(endpoint: Record<string, unknown>, opts: { store?: string; copies?: { store: string; retention: string }[]; compression?: "zstd" | "none" } = {}) {
  const target = await core.targets.create({ name: `t${++n}`, summary: "", plugin: "bytes-target", endpoint: JSON.stringify(endpoint), agent: "" });
  const uuid = await core.jobs.create({
    name: `j${n}`, summary: "", target, ...ids, store: opts.store ?? ids.store, paused: false,
    compression: opts.compression, copies: opts.copies,
  });
  return { target, job: uuid };
}

/** The archive's copy in `storeUuid` once it is no longer pending. */
async function settledCopy(archive: string, storeUuid: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const c = await catalog.copies.get(archive, storeUuid);
    if (c && c.status !== "pending") return c;
    if (Date.now() > deadline) throw new Error(`copy still ${c?.status}`);
    await Bun.sleep(25);
  }
}

async function copyTaskOf(archive: string) {
  const tasks = await catalog.tasks.list({ archive }, { limit: 100, offset: 0 });
  return tasks.find((t) => t.op === "copy")!;
}

beforeAll(async () => {
  log.setSink(() => {});
  let plugins: PluginRegistry;
  ({ catalog, cleanup, dir, storeDir, plugins, core, ids } = await supervisorWorld({
    name: "copies", schedule: { name: "s", timespec: "daily at 4am" }, retention: "r", onTaskFiled: () => supervisor.nudge(),
  }));
  const masterKey = crypto.getRandomValues(new Uint8Array(32));
  supervisor = new Supervisor({ catalog, plugins, masterKey, workers: 3, pollMs: 50, idlePollMs: 100, progressEvery: 200 });
  await supervisor.start();
});

afterAll(async () => {
  await supervisor.stop();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("copies to a second store", () => {
  let second: { uuid: string; dir: string };
  let copyPolicy: string;
  let archiveUuid: string;

  test("a job naming an extra store: backup → copy task → copy recorded, valid, with the archive's sha256", async () => {
    second = await store();
    copyPolicy = await core.retention.create({ name: "copy-policy", summary: "", expiry: 7200 });
    const { job: j } = await job({ size: SIZE }, { copies: [{ store: second.uuid, retention: copyPolicy }] });
    const backup = await waitTask(await core.jobs.run(j, "tester"));
    expect(backup.status).toBe("done");
    archiveUuid = backup.archiveUuid!;
    const archive = (await catalog.archives.get(archiveUuid))!;
    expect(backup.log).toContain("filed copy task");

    const copy = await settledCopy(archiveUuid, second.uuid);
    const task = await waitTask((await copyTaskOf(archiveUuid)).uuid);
    expect(task.status).toBe("done");
    expect(copy).toMatchObject({ status: "valid", size: archive.size, sha256: archive.sha256, expiresAt: archive.takenAt + 7200 });
    // The very bytes: compressed and encrypted as stored, not re-encrypted.
    const primary = readFileSync(join(storeDir, archive.storeKey));
    const copied = readFileSync(join(second.dir, copy.storeKey!));
    expect(copied.equals(primary)).toBe(true);
    expect(sha(copied)).toBe(archive.sha256!);
    expect(task.log).toContain("verified on the destination");
    expect(task.log).toContain("not re-encrypted");
  });

  test("a store holding a copy cannot be deleted", async () => {
    await expect(core.stores.delete(second.uuid)).rejects.toThrow(/not been purged/);
  });

  test("the primary blob damaged: the restore verifies it, moves on to the copy, and says which it used", async () => {
    const archive = (await catalog.archives.get(archiveUuid))!;
    const path = join(storeDir, archive.storeKey);
    const good = readFileSync(path);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)]! ^= 1;
    writeFileSync(path, bad);
    const out = join(dir, "restored-from-copy");
    const to = await core.targets.create({ name: "restore-to-1", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 1, out }), agent: "" });
    const t = await waitTask(await core.archives.restore(archiveUuid, "tester", to));
    expect(t.status).toBe("done");
    expect(t.log).toMatch(/store "dir" \(dir-store\) cannot be used: .*SHA-256|store "dir" \(dir-store\) cannot be used: .*verification/);
    expect(t.log).toContain(`restoring archive ${archiveUuid} from the copy in store "${(await catalog.stores.get(second.uuid))!.name}"`);
    expect(readFileSync(out).equals(expected(SIZE))).toBe(true);
    writeFileSync(path, good);
  });

  test("the primary blob gone: the restore uses the copy", async () => {
    const archive = (await catalog.archives.get(archiveUuid))!;
    const path = join(storeDir, archive.storeKey);
    const good = readFileSync(path);
    rmSync(path);
    const out = join(dir, "restored-from-copy-2");
    const to = await core.targets.create({ name: "restore-to-2", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 1, out }), agent: "" });
    const t = await waitTask(await core.archives.restore(archiveUuid, "tester", to));
    expect(t.status).toBe("done");
    expect(t.log).toContain("cannot be used");
    expect(t.log).toContain("from the copy in store");
    expect(readFileSync(out).equals(expected(SIZE))).toBe(true);
    writeFileSync(path, good);
  });

  test("a restore with a sound primary blob reads the primary", async () => {
    const out = join(dir, "restored-primary");
    const to = await core.targets.create({ name: "restore-to-3", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 1, out }), agent: "" });
    const t = await waitTask(await core.archives.restore(archiveUuid, "tester", to));
    expect(t.status).toBe("done");
    expect(t.log).toContain(`restoring archive ${archiveUuid} from store "dir" (dir-store)`);
    expect(t.log).not.toContain("cannot be used");
  });

  test("a copy expires by its own policy (the archive's is longer) and is purged from its store", async () => {
    const archive = (await catalog.archives.get(archiveUuid))!;
    const copy = (await catalog.copies.get(archiveUuid, second.uuid))!;
    // Past the copy's 2 h, well within the archive's 24 h.
    const at = (archive.takenAt + 7201) * 1000;
    const purger = new Purger({ catalog, clock: { now: () => at, sleep: async () => {} } as any, onFiled: () => supervisor.nudge() });
    const r = await purger.tick();
    expect(r.expired).toBe(1);
    const tasks = await catalog.tasks.list({ archive: archiveUuid }, { limit: 100, offset: 0 });
    const purge = tasks.find((t) => t.op === "purge_copy")!;
    expect(purge).toBeDefined();
    expect((await waitTask(purge.uuid)).status).toBe("done");
    expect(existsSync(join(second.dir, copy.storeKey!))).toBe(false);
    expect((await catalog.copies.get(archiveUuid, second.uuid))!.status).toBe("purged");
    expect((await catalog.archives.get(archiveUuid))!.status).toBe("valid");
    expect(existsSync(join(storeDir, archive.storeKey))).toBe(true);
  });

  test("a source blob that differs from the archive is not copied: the copy fails and the destination keeps nothing", async () => {
    const dest = await store();
    const policy = await core.retention.create({ name: "copy-policy-2", summary: "", expiry: 7200 });
    const { job: j } = await job({ size: SIZE });
    const backup = await waitTask(await core.jobs.run(j, "tester"));
    const archive = (await catalog.archives.get(backup.archiveUuid!))!;
    const path = join(storeDir, archive.storeKey);
    const good = readFileSync(path);
    const bad = Buffer.from(good);
    bad[100]! ^= 1;
    writeFileSync(path, bad);
    await catalog.copies.create({ uuid: crypto.randomUUID(), archiveUuid: archive.uuid, storeUuid: dest.uuid, retentionUuid: policy, createdAt: 1 });
    const task = crypto.randomUUID();
    await catalog.tasks.create({ uuid: task, owner: "system", op: "copy", jobUuid: j, archiveUuid: archive.uuid, targetUuid: null, storeUuid: dest.uuid, requestedAt: 1 });
    supervisor.nudge();
    const t = await waitTask(task);
    expect(t.status).toBe("failed");
    expect(t.log).toContain("SHA-256 does not match the archive's");
    const copy = (await catalog.copies.get(archive.uuid, dest.uuid))!;
    expect(copy.status).toBe("failed");
    expect(copy.error).toContain("SHA-256");
    expect(readdirSync(dest.dir)).toEqual([]);
    writeFileSync(path, good);
  });

  test("a job's copies are refused when they name its own store, a store twice, or a missing store", async () => {
    const base = { name: "bad-copies", summary: "", target: (await job({ size: 1 })).target, ...ids, paused: false };
    await expect(core.jobs.create({ ...base, copies: [{ store: ids.store, retention: ids.retention }] })).rejects.toThrow(/own store/);
    const s = await store();
    await expect(core.jobs.create({ ...base, copies: [{ store: s.uuid, retention: ids.retention }, { store: s.uuid, retention: ids.retention }] })).rejects.toThrow(/named twice/);
    await expect(core.jobs.create({ ...base, copies: [{ store: crypto.randomUUID(), retention: ids.retention }] })).rejects.toThrow(/no store with uuid/);
  });
});

describe("limits", () => {
  test("a store with max_tasks 1 runs two backups one after the other", async () => {
    const s = await store({ maxTasks: 1 });
    const a = await job({ size: 1000, sleep: 2 }, { store: s.uuid });
    const b = await job({ size: 1000, sleep: 2 }, { store: s.uuid });
    const [ta, tb] = await Promise.all([core.jobs.run(a.job, "tester"), core.jobs.run(b.job, "tester")]);
    // While one runs, the other stays pending (the supervisor has workers to spare).
    await Bun.sleep(1000);
    const statuses = [(await catalog.tasks.get(ta))!.status, (await catalog.tasks.get(tb))!.status].sort();
    expect(statuses).toEqual(["pending", "running"]);
    const [ra, rb] = [await waitTask(ta), await waitTask(tb)];
    expect(ra.status).toBe("done");
    expect(rb.status).toBe("done");
    const [first, second] = ra.startedAt! <= rb.startedAt! ? [ra, rb] : [rb, ra];
    expect(second.startedAt!).toBeGreaterThanOrEqual(first.stoppedAt!);
  });

  test("without a limit, the same two backups run side by side", async () => {
    const s = await store();
    const a = await job({ size: 1000, sleep: 2 }, { store: s.uuid });
    const b = await job({ size: 1000, sleep: 2 }, { store: s.uuid });
    const [ta, tb] = await Promise.all([core.jobs.run(a.job, "tester"), core.jobs.run(b.job, "tester")]);
    await Bun.sleep(1000);
    expect([(await catalog.tasks.get(ta))!.status, (await catalog.tasks.get(tb))!.status]).toEqual(["running", "running"]);
    await waitTask(ta);
    await waitTask(tb);
  });

  test("a store's bandwidth limit holds roughly for a backup and a restore (1 MiB/s over ~3 MiB)", async () => {
    const RATE = 1024 * 1024;
    const size = 3 * RATE;
    const limited = await store({ bandwidth: RATE });
    const t0 = performance.now();
    const { job: j } = await job({ size }, { store: limited.uuid, compression: "none" });
    const backup = await waitTask(await core.jobs.run(j, "tester"), 30_000);
    const backupS = (performance.now() - t0) / 1000;
    expect(backup.status).toBe("done");
    expect(backup.log).toContain(`at most ${RATE} bytes/s`);
    // 3 MiB at 1 MiB/s: about 3 s; loose bounds (process starts, a shared machine).
    console.log(`bandwidth 1 MiB/s: backup of 3 MiB took ${backupS.toFixed(2)} s`);
    expect(backupS).toBeGreaterThan(2.5);
    expect(backupS).toBeLessThan(12);

    const out = join(dir, "restored-limited");
    const to = await core.targets.create({ name: "restore-limited", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 1, out }), agent: "" });
    const t1 = performance.now();
    const restore = await waitTask(await core.archives.restore(backup.archiveUuid!, "tester", to), 30_000);
    const restoreS = (performance.now() - t1) / 1000;
    expect(restore.status).toBe("done");
    // The verify pass reads at full speed; the restore proper at 1 MiB/s.
    console.log(`bandwidth 1 MiB/s: restore of 3 MiB took ${restoreS.toFixed(2)} s`);
    expect(restoreS).toBeGreaterThan(2.5);
    expect(restoreS).toBeLessThan(12);
    expect(readFileSync(out).length).toBe(size);
  }, 60_000);
});
