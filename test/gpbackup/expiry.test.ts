// A gpbackup backup's archive at its expiry, on both catalog dialects: the
// retention purger files one purge task, the supervisor purges every object the
// plugin recorded (each its own blob in the real fs store), the archive is
// purged, and its object rows go with its row after the audit period.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCore, type Core } from "../../src/core/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { Supervisor } from "../../src/supervisor/index.ts";
import { Purger } from "../../src/scheduler/purger.ts";
import type { Catalog, TaskRow } from "../../src/catalog/index.ts";
import { log } from "../../src/log.ts";
import { builtinNames } from "../../plugins/index.ts";
import { dialects, freshCatalog } from "../helpers/catalog.ts";
import { ManualClock } from "../helpers/clock.ts";
import { waitTask as waitTaskOf } from "../helpers/supervisor.ts";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
log.setSink(() => {});

for (const dialect of dialects) {
  describe(`gpbackup archives expire on ${dialect}`, () => {
    let catalog: Catalog;
    let cleanup: () => Promise<void>;
    let core: Core;
    let supervisor: Supervisor;
    let dir: string;
    let storeDir: string;

    beforeAll(async () => {
      ({ catalog, cleanup } = await freshCatalog(dialect));
      dir = mkdtempSync(join(tmpdir(), "shield-test-gpexpiry-"));
      storeDir = join(dir, "store");
      mkdirSync(storeDir);
      const plugins = new PluginRegistry({ dirs: [], self: [process.execPath, MAIN], builtins: builtinNames() });
      supervisor = new Supervisor({ catalog, plugins, masterKey: crypto.getRandomValues(new Uint8Array(32)), workers: 2, pollMs: 50 });
      core = createCore(catalog, { plugins, onTaskFiled: () => supervisor.nudge() });
      await core.stores.create({ name: "fs", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: storeDir }) });
      await core.retention.create({ name: "hour", summary: "", expiry: 3600 });
      await supervisor.start();
    });
    afterAll(async () => {
      await supervisor.stop();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** What the plugin does per object: the fs store's `store`, as a process. */
    async function storeBlob(data: string): Promise<string> {
      const proc = Bun.spawn([process.execPath, MAIN, "plugin", "fs", "store"], {
        env: { ...process.env, SHIELD_ENDPOINT: JSON.stringify({ base_dir: storeDir }) }, stdin: new Blob([data]), stdout: "pipe",
      });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      return JSON.parse(out).key;
    }

    test("every object's blob leaves the store and the archive is purged", async () => {
      const ts = "20240102030405";
      const names = [`backups/20240102/${ts}/gpbackup_${ts}_metadata.sql`, `backups/20240102/${ts}/gpbackup_0_${ts}`, `backups/20240102/${ts}/gpbackup_1_${ts}`];
      let archive = "";
      const keys: string[] = [];
      for (const name of names) {
        const key = await storeBlob(`contents of ${name}`);
        keys.push(key);
        ({ archiveUuid: archive } = await core.gpbackup.record({ targetName: "gp", store: "fs", retention: "hour", timestamp: ts, name, storeKey: key, size: 10 }));
      }
      // A second store of the same name replaces the first: the old key is handed back to purge.
      const again = await storeBlob("report v2");
      expect((await core.gpbackup.record({ targetName: "gp", store: "fs", retention: "hour", timestamp: ts, name: names[0]!, storeKey: again, size: 9 })).replaced).toBe(keys[0]);
      rmSync(join(storeDir, keys[0]!));
      keys[0] = again;

      const a = (await catalog.archives.get(archive))!;
      expect(a).toMatchObject({ targetPlugin: "gpbackup", storeKey: `gpbackup/${ts}`, status: "valid", size: 29 });
      expect(a.expiresAt).toBe(a.takenAt + 3600);
      for (const k of keys) expect(statSync(join(storeDir, k)).isFile()).toBe(true);

      const clock = new ManualClock(a.expiresAt * 1000);
      const p = new Purger({ catalog, clock, onFiled: () => supervisor.nudge() });
      expect(await p.tick()).toMatchObject({ expired: 1, filed: 1 });
      const [task] = (await catalog.tasks.list({ archive }, { limit: 10, offset: 0 })).filter((t) => t.op === "purge");
      const done: TaskRow = await waitTaskOf(catalog, task!.uuid, 30_000);
      expect(done.status).toBe("done");
      expect(done.log).toContain("purged the 3 objects of the gpbackup backup");
      for (const k of keys) expect(() => statSync(join(storeDir, k))).toThrow();
      expect((await catalog.archives.get(archive))!.status).toBe("purged");
      // Deleted backups take no more files, and are not found for restore.
      await expect(core.gpbackup.record({ targetName: "gp", store: "fs", retention: "hour", timestamp: ts, name: names[1]!, storeKey: "x", size: 1 })).rejects.toThrow("was deleted");
      await expect(core.gpbackup.find({ targetName: "gp", store: "fs", timestamp: ts }, names[1]!)).rejects.toThrow();

      // After the audit period the archive's row goes, and its objects' rows with it.
      const purgedAt = (await catalog.archives.get(archive))!.purgedAt!;
      await new Purger({ catalog, clock: new ManualClock((purgedAt + 90 * 86400 + 1) * 1000) }).tick();
      expect(await catalog.archives.get(archive)).toBeUndefined();
      expect(await catalog.archiveObjects.list(archive)).toEqual([]);
    });

    test("a target of that name that is not a gpbackup one is refused; a bad name or timestamp is a 400", async () => {
      await catalog.targets.create(crypto.randomUUID(), { name: "not-gp", summary: "", plugin: "postgres", endpoint: "{}", agent: "" }, 1);
      await expect(core.gpbackup.record({ targetName: "not-gp", store: "fs", retention: "hour", timestamp: "20240102030405", name: "backups/20240102/20240102030405/f", storeKey: "k", size: 1 }))
        .rejects.toThrow("not a gpbackup one");
      await expect(core.gpbackup.record({ targetName: "gp", store: "fs", retention: "hour", timestamp: "2024", name: "backups/20240102/2024/f", storeKey: "k", size: 1 }))
        .rejects.toThrow("YYYYMMDDHHMMSS");
      await expect(core.gpbackup.record({ targetName: "gp", store: "fs", retention: "hour", timestamp: "20240102030405", name: "../etc/passwd", storeKey: "k", size: 1 }))
        .rejects.toThrow("is not backups/");
      await expect(core.gpbackup.record({ targetName: "gp", store: "nope", retention: "hour", timestamp: "20240102030405", name: "backups/20240102/20240102030405/f", storeKey: "k", size: 1 }))
        .rejects.toThrow("no store named nope");
    });
  });
}
