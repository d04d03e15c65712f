// The supervisor over a catalog that seals endpoint secrets: the plugins get the
// endpoint opened (a backup and a restore succeed, the target saw its password),
// the task log masks the opened secret, and a daemon with another master key
// fails the task with a reason rather than hand a plugin a sealed value.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectCatalog, type Catalog } from "../../src/catalog/index.ts";
import { createCore, type Core } from "../../src/core/index.ts";
import { endpointSealer } from "../../src/core/plugins.ts";
import { EndpointSecrets } from "../../src/pipeline/endpoint-secrets.ts";
import { PluginRegistry } from "../../src/plugin-host/index.ts";
import { Supervisor } from "../../src/supervisor/index.ts";
import { log } from "../../src/log.ts";
import { FIXTURE_PLUGINS, waitTask } from "../helpers/supervisor.ts";

const PASSWORD = "hunter2-sealed-7c1e";

describe("sealed endpoints in the pipeline", () => {
  const masterKey = crypto.getRandomValues(new Uint8Array(32));
  let dir: string;
  let catalog: Catalog;
  let core: Core;
  let supervisor: Supervisor;
  let job: string;
  let target: string;
  const plugins = new PluginRegistry({ dirs: [FIXTURE_PLUGINS], self: [], builtins: [] });

  beforeAll(async () => {
    log.setSink(() => {});
    dir = mkdtempSync(join(tmpdir(), "shield-test-sealed-"));
    mkdirSync(join(dir, "store"));
    const secrets = new EndpointSecrets(masterKey);
    catalog = await connectCatalog(join(dir, "shield.db"), { sealer: endpointSealer(secrets, plugins) });
    core = createCore(catalog, { plugins, secrets, onTaskFiled: () => supervisor?.nudge() });
    const store = await core.stores.create({ name: "dir", summary: "", plugin: "dir-store", endpoint: JSON.stringify({ dir: join(dir, "store"), secret_key: "store-secret-99" }) });
    target = await core.targets.create({
      name: "bytes", summary: "", plugin: "bytes-target", agent: "",
      endpoint: JSON.stringify({ size: 70000, password: PASSWORD, out: join(dir, "restored") }),
    });
    const schedule = await core.schedules.create({ name: "s", summary: "", timespec: "daily at 4am" });
    const retention = await core.retention.create({ name: "r", summary: "", expiry: 86400 });
    job = await core.jobs.create({ name: "j", summary: "", target, store, schedule, retention, paused: false });
    expect((await catalog.targets.get(target))!.endpoint).not.toContain(PASSWORD);
  });
  afterAll(async () => {
    await supervisor?.stop();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("backup and restore run with the endpoint opened; the log masks the secret", async () => {
    supervisor = new Supervisor({ catalog, plugins, masterKey, workers: 1, pollMs: 50 });
    await supervisor.start();
    const backup = await waitTask(catalog, await core.jobs.run(job, "tester"));
    expect([backup.status, backup.log]).toEqual(["done", expect.stringContaining("backing up with password ***")]);
    expect(backup.log).not.toContain(PASSWORD);
    expect(backup.log).not.toContain("shield-sealed");
    const restore = await waitTask(catalog, await core.archives.restore(backup.archiveUuid!, "tester"));
    expect(restore.status).toBe("done");
    expect(readFileSync(join(dir, "restored")).length).toBe(70000);
    await supervisor.stop();
  });

  test("another master key: the task fails saying so, and no plugin ran with a sealed value", async () => {
    supervisor = new Supervisor({ catalog, plugins, masterKey: crypto.getRandomValues(new Uint8Array(32)), workers: 1, pollMs: 50 });
    await supervisor.start();
    const t = await waitTask(catalog, await core.jobs.run(job, "tester"));
    expect(t.status).toBe("failed");
    expect(t.log).toContain(`the endpoint of target "bytes"`);
    expect(t.log).toContain("does not open with this master key");
    expect(t.log).not.toContain("backing up");
    expect(existsSync(join(dir, "store"))).toBe(true);
  });
});
