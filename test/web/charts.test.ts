// Charts and health at a glance, in a real browser (Debian's chromium through
// playwright-core) against the compiled daemon: a job with a week of runs (run for
// real, then moved back a day each in the daemon's own catalog, as a week would
// have left them) and a job whose last run failed. The dashboard draws backup
// success per day and storage per store, the job page its outcome strip, sizes and
// durations, each with its sentence and table; the jobs list shows the last run's
// figures, the failure's error line and Retry; "Run now" on the failing job ends
// on its failure at the top of the task page, never on a green "started". Under
// the strict CSP: any console error (a refused script or style) fails the test.
// Screenshots at 1280 and 390 px go to test-artifacts/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Page } from "playwright-core";
import { ensureFreshBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { apiClient, type ApiClient } from "../helpers/api-client.ts";
import { chromiumAvailable, signedInPage, type TestBrowser } from "../helpers/browser.ts";

const PASSWORD = "charts-admin-password";
const DAY = 86400;
// The good job's runs, oldest first: sizes in KiB (0: a run that fails).
const RUNS = [256, 288, 320, 0, 352, 384, 448, 512];

describe.skipIf(!chromiumAvailable)("charts and health at a glance in chromium", () => {
  let d: DaemonProcess;
  let api: ApiClient;
  let b: TestBrowser;
  let page: Page;
  let storeDir: string;
  const ids: Record<string, string> = {};
  const problems: string[] = [];

  const created = async (path: string, body: unknown) => {
    const r = await api.call("POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  const run = async (job: string) => api.waitTask((await api.call("POST", `/v1/job/${job}/run`, {})).json.task_uuid);
  const go = (path: string) => page.goto(d.url + path);

  beforeAll(async () => {
    ensureFreshBinary();
    storeDir = mkdtempSync(join(tmpdir(), "shield-charts-store-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    api = apiClient(d, "admin", PASSWORD);
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.target = await created("/v1/targets", { name: "orders", plugin: "bytes-target", endpoint: { size: RUNS[0]! * 1024 }, agent: "" });
    ids.bad = await created("/v1/targets", { name: "ledger", plugin: "bytes-target", endpoint: { size: 65536, fail_after: 1000 }, agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "quarter", expires: 90 * DAY });
    const job = { store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true, compression: "none" };
    ids.job = await created("/v1/jobs", { name: "orders-nightly", target: ids.target, ...job });
    ids.broken = await created("/v1/jobs", { name: "ledger-nightly", target: ids.bad, ...job });

    // A week of the good job: each run for real, then its times moved back to its day.
    const tasks: string[] = [];
    for (const kib of RUNS) {
      const endpoint = kib ? { size: kib * 1024 } : { size: 65536, fail_after: 1000 };
      expect((await api.call("PUT", `/v1/target/${ids.target}`, { name: "orders", summary: "", plugin: "bytes-target", endpoint, agent: "" })).status).toBe(200);
      const t = await run(ids.job);
      expect(t.status).toBe(kib ? "done" : "failed");
      tasks.push(t.uuid);
    }
    const db = new Database(join(d.dir, "shield-data", "shield.db"));
    db.exec("PRAGMA busy_timeout = 5000");
    tasks.forEach((uuid, i) => {
      const back = (RUNS.length - 1 - i) * DAY;
      db.query("UPDATE tasks SET requested_at = requested_at - ?1, started_at = started_at - ?1, stopped_at = stopped_at - ?1 WHERE uuid = ?2").run(back, uuid);
      db.query("UPDATE archives SET taken_at = taken_at - ?1 WHERE uuid = (SELECT archive_uuid FROM tasks WHERE uuid = ?2)").run(back, uuid);
    });
    db.close();
    expect((await run(ids.broken)).status).toBe("failed");
    // A second store, so the storage chart has two lines and a key.
    ids.offsite = await created("/v1/stores", { name: "offsite", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.docs = await created("/v1/targets", { name: "docs", plugin: "bytes-target", endpoint: { size: 600 * 1024 }, agent: "" });
    ids.docsJob = await created("/v1/jobs", { name: "docs-weekly", target: ids.docs, ...job, store: ids.offsite });
    for (let i = 0; i < 2; i++) expect((await run(ids.docsJob)).status).toBe("done");

    b = await signedInPage(d.url, { password: PASSWORD, timezoneId: "Europe/Berlin", problems });
    page = b.page;
  }, 180_000);
  afterAll(async () => {
    await b?.close();
    await d?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  }, 60_000);

  test("/v1/statistics: storage per store per day, and backups per day", async () => {
    const { json } = await api.call("GET", "/v1/statistics");
    const disk = json.stores.find((s: any) => s.name === "disk");
    expect(disk.used_per_day.length).toBe(31);
    const used = disk.used_per_day.map((x: any) => x.bytes);
    // It grew a run a day (the failed day adds nothing), and ends at what the store holds.
    expect(used[used.length - 1]).toBe(disk.bytes);
    // Nothing before the first run, a week ago; its archive (256 KiB and the envelope) after it.
    expect(used[used.length - 8]).toBeGreaterThanOrEqual(RUNS[0]! * 1024);
    expect(used[used.length - 8]).toBeLessThan(RUNS[1]! * 1024);
    expect(used.slice(0, 23).every((x: number) => x === 0)).toBe(true);
    expect(used).toEqual([...used].sort((a: number, z: number) => a - z));
    expect(json.runs).toMatchObject({ runs: 11, failures: 2 });
    expect(json.runs.success_rate).toBeCloseTo(9 / 11);
    expect(json.runs.per_day.length).toBe(31);
    expect(json.runs.per_day.at(-1)).toMatchObject({ runs: 4, failures: 1 });
    expect(json.runs.per_day.at(-5)).toMatchObject({ runs: 1, failures: 1 });
  }, 60_000);

  test("the dashboard: success per day and storage per store, drawn, with their sentences and tables; why a job needs attention", async () => {
    await go("/");
    await page.locator("#chart-success canvas").first().waitFor();
    await page.locator("#chart-storage canvas").first().waitFor();
    expect(await page.locator("#chart-success .chart-summary").innerText()).toMatch(/^82% of 11 backups succeeded in the last 30 days; failures on 2 days/);
    expect(await page.locator("#chart-storage .chart-summary").innerText()).toMatch(/^disk holds 2\.5 MiB \(up 2\.5 MiB since .*\); offsite holds 1\.2 MiB \(up 1\.2 MiB since .*\)\.$/);
    // Two stores: two lines, and a key that names them.
    expect(await page.locator("#chart-storage .u-legend").innerText()).toMatch(/disk[\s\S]*offsite/);
    // The table is there for screen readers and for a reader who wants the figures.
    expect(await page.locator("#chart-success .chart-table tbody tr").count()).toBe(8);
    expect(await page.locator("#chart-success .chart-plot").getAttribute("aria-hidden")).toBe("true");
    const row = page.locator("tr", { hasText: "ledger-nightly" });
    expect(await row.innerText()).toContain("last run failed: ");
    expect(await row.getByRole("button", { name: "Retry" }).count()).toBe(1);
    await b.shot("charts-dashboard-1280");
    await page.setViewportSize({ width: 390, height: 844 });
    await go("/");
    await page.locator("#chart-storage canvas").first().waitFor();
    // The plots follow the width: none is wider than its card.
    for (const id of ["#chart-success", "#chart-storage"]) {
      const [plot, card] = await Promise.all([page.locator(`${id} .uplot`).boundingBox(), page.locator(id).boundingBox()]);
      expect(plot!.width).toBeLessThanOrEqual(card!.width);
    }
    await b.shot("charts-dashboard-390");
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 60_000);

  test("the job page: outcome strip, archive size and duration over time, with the figures as tables", async () => {
    await go(`/jobs/${ids.job}`);
    const strip = page.locator(".outcome-strip .outcome");
    expect(await strip.count()).toBe(RUNS.length);
    expect(await page.locator(".outcome-strip .o-failed").count()).toBe(1);
    expect(await page.locator(".outcomes .chart-summary").innerText()).toBe("7 done, 1 failed; the latest done.");
    // Oldest first: the fourth mark is the failed run, and says so to a screen reader.
    expect(await strip.nth(3).innerText()).toMatch(/^failed, ended .* UTC: /);
    await page.locator("#chart-size canvas").first().waitFor();
    await page.locator("#chart-duration canvas").first().waitFor();
    expect(await page.locator("#chart-size .chart-summary").innerText()).toBe("The last 7 successful runs stored between 256 KiB and 512 KiB; the latest 512 KiB.");
    await page.locator("#chart-size details summary").click();
    expect(await page.locator("#chart-size .chart-table tbody tr").count()).toBe(7);
    await b.shot("charts-job-1280");
    await page.setViewportSize({ width: 390, height: 844 });
    await go(`/jobs/${ids.job}`);
    await page.locator("#chart-duration canvas").first().waitFor();
    await b.shot("charts-job-390");
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 60_000);

  test("the jobs list: last run with its duration and size, a failure's error line and Retry, next run", async () => {
    await go("/jobs");
    const good = page.locator("tr", { hasText: "orders-nightly" });
    expect(await good.locator(".last-run").innerText()).toMatch(/done .*\(ran \d+ s, 512 KiB\)/);
    const bad = page.locator("tr", { hasText: "ledger-nightly" });
    expect(await bad.locator(".error-line").innerText()).toMatch(/\S/);
    expect(await bad.getByRole("button", { name: "Retry" }).count()).toBe(1);
    await b.shot("health-jobs-1280");
    await page.setViewportSize({ width: 390, height: 844 });
    await b.shot("health-jobs-390");
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 60_000);

  test("Run now on the failing job: the task page follows it to its failure, the cause on top; never a green 'started'", async () => {
    await go(`/jobs/${ids.broken}`);
    await page.getByRole("button", { name: "Run now" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}\?started=1$/);
    expect(await page.locator(".flash.ok").count()).toBe(0);
    const cause = page.locator("#task-live .task-cause");
    await cause.waitFor({ timeout: 30_000 });
    expect(await cause.innerText()).toMatch(/^Backup failed: \S/);
    expect(await page.getByText("Backup started").count()).toBe(0);
    // The cause is the first thing in the task's part of the page, above its details and log.
    expect(await page.locator("#task-live > *").first().getAttribute("class")).toContain("task-cause");
    expect(await cause.getByRole("button", { name: "Retry" }).count()).toBe(1);
    await b.shot("health-task-failed-1280");
    await page.setViewportSize({ width: 390, height: 844 });
    await b.shot("health-task-failed-390");
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 60_000);

  test("Run now on the good job: 'finished' once it is done, without a reload", async () => {
    await go(`/jobs/${ids.job}`);
    await page.getByRole("button", { name: "Run now" }).click();
    await page.waitForURL(/\?started=1$/);
    await page.locator("#task-live .task-outcome.ok").waitFor({ timeout: 30_000 });
    expect(await page.locator("#task-live .task-outcome").innerText()).toBe("Backup finished.");
  }, 60_000);

  test("no script or style was refused (the CSP holds), and nothing was asked of another host", () => {
    expect(problems).toEqual([]);
  }, 60_000);
});
