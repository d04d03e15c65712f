// Live progress through the compiled daemon: a slow backup (the bytes-target
// fixture trickling 64 KiB pieces) shows a structured `progress` in its task JSON
// while it runs, with an estimated total once the job has a previous archive; a
// restore shows its verify pass and then the restore against the archive's known
// size; the web task page's fragment draws the bar, and the final state comes
// without it. The API and the web page are the daemon's own, over HTTP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { WebClient } from "../web/session-client.ts";

const PASSWORD = "e2e-progress-password";
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };
const PIECE = 65536;

describe("live progress of backups and restores", () => {
  let d: DaemonProcess;
  let storeDir: string;
  let outDir: string;
  const ids: Record<string, string> = {};

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(d.url + path, { method, headers: { ...auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as any };
  };
  const created = async (path: string, body: unknown) => {
    const r = await call("POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  /** Polls the task every 100 ms until it ends; every `progress` seen while it ran. */
  const watch = async (uuid: string, timeoutMs = 60_000) => {
    const seen: any[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { json } = await call("GET", `/v1/task/${uuid}`);
      if (json.progress) seen.push(json.progress);
      if (!["pending", "running"].includes(json.status)) return { task: json, seen };
      if (Date.now() > deadline) throw new Error(`task still ${json.status}: ${json.log}`);
      await Bun.sleep(100);
    }
  };

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-progress-store-"));
    outDir = mkdtempSync(join(tmpdir(), "shield-e2e-progress-out-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    // 40 pieces of 64 KiB, 0.1 s apart: about 4 s of backup.
    ids.target = await created("/v1/targets", { name: "slow", plugin: "bytes-target", endpoint: { size: 40 * PIECE, trickle: "0.1", out: join(outDir, "restored") }, agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    // gzip: the daemon counts the raw bytes itself, so the count moves with each piece.
    ids.job = await created("/v1/jobs", { name: "slow", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true, compression: "gzip" });
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  test("a first backup: phase, growing bytes and a rate, no total (nothing to estimate from); null once done", async () => {
    const run = await call("POST", `/v1/job/${ids.job}/run`, {});
    const { task, seen } = await watch(run.json.task_uuid);
    expect(task.status).toBe("done");
    expect(task.progress).toBeNull();
    const dumping = seen.filter((p) => p.phase === "dumping");
    expect(dumping.length).toBeGreaterThan(5);
    const bytes = dumping.map((p) => p.bytes);
    // Updated at least every second: several distinct counts, in order.
    expect(new Set(bytes).size).toBeGreaterThan(2);
    expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
    expect(Math.max(...bytes)).toBeLessThanOrEqual(40 * PIECE);
    const late = dumping[dumping.length - 1];
    expect(late).toMatchObject({ total: null, estimate: false, counts: "raw", percent: null, eta: null });
    expect(late.rate).toBeGreaterThan(0);
    ids.first = task.archive_uuid;
  }, 90_000);

  test("the next backup estimates its total from the last archive, and says it is an estimate", async () => {
    const run = await call("POST", `/v1/job/${ids.job}/run`, {});
    const { task, seen } = await watch(run.json.task_uuid);
    expect(task.status).toBe("done");
    const mid = seen.filter((p) => p.phase === "dumping" && p.bytes > 0 && p.bytes < 40 * PIECE);
    expect(mid.length).toBeGreaterThan(2);
    for (const p of mid) {
      expect(p).toMatchObject({ total: 40 * PIECE, estimate: true, counts: "raw" });
      expect(p.percent).toBe(Math.floor((p.bytes / p.total) * 100));
      expect(p.percent).toBeLessThan(100);
    }
    expect(mid.some((p) => p.eta !== null && p.eta > 0)).toBe(true);
  }, 90_000);

  test("a restore: the verify pass, then the restore against the archive's known size", async () => {
    const { json: archive } = await call("GET", `/v1/archive/${ids.first}`);
    // The target takes 64 KiB, then stalls 3 s: the restore is caught mid-stream.
    const stalled = await created("/v1/targets", { name: "stall", plugin: "bytes-target", endpoint: { size: 1, restore_stall: "3", out: join(outDir, "stalled") }, agent: "" });
    const r = await call("POST", `/v1/archive/${ids.first}/restore`, { target: stalled });
    expect(r.json).toMatchObject({ ok: "scheduled" });
    const { task, seen } = await watch(r.json.task_uuid);
    expect(task.status).toBe("done");
    const restoring = seen.filter((p) => p.phase === "restoring");
    expect(restoring.length).toBeGreaterThan(5);
    // gzip: the restore counts raw bytes, whose size the archive recorded.
    for (const p of restoring) expect(p).toMatchObject({ total: archive.raw_size, estimate: false, counts: "raw" });
    const phases = seen.map((p) => p.phase);
    // The verify pass of a small archive may be over between two polls; when seen, it comes first and knows the stored size.
    for (const p of seen.filter((p) => p.phase === "verifying")) expect(p).toMatchObject({ total: archive.size, estimate: false, counts: "stored" });
    if (phases.includes("verifying")) expect(phases.indexOf("verifying")).toBeLessThan(phases.indexOf("restoring"));
    expect(restoring.some((p) => p.percent !== null && p.percent > 0 && p.percent < 100)).toBe(true);
  }, 90_000);

  test("the web task page's fragment draws the bar while the task runs, and the final state without it", async () => {
    const web = { request: (url: string, init: RequestInit) => fetch(url, { ...init, redirect: "manual" }) };
    const b = new WebClient(web as any, d.url);
    await b.get("/signin");
    const signed = await b.request("POST", "/signin", { form: { _csrf: b.csrf, name: "admin", password: PASSWORD, next: "/" } });
    expect(signed.status).toBe(303);
    const run = await call("POST", `/v1/job/${ids.job}/run`, {});
    const uuid = run.json.task_uuid;
    let html = "";
    const deadline = Date.now() + 30_000;
    for (;;) {
      html = (await b.get(`/tasks/${uuid}/live`)).html;
      expect(html).not.toContain("Nothing logged yet");
      if (/<progress[^>]*value="[1-9]\d*"/.test(html)) break;
      if (Date.now() > deadline) throw new Error(`no bar: ${html}`);
      await Bun.sleep(200);
    }
    expect(html).toContain('hx-trigger="every 1s"');
    expect(html).toMatch(/dumping [\d.]+ (KiB|MiB) of ~2\.5 MiB \(\d+ %\)/);
    expect(html).toContain("estimated from the last archive");
    expect(html).toMatch(/\/s/);
    await watch(uuid);
    const done = (await b.get(`/tasks/${uuid}/live`)).html;
    expect(done).not.toContain("<progress");
    expect(done).not.toContain("hx-trigger");
    expect(done).toContain("done");
  }, 90_000);
});
