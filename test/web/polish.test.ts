// The web UI's polish in a real browser (Debian's chromium through playwright-core)
// against the compiled daemon: the theme switch (light, dark, or the system's,
// remembered), WCAG AA contrast of key elements as the browser computes them, the
// menu button and tables as cards at 390 px, times in the reader's zone down to
// the log lines, filters that apply on change, text search over archives and
// tasks, a step that asks before a task is canceled, and plugin menus without
// "fs — fs". Under the strict CSP: any console error fails the test.
// Screenshots at 1280 and 390 px in both themes go to test-artifacts/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Page } from "playwright-core";
import { ensureFreshBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { apiClient, type ApiClient } from "../helpers/api-client.ts";
import { chromiumAvailable, signedInPage, signIn, type TestBrowser } from "../helpers/browser.ts";
import { contrast } from "../helpers/contrast.ts";

const PASSWORD = "polish-admin-password";

/** "rgb(1, 2, 3)" → "#010203" */
const hex = (rgb: string) => "#" + (rgb.match(/\d+/g) ?? []).slice(0, 3).map((n) => Number(n).toString(16).padStart(2, "0")).join("");

describe.skipIf(!chromiumAvailable)("polish of the web UI in chromium", () => {
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
  const go = (path: string, p = page) => p.goto(d.url + path);
  const theme = (p = page) => p.evaluate<string>("document.documentElement.getAttribute('data-theme') || 'auto'");
  const bodyBg = (p = page) => p.evaluate<string>("getComputedStyle(document.documentElement).backgroundColor");

  beforeAll(async () => {
    ensureFreshBinary();
    storeDir = mkdtempSync(join(tmpdir(), "shield-polish-store-"));
    d = await startShieldDaemon({ args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    api = apiClient(d, "admin", PASSWORD);
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } });
    ids.orders = await created("/v1/targets", { name: "orders", plugin: "bytes-target", endpoint: { size: 256 * 1024 }, agent: "" });
    ids.ledger = await created("/v1/targets", { name: "ledger", plugin: "bytes-target", endpoint: { size: 65536, fail_after: 1000 }, agent: "" });
    ids.slow = await created("/v1/targets", { name: "slow", plugin: "bytes-target", endpoint: { size: 100000, sleep: 60 }, agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "month", expires: 30 * 86400 });
    const job = { store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true, compression: "none" };
    ids.ordersJob = await created("/v1/jobs", { name: "orders-nightly", target: ids.orders, ...job });
    ids.ledgerJob = await created("/v1/jobs", { name: "ledger-nightly", target: ids.ledger, ...job });
    ids.slowJob = await created("/v1/jobs", { name: "slow-weekly", target: ids.slow, ...job });
    for (let i = 0; i < 2; i++) expect((await run(ids.ordersJob)).status).toBe("done");
    const failed = await run(ids.ledgerJob);
    expect(failed.status).toBe("failed");
    ids.failedTask = failed.uuid;

    // New York: times in the reader's zone differ from UTC.
    b = await signedInPage(d.url, { password: PASSWORD, timezoneId: "America/New_York", problems });
    page = b.page;
  }, 180_000);
  afterAll(async () => {
    await b?.close();
    await d?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  }, 60_000);

  test("/v1/tasks?q= finds tasks by job name, target name and error line; a bad q is a 400 naming it", async () => {
    const names = async (q: string) => ((await api.call("GET", `/v1/tasks?q=${encodeURIComponent(q)}`)).json as any[]).map((t) => t.job_uuid);
    expect(await names("LEDGER-night")).toEqual([ids.ledgerJob]);
    expect((await names("orders")).length).toBe(2);
    // The target's name (not the job's): "slow" has run nothing yet; "ledger" matches by target too.
    expect(await names("slow")).toEqual([]);
    const byError = (await api.call("GET", `/v1/task/${ids.failedTask}`)).json.error as string;
    expect(byError.length).toBeGreaterThan(5);
    expect(await names(byError.slice(2, 12))).toEqual([ids.ledgerJob]);
    // LIKE's own characters match themselves.
    expect(await names("%")).toEqual([]);
    const bad = await api.call("GET", `/v1/tasks?q=${"x".repeat(201)}`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain("q");
  }, 60_000);

  test("the theme switch: dark, remembered across pages; back to the system's, which follows prefers-color-scheme", async () => {
    await page.emulateMedia({ colorScheme: "light" });
    await go("/");
    const light = await bodyBg();
    const select = page.getByLabel("Theme");
    expect(await select.inputValue()).toBe("auto");
    await select.selectOption("dark");
    expect(await theme()).toBe("dark");
    const dark = await bodyBg();
    expect(dark).not.toBe(light);
    // Another page, a new load: still dark, from localStorage, set before the page is drawn.
    await go("/jobs");
    expect(await theme()).toBe("dark");
    expect(await page.getByLabel("Theme").inputValue()).toBe("dark");
    expect(await bodyBg()).toBe(dark);
    await page.getByLabel("Theme").selectOption("light");
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await bodyBg()).toBe(light);
    await page.getByLabel("Theme").selectOption("auto");
    // Auto: the system says dark.
    expect(await bodyBg()).toBe(dark);
    await page.emulateMedia({ colorScheme: "light" });
    expect(await bodyBg()).toBe(light);
    await go("/");
    expect(await theme()).toBe("auto");
    // The charts draw again in the new colours: one plot each, never a second beside the first.
    await go(`/jobs/${ids.ordersJob}`);
    await page.locator(".chart-plot canvas").first().waitFor();
    const plots = await page.locator(".chart-plot .uplot").count();
    expect(plots).toBeGreaterThan(0);
    const pixels = () => page.locator(".chart-plot canvas").first().evaluate((c: any) => c.toDataURL());
    const before = await pixels();
    await page.getByLabel("Theme").selectOption("dark");
    expect(await page.locator(".chart-plot .uplot").count()).toBe(plots);
    expect(await pixels()).not.toBe(before);
    await page.getByLabel("Theme").selectOption("auto");
  }, 60_000);

  test("contrast as the browser draws it: the header's role label, muted text, links and the log, both themes", async () => {
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await go(`/tasks/${ids.failedTask}`);
      const pairs = await page.evaluate<[string, string, string][]>(`(() => {
        const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; if (c !== "rgba(0, 0, 0, 0)") return c; } return getComputedStyle(document.documentElement).backgroundColor; };
        const pick = { "role label": "header .who .muted", "header link": "header nav a", "heading": "main h1", "muted text": "main p.muted",
          "log": "pre.log", "log time": "pre.log time", "status badge": "main .badge", "error cause": ".task-cause" };
        return Object.entries(pick).map(([name, sel]) => { const el = document.querySelector(sel); return el ? [name, getComputedStyle(el).color, bg(el)] : [name, "", ""]; });
      })()`);
      for (const [name, fg, bg] of pairs) {
        expect(fg, `${name} is on the page`).not.toBe("");
        expect(contrast(hex(fg), hex(bg)), `${scheme}: ${name} (${fg} on ${bg})`).toBeGreaterThanOrEqual(4.5);
      }
    }
    await page.emulateMedia({ colorScheme: "light" });
  }, 60_000);

  test("log lines show the time of day in the reader's zone, UTC on hover, and say so above the log", async () => {
    await go(`/tasks/${ids.failedTask}`);
    const first = page.locator("pre.log time").first();
    const title = (await first.getAttribute("title"))!;
    expect(title).toMatch(/^\d{4}-\d\d-\d\d (\d\d):\d\d:\d\d UTC$/);
    const utcHour = Number(title.slice(11, 13));
    const shown = await first.innerText();
    expect(shown).toMatch(/^\d\d:\d\d:\d\d$/);
    // New York is 4 or 5 hours behind UTC.
    expect([(utcHour + 24 - 5) % 24, (utcHour + 24 - 4) % 24]).toContain(Number(shown.slice(0, 2)));
    expect(await page.locator("[data-zone]").innerText()).toMatch(/^Times in your zone \((EST|EDT|GMT-[45])\); UTC on hover\.$/);
    // The rest of the page's times too: the zone's name, the UTC time on hover.
    const requested = page.locator("#task-live dd time").first();
    expect(await requested.innerText()).toMatch(/EST|EDT|GMT-[45]/);
    expect(await requested.getAttribute("title")).toMatch(/ UTC$/);
  }, 60_000);

  test("archives: a filter applies as soon as it changes, and the search box as one types", async () => {
    await go("/archives");
    expect(await page.locator("main table tbody tr").count()).toBe(2);
    await page.getByLabel("Status").selectOption("expired");
    // No Filter button pressed: htmx asked for the list and swapped it in, the URL following.
    await page.waitForURL(/status=expired/);
    await page.locator("main .empty").waitFor();
    await page.getByLabel("Status").selectOption("");
    await page.locator("main table tbody tr").first().waitFor();
    // Picked the moment the list is back, a filter still applies (htmx wires up the
    // swapped-in form only when it settles; with a settle delay a change was lost).
    for (let i = 0; i < 5; i++) {
      await page.getByLabel("Status").selectOption("expired");
      await page.locator("main .empty").waitFor({ timeout: 3000 });
      await page.getByLabel("Status").selectOption("");
      await page.locator("main table tbody tr").first().waitFor({ timeout: 3000 });
    }
    await page.getByRole("searchbox", { name: "Search" }).pressSequentially("nothing-like-this", { delay: 20 });
    await page.waitForURL(/q=nothing-like-this/);
    await page.locator("main .empty").waitFor();
    // The caret stayed in the box through the swaps.
    expect(await page.evaluate("document.activeElement?.getAttribute('name')")).toBe("q");
    await page.getByRole("searchbox", { name: "Search" }).fill("orders");
    await page.waitForURL(/q=orders/);
    await page.locator("main table tbody tr").nth(1).waitFor();
    expect(await page.locator("main table tbody tr").count()).toBe(2);
    await b.shot("polish-archives-search");
    // A search the API refuses (400) is swapped in too: the reason beside the box.
    await page.getByRole("searchbox", { name: "Search" }).fill("x".repeat(201));
    await page.locator("#f-q-error").waitFor();
    expect(await page.locator("#f-q-error").innerText()).toContain("at most 200 characters");
  }, 60_000);

  test("tasks: the search box finds the failed backup by its error line, within the status tab", async () => {
    await go("/tasks");
    expect(await page.locator("main table tbody tr").count()).toBe(3);
    const error = (await api.call("GET", `/v1/task/${ids.failedTask}`)).json.error as string;
    await page.getByRole("searchbox", { name: "Search" }).fill(error.slice(0, 12));
    await page.waitForURL(/q=/);
    await page.waitForFunction("document.querySelectorAll('main table tbody tr').length === 1");
    expect(await page.locator("main table tbody tr").innerText()).toContain("ledger-nightly");
    // The status tabs keep the search.
    await page.getByRole("link", { name: "done", exact: true }).click();
    await page.waitForURL(/status=done/);
    expect(page.url()).toContain("q=");
    await page.locator("main .empty").waitFor();
    await go("/tasks?status=done&q=orders");
    expect(await page.locator("main table tbody tr").count()).toBe(2);
    await b.shot("polish-tasks-search");
  }, 60_000);

  test("canceling a task asks first; keeping it leaves it running; confirming cancels it", async () => {
    const r = await api.call("POST", `/v1/job/${ids.slowJob}/run`, {});
    const uuid = r.json.task_uuid as string;
    await go(`/tasks/${uuid}`);
    await page.locator("#task-live .badge", { hasText: "running" }).waitFor({ timeout: 30_000 });
    await page.getByRole("link", { name: "Cancel task…" }).click();
    await page.waitForURL(`${d.url}/tasks/${uuid}/cancel`);
    expect(await page.locator("h1").innerText()).toBe("Cancel this backup?");
    expect(await page.locator("main .card").innerText()).toContain("job slow-weekly");
    await b.shot("polish-cancel-confirm");
    await page.getByRole("link", { name: "Keep it running" }).click();
    await page.waitForURL(`${d.url}/tasks/${uuid}`);
    expect((await api.call("GET", `/v1/task/${uuid}`)).json.status).toBe("running");
    await page.getByRole("link", { name: "Cancel task…" }).click();
    await page.getByRole("button", { name: "Cancel task" }).click();
    await page.waitForURL(`${d.url}/tasks/${uuid}`);
    expect(await page.locator(".flash.ok").innerText()).toBe("Task canceled.");
    await page.locator("#task-live .badge", { hasText: "canceled" }).waitFor({ timeout: 15_000 });
    // Asked again for a finished task: nothing to cancel, said plainly.
    await go(`/tasks/${uuid}/cancel`);
    await page.waitForURL(`${d.url}/tasks/${uuid}`);
    expect(await page.locator(".flash.error").innerText()).toContain("nothing to cancel");
  }, 90_000);

  test("plugin menus name a plugin once when its title only repeats its name", async () => {
    await go("/stores/new");
    const labels = await page.getByLabel("Plugin").locator("option").allInnerTexts();
    expect(labels.length).toBeGreaterThan(1);
    for (const l of labels) expect(l).not.toMatch(/^(\S+) — \1$/i);
    expect(labels).toContain("fs");
  }, 60_000);

  test("the admin's header is one line at 1280 px: the admin pages and the user's own are two menus", async () => {
    await go("/audit");
    const banner = page.getByRole("banner");
    const nav = page.getByRole("navigation", { name: "Main" });
    // Every item of the header on one row: their tops within a few pixels of each other.
    const tops = await page.evaluate<number[]>(`[...document.querySelectorAll("header.top > .brand, header.top nav > ul > li, header.top .who > *:not([hidden])")]
      .map((el) => Math.round(el.getBoundingClientRect().top))`);
    expect(tops.length).toBeGreaterThan(10);
    expect(Math.max(...tops) - Math.min(...tops), `item tops ${tops}`).toBeLessThanOrEqual(12);
    expect(await banner.evaluate((el: any) => el.getBoundingClientRect().height)).toBeLessThan(60);
    // The Admin menu: closed, marked as holding the current page; open, its links.
    const admin = nav.getByText("Admin", { exact: true });
    const audit = nav.getByRole("link", { name: "Audit" });
    expect(await audit.isVisible()).toBe(false);
    expect(await admin.getAttribute("class")).toBe("current");
    await admin.click();
    expect(await audit.isVisible()).toBe(true);
    expect(await audit.getAttribute("aria-current")).toBe("page");
    await b.shot("polish-header-admin-menu-1280");
    // The user's menu: opening it closes the other; Escape closes it, back on its summary.
    const account = banner.locator(".account summary");
    expect(await account.innerText()).toContain("admin (admin)");
    await account.click();
    expect(await audit.isVisible()).toBe(false);
    expect(await banner.getByRole("link", { name: "API tokens" }).isVisible()).toBe(true);
    expect(await banner.getByRole("button", { name: "Sign out" }).isVisible()).toBe(true);
    await b.shot("polish-header-account-menu-1280");
    await page.keyboard.press("Escape");
    expect(await banner.getByRole("link", { name: "API tokens" }).isVisible()).toBe(false);
    expect(await page.evaluate("document.activeElement?.tagName")).toBe("SUMMARY");
    // A click elsewhere closes a menu too.
    await admin.click();
    await page.locator("main h1").click();
    expect(await audit.isVisible()).toBe(false);
  }, 60_000);

  test("at 390 px: the navigation is behind a menu button, and tables are cards with each cell labelled", async () => {
    const phone = await b.context.newPage();
    phone.on("pageerror", (e) => problems.push(String(e)));
    await phone.setViewportSize({ width: 390, height: 844 });
    await go("/jobs", phone);
    const menu = phone.getByRole("button", { name: "Menu" });
    const archivesLink = phone.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Archives" });
    expect(await menu.isVisible()).toBe(true);
    expect(await menu.getAttribute("aria-expanded")).toBe("false");
    expect(await archivesLink.isVisible()).toBe(false);
    await b.shot("polish-phone-menu-closed", phone);
    await menu.click();
    expect(await menu.getAttribute("aria-expanded")).toBe("true");
    expect(await archivesLink.isVisible()).toBe(true);
    expect(await phone.getByLabel("Theme").isVisible()).toBe(true);
    // Everything is in the phone's menu at once: the admin's pages and the user's own too.
    expect(await phone.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).isVisible()).toBe(true);
    expect(await phone.getByRole("banner").getByRole("button", { name: "Sign out" }).isVisible()).toBe(true);
    await b.shot("polish-phone-menu-open", phone);
    // Escape closes it, the focus back on the button.
    await phone.keyboard.press("Escape");
    expect(await archivesLink.isVisible()).toBe(false);
    await menu.click();
    await archivesLink.click();
    await phone.waitForURL(`${d.url}/archives`);

    // Cards: no header row shown, each cell labelled by its column, nothing wider than the screen.
    expect(await phone.locator("main thead").first().boundingBox().then((r) => r?.height ?? 0)).toBeLessThanOrEqual(1);
    const cell = phone.locator("main table tbody tr").first().locator("td").nth(1);
    expect(await cell.getAttribute("data-label")).toBe("Target");
    expect(await cell.evaluate((el: any) => (globalThis as any).getComputedStyle(el, "::before").content)).toBe('"Target"');
    for (const path of ["/archives", "/tasks", "/jobs", "/", `/tasks/${ids.failedTask}`, "/stores", "/schedules"]) {
      await go(path, phone);
      const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
      expect(overflow, path).toBeLessThanOrEqual(0);
    }
    // Without script the links are simply there (no button that cannot open).
    const plain = await b.context.browser()?.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    if (plain) {
      const p = await plain.newPage();
      await signIn(p, d.url, "admin", PASSWORD);
      expect(await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Archives" }).isVisible()).toBe(true);
      expect(await p.getByRole("button", { name: "Menu" }).isVisible()).toBe(false);
      await plain.close();
    }
    await phone.close();
  }, 120_000);

  test("screenshots: the main pages at 1280 and 390 px, light and dark", async () => {
    const pages: [string, string][] = [
      ["dashboard", "/"], ["jobs", "/jobs"], ["job", `/jobs/${ids.ordersJob}`], ["archives", "/archives"],
      ["tasks", "/tasks"], ["task-failed", `/tasks/${ids.failedTask}`], ["store-new", "/stores/new"],
    ];
    for (const [width, tag] of [[1280, "1280"], [390, "390"]] as const) {
      const p = await b.context.newPage();
      p.on("pageerror", (e) => problems.push(String(e)));
      await p.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      for (const scheme of ["light", "dark"] as const) {
        await p.emulateMedia({ colorScheme: scheme });
        for (const [name, path] of pages) {
          await go(path, p);
          if (path === "/" || path.startsWith("/jobs/")) await p.locator(".chart-plot canvas").first().waitFor({ timeout: 10_000 }).catch(() => {});
          await b.shot(`polish-${name}-${tag}-${scheme}`, p);
        }
      }
      await p.close();
    }
  }, 180_000);

  test("no console errors (the CSP refused nothing)", () => {
    expect(problems).toEqual([]);
  });
});
