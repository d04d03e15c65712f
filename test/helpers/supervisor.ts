// What the supervisor's tests share: a SQLite catalog with the fixture plugins
// (test/fixtures/plugins), a dir-store store in a fresh temporary directory, and a
// schedule and retention policy for jobs; and waiting for a task to end.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCore, type Core } from "../../src/core/index.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import type { Catalog, TaskRow } from "../../src/catalog/index.ts";
import { freshCatalog } from "./catalog.ts";

export const FIXTURE_PLUGINS = resolve(import.meta.dir, "../fixtures/plugins");

export interface SupervisorWorld {
  catalog: Catalog;
  cleanup: () => Promise<void>;
  /** The temporary directory (the caller removes it); the store writes under `storeDir`, its "store". */
  dir: string;
  storeDir: string;
  plugins: PluginRegistry;
  core: Core;
  /** The store, schedule and retention policy a job needs. */
  ids: { store: string; schedule: string; retention: string };
}

export async function supervisorWorld(opts: {
  /** Names the temporary directory: shield-test-NAME-. */
  name: string;
  schedule: { name: string; timespec: string };
  retention: string;
  onTaskFiled: () => void;
}): Promise<SupervisorWorld> {
  const { catalog, cleanup } = await freshCatalog("sqlite");
  const dir = mkdtempSync(join(tmpdir(), `shield-test-${opts.name}-`));
  const storeDir = join(dir, "store");
  mkdirSync(storeDir, { recursive: true });
  const plugins = new PluginRegistry({ dirs: [FIXTURE_PLUGINS], self: [], builtins: [] });
  const core = createCore(catalog, { plugins, onTaskFiled: opts.onTaskFiled });
  const ids = {
    store: await core.stores.create({ name: "dir", summary: "", plugin: "dir-store", endpoint: JSON.stringify({ dir: storeDir }) }),
    schedule: await core.schedules.create({ name: opts.schedule.name, summary: "", timespec: opts.schedule.timespec }),
    retention: await core.retention.create({ name: opts.retention, summary: "", expiry: 86400 }),
  };
  return { catalog, cleanup, dir, storeDir, plugins, core, ids };
}

/** The task once it is neither pending nor running; throws (with its log) past the timeout. */
export async function waitTask(catalog: Catalog, uuid: string, timeoutMs = 20_000): Promise<TaskRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = (await catalog.tasks.get(uuid))!;
    if (!["pending", "running"].includes(t.status)) return t;
    if (Date.now() > deadline) throw new Error(`task ${uuid} still ${t.status}: ${t.log}`);
    await Bun.sleep(25);
  }
}
