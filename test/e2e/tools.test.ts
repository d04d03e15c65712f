// A program the pipeline runs is missing (here zstd, by a PATH without it): the
// daemon starts anyway and names it in a warning; only the tasks that need it
// fail, each with a task log saying what to install; the others run.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";

const PASSWORD = "e2e-tools-password";
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };
const FIXTURES = resolve(import.meta.dir, "../fixtures/plugins");
// What the fixture plugins and the pipeline run, zstd left out.
const KEEP = ["sh", "sed", "openssl", "head", "dirname", "cat", "mv", "sleep", "mkfifo", "gzip"];

async function call(d: DaemonProcess, method: string, path: string, body?: unknown) {
  const r = await fetch(d.url + path, { method, headers: { ...auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as any };
}

async function finished(d: DaemonProcess, uuid: string) {
  for (let i = 0; i < 300; i++) {
    const t = (await call(d, "GET", `/v1/task/${uuid}`)).json;
    if (!["pending", "running"].includes(t.status) && /task (done|failed)/.test(t.log)) return t;
    await Bun.sleep(100);
  }
  throw new Error(`task ${uuid} did not finish`);
}

describe("a missing zstd", () => {
  let dataDir: string;
  let storeDir: string;
  let binDir: string;
  let d: DaemonProcess | undefined;
  const ids: Record<string, string> = {};
  const start = (env: Record<string, string> = {}) =>
    startShieldDaemon({ cwd: dataDir, args: ["--plugin-dir", FIXTURES], env: { SHIELD_ADMIN_PASSWORD: PASSWORD, ...env } });
  const created = async (path: string, body: unknown) => {
    const r = await call(d!, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "shield-e2e-tools-"));
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-tools-store-"));
    binDir = join(dataDir, "bin");
    mkdirSync(binDir);
    for (const tool of KEEP) symlinkSync(Bun.which(tool)!, join(binDir, tool));
    // First, with every program: a zstd archive to restore later.
    d = await start();
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.target = await created("/v1/targets", { name: "bytes", plugin: "bytes-target", endpoint: { size: 200000 }, agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    ids.zstd = await created("/v1/jobs", { name: "zstd", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    ids.gzip = await created("/v1/jobs", { name: "gzip", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true, compression: "gzip" });
    const t = await finished(d, (await call(d, "POST", `/v1/job/${ids.zstd}/run`)).json.task_uuid);
    expect(t.status).toBe("done");
    ids.archive = t.archive_uuid;
    await d.stop();
    d = await start({ PATH: binDir });
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  });

  test("the daemon starts and warns, naming the program", () => {
    const warning = d!.stderr().split("\n").find((l) => l.includes('"binary":"zstd"'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: "warn" });
    expect(warning).toContain("zstd is not installed");
    expect(d!.stderr()).not.toContain('"binary":"gzip"');
  });

  test("a zstd backup fails with a task log naming zstd; no archive, no blob", async () => {
    const before = (await call(d!, "GET", `/v1/archives?target=${ids.target}`)).json.length;
    const blobs = () => readdirSync(storeDir, { recursive: true }).length;
    const blobsBefore = blobs();
    const t = await finished(d!, (await call(d!, "POST", `/v1/job/${ids.zstd}/run`)).json.task_uuid);
    expect(t.status).toBe("failed");
    expect(t.log).toContain('FAILED: compression "zstd" needs the zstd program, which is not installed');
    expect((await call(d!, "GET", `/v1/archives?target=${ids.target}`)).json.length).toBe(before);
    expect(blobs()).toBe(blobsBefore);
  });

  test("restoring a zstd archive fails the same way, before the target is touched", async () => {
    const out = join(dataDir, "restored");
    const other = await created("/v1/targets", { name: "out", plugin: "bytes-target", endpoint: { size: 1, out }, agent: "" });
    const r = await call(d!, "POST", `/v1/archive/${ids.archive}/restore`, { target: other });
    const t = await finished(d!, r.json.task_uuid);
    expect(t.status).toBe("failed");
    expect(t.log).toContain('FAILED: restoring an archive with compression "zstd" needs the zstd program');
    expect(await Bun.file(out).exists()).toBe(false);
  });

  test("a gzip backup still works", async () => {
    const t = await finished(d!, (await call(d!, "POST", `/v1/job/${ids.gzip}/run`)).json.task_uuid);
    expect(t.status).toBe("done");
    expect((await call(d!, "GET", `/v1/archive/${t.archive_uuid}`)).json).toMatchObject({ compression: "gzip", raw_size: 200000 });
  });
});
