// The retention purger with the real fs store (the built-in plugin, run as
// `bun src/main.ts plugin fs`), real backups, the supervisor running the purge
// tasks, and a clock moved by hand: an expired archive's blob leaves the store
// and the archive is marked purged; a failed purge is visible and retried with
// backoff; DELETE purges at once; the audit trail is trimmed after its period.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCore, type Core } from "../../src/core/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { Supervisor } from "../../src/supervisor/index.ts";
import { Purger } from "../../src/scheduler/purger.ts";
import { nowSeconds, type Catalog, type TaskRow } from "../../src/catalog/index.ts";
import { log } from "../../src/log.ts";
import { builtinNames } from "../../plugins/index.ts";
import { dialects, freshCatalog } from "../helpers/catalog.ts";
import { ManualClock } from "../helpers/clock.ts";
import { waitTask as waitTaskOf } from "../helpers/supervisor.ts";

const FIXTURES = resolve(import.meta.dir, "../fixtures/plugins");
const MAIN = resolve(import.meta.dir, "../../src/main.ts");
log.setSink(() => {});

/** Every file under `dir`, as paths relative to it. */
function files(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p, join(prefix, e)) : [join(prefix, e)];
  });
}

for (const dialect of dialects) {
  describe(`retention purger on ${dialect}`, () => {
    let catalog: Catalog;
    let cleanup: () => Promise<void>;
    let core: Core;
    let supervisor: Supervisor;
    let dir: string;
    let storeDir: string;
    let job: string;
    let purger: Purger | undefined;

    beforeAll(async () => {
      ({ catalog, cleanup } = await freshCatalog(dialect));
      dir = mkdtempSync(join(tmpdir(), "shield-test-purger-"));
      storeDir = join(dir, "store");
      mkdirSync(storeDir);
      const plugins = new PluginRegistry({ dirs: [FIXTURES], self: [process.execPath, MAIN], builtins: builtinNames() });
      supervisor = new Supervisor({ catalog, plugins, masterKey: crypto.getRandomValues(new Uint8Array(32)), workers: 2, pollMs: 50 });
      core = createCore(catalog, { plugins, onTaskFiled: () => supervisor.nudge(), onArchiveExpired: () => purger?.nudge() });
      const target = await core.targets.create({ name: "bytes", summary: "", plugin: "bytes-target", endpoint: JSON.stringify({ size: 100_000 }), agent: "" });
      const store = await core.stores.create({ name: "fs", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: storeDir }) });
      const schedule = await core.schedules.create({ name: "daily", summary: "", timespec: "0 4 * * *" });
      const retention = await core.retention.create({ name: "hour", summary: "", expiry: 3600 });
      job = await core.jobs.create({ name: "j", summary: "", target, store, schedule, retention, paused: true, compression: "none" });
      await supervisor.start();
    });

    afterAll(async () => {
      await purger?.stop();
      await supervisor.stop();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const waitTask = (uuid: string): Promise<TaskRow> => waitTaskOf(catalog, uuid, 30_000);
    /** A real backup into the fs store: its archive and the blob's path under the store. */
    async function backup(): Promise<{ archive: string; blob: string }> {
      const before = new Set(files(storeDir));
      const task = await waitTask(await core.jobs.run(job, "tester"));
      expect(task.status).toBe("done");
      const blob = files(storeDir).find((f) => !before.has(f))!;
      expect(blob).toBeString();
      return { archive: task.archiveUuid!, blob: join(storeDir, blob) };
    }
    async function purgeTasks(archive: string): Promise<TaskRow[]> {
      return (await catalog.tasks.list({ archive }, { limit: 100, offset: 0 })).filter((t) => t.op === "purge");
    }
    const exists = (p: string) => { try { statSync(p); return true; } catch { return false; } };

    test("at taken_at + the policy's expiry the blob leaves the store and the archive is purged, by a purge task", async () => {
      const { archive, blob } = await backup();
      const a = (await catalog.archives.get(archive))!;
      expect(a.expiresAt).toBe(a.takenAt + 3600);
      const clock = new ManualClock((a.expiresAt - 1) * 1000);
      const p = new Purger({ catalog, clock, onFiled: () => supervisor.nudge() });
      expect(await p.tick()).toMatchObject({ expired: 0, filed: 0 });
      expect((await catalog.archives.get(archive))!.status).toBe("valid");
      clock.set(a.expiresAt * 1000);
      expect(await p.tick()).toMatchObject({ expired: 1, filed: 1 });
      const [task] = await purgeTasks(archive);
      expect(task).toMatchObject({ owner: "system", op: "purge", archiveUuid: archive, jobUuid: job, storeUuid: a.storeUuid });
      const done = await waitTask(task!.uuid);
      expect(done.status).toBe("done");
      expect(done.log).toContain(`purging archive ${archive}`);
      expect(done.log).toContain("its blob is gone from the store");
      expect(exists(blob)).toBe(false);
      expect(await catalog.archives.get(archive)).toMatchObject({ status: "purged", purgeError: null, purgeAttempts: 0 });
      // Nothing more to do for it.
      expect(await p.tick()).toMatchObject({ expired: 0, filed: 0 });

      // After the audit period (90 days by default) its row and its tasks go too.
      const purgedAt = (await catalog.archives.get(archive))!.purgedAt!;
      const later = new Purger({ catalog, clock: new ManualClock((purgedAt + 90 * 86400 + 1) * 1000) });
      expect((await later.tick()).removedArchives).toBe(1);
      expect(await catalog.archives.get(archive)).toBeUndefined();
      expect(await catalog.tasks.get(done.uuid)).toBeUndefined();
    });

    test("a failed purge is visible (purge_failed, the store's words, the next attempt) and retried with backoff", async () => {
      const { archive, blob } = await backup();
      // The store cannot remove a directory where the blob was.
      renameSync(blob, `${blob}.aside`);
      mkdirSync(join(blob, "in-the-way"), { recursive: true });
      await core.archives.delete(archive);
      const clock = new ManualClock(nowSeconds() * 1000);
      const p = new Purger({ catalog, clock, onFiled: () => supervisor.nudge() });
      expect(await p.tick()).toMatchObject({ filed: 1 });
      const [first] = await purgeTasks(archive);
      const failed = await waitTask(first!.uuid);
      expect(failed.status).toBe("failed");
      expect(failed.log).toContain("cannot remove");
      expect(failed.log).toMatch(/purge attempt 1 failed; the archive is purge_failed and the next attempt is at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
      const a1 = (await catalog.archives.get(archive))!;
      expect(a1).toMatchObject({ status: "purge_failed", purgeAttempts: 1 });
      expect(a1.purgeError).toContain("cannot remove");
      expect(a1.purgeNextAt! - nowSeconds()).toBeGreaterThan(30);
      expect(a1.purgeNextAt! - nowSeconds()).toBeLessThanOrEqual(60);
      // Not before its time.
      expect(await p.tick()).toMatchObject({ filed: 0 });
      clock.set(a1.purgeNextAt! * 1000);
      expect(await p.tick()).toMatchObject({ filed: 1 });
      expect((await waitTask((await purgeTasks(archive)).find((t) => t.uuid !== first!.uuid)!.uuid)).status).toBe("failed");
      const a2 = (await catalog.archives.get(archive))!;
      expect(a2.purgeAttempts).toBe(2);
      // The second wait is twice the first.
      expect(a2.purgeNextAt! - nowSeconds()).toBeGreaterThan(90);
      // The store is fixed; the next attempt succeeds and the blob is gone.
      rmSync(blob, { recursive: true });
      renameSync(`${blob}.aside`, blob);
      clock.set(a2.purgeNextAt! * 1000);
      expect(await p.tick()).toMatchObject({ filed: 1 });
      const tasks = await purgeTasks(archive);
      expect(tasks).toHaveLength(3);
      for (const t of tasks) await waitTask(t.uuid);
      expect(exists(blob)).toBe(false);
      expect(await catalog.archives.get(archive)).toMatchObject({ status: "purged", purgeError: null });
    });

    test("GFS rules: the purger expires exactly what the preview said, and the next preview expires nothing more", async () => {
      const zoneBefore = process.env.TZ;
      process.env.TZ = "America/New_York";
      try {
        const retention = await core.retention.create({ name: "gfs", summary: "", expiry: 86400, keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 });
        const target = (await catalog.jobs.get(job))!.targetUuid;
        const store = (await catalog.jobs.get(job))!.storeUuid;
        const gfsJob = await core.jobs.create({ name: "gfs", summary: "", target, store, schedule: (await catalog.jobs.get(job))!.scheduleUuid!, retention, paused: true, compression: "none" });
        // Fourteen months of archives every two hours, with gaps (rows only), then two real backups: the newest, with blobs.
        let seed = 7;
        const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
        const now = nowSeconds();
        const rows: string[] = [];
        for (let t = now - 425 * 86400; t < now - 3600; t += 7200) {
          if (rand() < 0.01) t += Math.floor(rand() * 20) * 86400;
          if (t >= now - 3600) break;
          const uuid = crypto.randomUUID();
          rows.push(uuid);
          await catalog.archives.create({
            uuid, targetUuid: target, storeUuid: store, jobUuid: gfsJob, storeKey: `nowhere/${uuid}`, takenAt: t, expiresAt: t + 86400, notes: "",
            status: "valid", size: 1, rawSize: 1, sha256: null, compression: "none", cipher: "none", encryptionKey: null, purgedAt: null,
          });
        }
        const real: { archive: string; blob: string }[] = [];
        for (let i = 0; i < 2; i++) {
          const before = new Set(files(storeDir));
          const task = await waitTask(await core.jobs.run(gfsJob, "tester"));
          expect(task.status).toBe("done");
          real.push({ archive: task.archiveUuid!, blob: join(storeDir, files(storeDir).find((f) => !before.has(f))!) });
        }

        const preview = await core.retention.preview(retention, gfsJob, {});
        expect(preview.zone).toBe("America/New_York");
        const expire = new Set(preview.verdicts.filter((v) => !v.reasons.length).map((v) => v.archive.uuid));
        const keep = preview.verdicts.filter((v) => v.reasons.length).map((v) => v.archive.uuid);
        expect(preview.verdicts.length).toBe(rows.length + 2);
        // 3 last + 7 daily + 4 weekly + 12 monthly at most (they overlap), plus the last day's unexpired archives.
        expect(expire.size).toBeGreaterThan(rows.length - 60);
        for (const r of real) expect(keep).toContain(r.archive);

        const p = new Purger({ catalog, clock: new ManualClock(preview.at * 1000), onFiled: () => supervisor.nudge() });
        const result = await p.tick();
        expect(result.expired).toBe(expire.size);
        const after = await catalog.archives.list({ }, { limit: 100_000, offset: 0 });
        const ofJob = after.filter((a) => a.jobUuid === gfsJob);
        expect(new Set(ofJob.filter((a) => a.status !== "valid").map((a) => a.uuid))).toEqual(expire);
        expect(ofJob.filter((a) => a.status === "valid").map((a) => a.uuid).sort()).toEqual([...keep].sort());
        // What the rules kept, they keep: a second look expires nothing more.
        const again = await core.retention.preview(retention, gfsJob, {});
        expect(again.verdicts.every((v) => v.reasons.length)).toBe(true);
        expect((await p.tick()).expired).toBe(0);
        for (const r of real) expect(exists(r.blob)).toBe(true);
        // The rows had no blobs: mark them purged, so that the purge tasks filed finish at once and later passes have nothing left.
        for (const uuid of expire) await catalog.archives.markPurged(uuid, preview.at);
        for (const t of (await catalog.tasks.list({ job: gfsJob }, { limit: 100_000, offset: 0 })).filter((t) => t.op === "purge")) await waitTask(t.uuid);
      } finally {
        if (zoneBefore === undefined) delete process.env.TZ;
        else process.env.TZ = zoneBefore;
      }
    });

    test("DELETE of an archive purges its blob at once, not at the next pass", async () => {
      const { archive, blob } = await backup();
      // The real clock, and a pass only every hour: only the nudge of DELETE can explain a prompt purge.
      purger = new Purger({ catalog, everyMs: 3600_000, onFiled: () => supervisor.nudge() });
      purger.start();
      await Bun.sleep(100);
      const started = Date.now();
      await core.archives.delete(archive);
      while ((await catalog.archives.get(archive))!.status !== "purged") {
        if (Date.now() - started > 15_000) throw new Error("not purged within 15 s");
        await Bun.sleep(25);
      }
      expect(exists(blob)).toBe(false);
      // The archive is marked purged before the task's own outcome is saved.
      const [task] = await purgeTasks(archive);
      expect(await waitTask(task!.uuid)).toMatchObject({ owner: "system", status: "done" });
      await purger.stop();
      purger = undefined;
    });
  });
}
