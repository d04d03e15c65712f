// The supervisor with real processes: test plugins in shell (test/fixtures/plugins),
// real zstd/gzip, a real SQLite catalog. Backup and restore round trips, failures
// anywhere in the pipeline, cancel, and recovery after a crash.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Core } from "../../src/core/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { Supervisor } from "../../src/supervisor/index.ts";
import { nowSeconds, type Catalog } from "../../src/catalog/index.ts";
import { log } from "../../src/log.ts";
import { FIXTURE_PLUGINS as FIXTURES, supervisorWorld, waitTask as waitTaskOf } from "../helpers/supervisor.ts";

const SIZE = 3 * 1024 * 1024 + 17;

let catalog: Catalog;
let core: Core;
let supervisor: Supervisor;
let cleanup: () => Promise<void>;
let dir: string;
let storeDir: string;
let ids: { store: string; schedule: string; retention: string };

function expected(size: number): Buffer {
  const r = Bun.spawnSync(["sh", "-c", `openssl enc -aes-128-ctr -nosalt -pass pass:seed -in /dev/zero 2>/dev/null | head -c ${size}`]);
  return Buffer.from(r.stdout);
}

const waitTask = (uuid: string, timeoutMs?: number) => waitTaskOf(catalog, uuid, timeoutMs);

let n = 0;
async function job(endpoint: Record<string, unknown>, compression?: "zstd" | "gzip" | "none") {
  const target = await core.targets.create({ name: `t${++n}`, summary: "", plugin: "bytes-target", endpoint: JSON.stringify(endpoint), agent: "" });
  const uuid = await core.jobs.create({ name: `j${n}`, summary: "", target, ...ids, paused: false, compression });
  return { target, job: uuid };
}

beforeAll(async () => {
  log.setSink(() => {});
  let plugins: PluginRegistry;
  ({ catalog, cleanup, dir, storeDir, plugins, core, ids } = await supervisorWorld({
    name: "supervisor", schedule: { name: "s", timespec: "daily at 4am" }, retention: "r", onTaskFiled: () => supervisor.nudge(),
  }));
  const masterKey = crypto.getRandomValues(new Uint8Array(32));
  supervisor = new Supervisor({ catalog, plugins, masterKey, workers: 2, pollMs: 50, progressEvery: 200 });
  await supervisor.start();
});

afterAll(async () => {
  await supervisor.stop();
  await cleanup();
});

const blobs = () => readdirSync(storeDir);

describe("backup and restore", () => {
  for (const compression of ["zstd", "gzip", "none"] as const) {
    test(`round trip with ${compression}, encrypted; the archive records size, checksum, compression and cipher`, async () => {
      const { job: j } = await job({ size: SIZE, password: "hunter2-secret" }, compression);
      const task = await waitTask(await core.jobs.run(j, "tester"));
      expect(task.status).toBe("done");
      expect(task.archiveUuid).toBeString();
      const archive = (await catalog.archives.get(task.archiveUuid!))!;
      expect(archive).toMatchObject({ status: "valid", rawSize: SIZE, compression, cipher: "aes-256-gcm-chunked-v1", jobUuid: j });
      const blob = readFileSync(join(storeDir, archive.storeKey));
      expect(blob.length).toBe(archive.size!);
      expect(new Bun.CryptoHasher("sha256").update(blob).digest("hex")).toBe(archive.sha256!);
      // Encrypted: not a byte run of the source survives in the store.
      expect(blob.includes(expected(SIZE).subarray(1000, 1064))).toBe(false);
      expect(archive.expiresAt - archive.takenAt).toBe(86400);
      // The task log has the stage's stderr and progress, but never the secret.
      expect(task.log).toContain("target backup: backing up with password ***");
      expect(task.log).not.toContain("hunter2-secret");
      expect(task.log).toMatch(/backed up 3\.0 MiB/);

      const out = join(dir, `restored-${compression}`);
      const other = await core.targets.create({ name: `restore-to-${compression}`, summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 1, out }), agent: "" });
      const restoreTask = await waitTask(await core.archives.restore(archive.uuid, "tester", other));
      expect(restoreTask.status).toBe("done");
      // The raw size, whether zstd (writing straight into the target) or the daemon counted it; no zstd chatter.
      expect(restoreTask.log).toContain(`restored ${SIZE} bytes; checksum and authentication verified`);
      expect(restoreTask.log).toMatch(/restored 3\.0 MiB in/);
      expect(restoreTask.log).not.toContain("Zstandard CLI");
      expect(readFileSync(out).equals(expected(SIZE))).toBe(true);
    });
  }
});

describe("failures leave no archive and no blob", () => {
  test("a target that dies mid-stream fails the task and its blob is purged", async () => {
    const before = blobs();
    const { job: j } = await job({ size: SIZE, fail_after: 100000 });
    const task = await waitTask(await core.jobs.run(j, "tester"));
    expect(task.status).toBe("failed");
    expect(task.log).toContain("target backup: died mid-stream");
    expect(task.log).toContain("FAILED: target backup failed (exit 1)");
    expect(task.archiveUuid).toBeNull();
    expect(blobs()).toEqual(before);
  });

  test("a backup canceled while its pipeline is still being set up is canceled cleanly (no unhandled rejection)", async () => {
    // Blobs under a key only: a store killed before it could set its trap leaves its
    // temporary (".blob-..."), as the fs store leaves one in .incoming for its sweep.
    const keyed = () => blobs().filter((name) => !name.startsWith("."));
    const before = keyed();
    // The cancel kills the stages while the setup still waits for the store's guard: the
    // failures that follow must not be unhandled rejections, which would end the daemon.
    const { job: j } = await job({ size: SIZE, sleep: 5 });
    for (let i = 0; i < 8; i++) {
      const uuid = await core.jobs.run(j, "tester");
      while ((await catalog.tasks.get(uuid))!.status === "pending") await Bun.sleep(1);
      await Bun.sleep(i * 3);
      await core.tasks.cancel(uuid);
      expect((await waitTask(uuid)).status).toBe("canceled");
    }
    expect(keyed()).toEqual(before);
  });

  test("an unwritable store fails the task with the store's words", async () => {
    const store = await core.stores.create({ name: "gone", summary: "", plugin: "dir-store", endpoint: JSON.stringify({ dir: storeDir }) });
    // Make the store's directory vanish after validation.
    await catalog.stores.update(store, { name: "gone", summary: "", plugin: "dir-store", endpoint: JSON.stringify({ dir: join(dir, "nope") }) });
    const target = await core.targets.create({ name: "t-unwritable", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 1000 }), agent: "" });
    const j = await core.jobs.create({ name: "j-unwritable", summary: "", target, ...ids, store, paused: false });
    const task = await waitTask(await core.jobs.run(j, "tester"));
    expect(task.status).toBe("failed");
    expect(task.log).toMatch(/store: .*nope/);
    expect(task.log).toContain("FAILED: store failed");
  });

  test("a store that fails mid-stream is named as the cause, not the stages that lost their reader", async () => {
    const store = await core.stores.create({ name: "full", summary: "", plugin: "dir-store", endpoint: JSON.stringify({ dir: storeDir, fail_after: 100000 }) });
    for (const compression of ["zstd", "gzip", "none", "zstd", "none", "zstd"] as const) {
      const target = await core.targets.create({ name: `t-full-${++n}`, summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 20 * 1024 * 1024 }), agent: "" });
      const j = await core.jobs.create({ name: `j-full-${n}`, summary: "", target, ...ids, store, paused: false, compression });
      const task = await waitTask(await core.jobs.run(j, "tester"));
      expect(task.status).toBe("failed");
      expect(task.log).toContain("store: disk full after 100000 bytes");
      expect({ compression, failed: task.log.split("\n").find((l) => l.includes("FAILED:")) }).toEqual({ compression, failed: expect.stringContaining("FAILED: store failed (exit 4)") });
    }
  });

  test("a corrupted blob is refused at restore, and the target never finishes its restore", async () => {
    const { job: j } = await job({ size: 500000 }, "none");
    const backupTask = await waitTask(await core.jobs.run(j, "tester"));
    const archive = (await catalog.archives.get(backupTask.archiveUuid!))!;
    const path = join(storeDir, archive.storeKey);
    const blob = readFileSync(path);
    blob[blob.length - 100]! ^= 1;
    writeFileSync(path, blob);
    const out = join(dir, "corrupt-out");
    const target = await core.targets.create({ name: "t-corrupt-out", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 1, out }), agent: "" });
    const task = await waitTask(await core.archives.restore(archive.uuid, "tester", target));
    expect(task.status).toBe("failed");
    expect(task.log).toMatch(/FAILED: .*(authentication|SHA-256)/);
    expect(existsSync(out)).toBe(false);
  });

  test("a truncated blob is refused at restore", async () => {
    const { job: j } = await job({ size: 500000 }, "gzip");
    const backupTask = await waitTask(await core.jobs.run(j, "tester"));
    const archive = (await catalog.archives.get(backupTask.archiveUuid!))!;
    const path = join(storeDir, archive.storeKey);
    writeFileSync(path, readFileSync(path).subarray(0, archive.size! - 70000));
    const out = join(dir, "truncated-out");
    const target = await core.targets.create({ name: "t-trunc-out", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 1, out }), agent: "" });
    const task = await waitTask(await core.archives.restore(archive.uuid, "tester", target));
    expect(task.status).toBe("failed");
    expect(existsSync(out)).toBe(false);
  });
});

describe("cancel and recovery", () => {
  test("canceling a running backup kills its processes within a second and leaves no blob", async () => {
    const before = blobs();
    const fifoDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith("shield-stage-")).sort();
    const dirsBefore = fifoDirs();
    const { job: j } = await job({ size: SIZE, sleep: 30 });
    const uuid = await core.jobs.run(j, "tester");
    for (let i = 0; i < 200 && (await catalog.tasks.get(uuid))!.status !== "running"; i++) await Bun.sleep(20);
    await Bun.sleep(200);
    const started = Date.now();
    await core.tasks.cancel(uuid);
    // The sleeping plugin's `sleep 30` is in its process group: it must be gone too.
    for (;;) {
      const ps = Bun.spawnSync(["pgrep", "-fx", "sleep 30"]).stdout.toString().trim();
      if (!ps) break;
      expect(Date.now() - started).toBeLessThan(1500);
      await Bun.sleep(50);
    }
    const task = await waitTask(uuid);
    expect(task.status).toBe("canceled");
    await Bun.sleep(1200); // the log is written in batches
    expect((await catalog.tasks.get(uuid))!.log).toContain("canceled: every process of the task was killed");
    expect(blobs()).toEqual(before);
    expect(fifoDirs()).toEqual(dirsBefore);
  });

  test("tasks left running by a dead daemon are failed at start, and their blob purged", async () => {
    writeFileSync(join(storeDir, "orphan-blob"), "partial");
    const uuid = crypto.randomUUID();
    await catalog.tasks.create({ uuid, owner: "system", op: "backup", jobUuid: null, archiveUuid: null, targetUuid: null, storeUuid: ids.store, requestedAt: nowSeconds() });
    await catalog.tasks.claim(nowSeconds()); // as the dead daemon did
    await catalog.tasks.setStoreKey(uuid, "orphan-blob");
    const plugins = new PluginRegistry({ dirs: [FIXTURES], self: [], builtins: [] });
    const second = new Supervisor({ catalog, plugins, masterKey: new Uint8Array(32), workers: 1, pollMs: 50 });
    await second.start();
    await second.stop();
    const task = (await catalog.tasks.get(uuid))!;
    expect(task.status).toBe("failed");
    expect(task.log).toContain("the daemon stopped while this task ran");
    expect(existsSync(join(storeDir, "orphan-blob"))).toBe(false);
  });

  test("a dead daemon's backup: recovery purges its partial blob (partial:TASK), but only from stores whose info says they keep that contract", async () => {
    // The same store twice: as dir-store (it says "partial_blobs": "yes") and under a name whose info does not.
    const pluginDir = join(dir, "plain-plugins");
    mkdirSync(pluginDir, { recursive: true });
    writeFileSync(join(pluginDir, "plain-store"), `#!/bin/sh
[ "$1" = info ] && { echo '{"name":"plain","author":"tests","version":"1","features":{"target":"no","store":"yes"}}'; exit 0; }
exec ${join(FIXTURES, "dir-store")} "$@"
`, { mode: 0o755 });
    // Straight into the catalog: the core's registry (the fixtures only) would not know the plugin.
    const plain = crypto.randomUUID();
    await catalog.stores.create(plain, { name: "plain", summary: "", plugin: "plain-store", endpoint: JSON.stringify({ dir: storeDir }) }, nowSeconds());
    const dead: Record<string, string> = {};
    for (const [name, store] of [["declared", ids.store], ["plain", plain]] as const) {
      const uuid = crypto.randomUUID();
      await catalog.tasks.create({ uuid, owner: "system", op: "backup", jobUuid: null, archiveUuid: null, targetUuid: null, storeUuid: store, requestedAt: nowSeconds() });
      await catalog.tasks.claim(nowSeconds()); // as the dead daemon did
      // What a store killed mid-blob leaves (dir-store names it after SHIELD_PARTIAL_ID, the task's uuid).
      writeFileSync(join(storeDir, `.partial-${uuid}`), "part of a blob");
      dead[name] = uuid;
    }
    const plugins = new PluginRegistry({ dirs: [pluginDir, FIXTURES], self: [], builtins: [] });
    const second = new Supervisor({ catalog, plugins, masterKey: new Uint8Array(32), workers: 1, pollMs: 50 });
    await second.start();
    await second.stop();
    const declared = (await catalog.tasks.get(dead.declared!))!;
    expect(declared.status).toBe("failed");
    expect(declared.log).toContain(`removed from store "dir" whatever it kept of the unfinished blob (partial:${dead.declared})`);
    expect(existsSync(join(storeDir, `.partial-${dead.declared}`))).toBe(false);
    const undeclared = (await catalog.tasks.get(dead.plain!))!;
    expect(undeclared.status).toBe("failed");
    expect(undeclared.log).not.toContain("partial:");
    expect(existsSync(join(storeDir, `.partial-${dead.plain}`))).toBe(true);
    rmSync(join(storeDir, `.partial-${dead.plain}`));
  });
});
