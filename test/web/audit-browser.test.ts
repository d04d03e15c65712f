// The Audit page in a real browser (Debian's chromium) against the compiled
// daemon: an admin finds who changed what from the menu, filters by action and
// user, pages back, reads times in their own zone with UTC on hover; the page
// fits a phone; an operator has no Audit link and is refused by URL. Screenshots
// at 1280 and 390 px go to test-artifacts/screenshots/audit-*.png.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { ensureFreshBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { join } from "node:path";
import { chromiumAvailable, launchBrowser, SCREENSHOTS, signIn, type TestBrowser } from "../helpers/browser.ts";

const ADMIN_PW = "audit-browser-admin-pw";
const OP_PW = "audit-browser-operator-pw";
const PG_SECRET = "audit-browser-pg-secret";

describe.skipIf(!chromiumAvailable)("the Audit page in chromium", () => {
  let d: DaemonProcess;
  let b: TestBrowser;
  let page: Page;

  const api = async (method: string, path: string, body?: unknown, auth = `admin:${ADMIN_PW}`) => {
    const r = await fetch(d.url + path, {
      method, headers: { authorization: `Basic ${btoa(auth)}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<any>;
  };

  beforeAll(async () => {
    ensureFreshBinary();
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: ADMIN_PW } });
    await api("POST", "/v1/users", { name: "oscar", password: OP_PW, role: "operator" });
    // Enough entries for two pages (25 a page): schedules made and renamed by the operator.
    for (let i = 1; i <= 14; i++) {
      const { uuid } = await api("POST", "/v1/schedules", { name: `backup window ${i}`, summary: "", when: "daily at 4am" }, `oscar:${OP_PW}`);
      await api("PUT", `/v1/schedule/${uuid}`, { name: `backup window ${i}`, summary: `renamed ${i}`, when: "daily at 5am" }, `oscar:${OP_PW}`);
    }
    await api("POST", "/v1/targets", {
      name: "orders-db", summary: "", plugin: "postgres", agent: "",
      endpoint: JSON.stringify({ pg_host: "db1.internal", pg_user: "backup", pg_password: PG_SECRET, pg_database: "orders" }),
    });
    await fetch(`${d.url}/v1/jobs`, { headers: { authorization: `Basic ${btoa("mallory:guess")}` } });
    b = await launchBrowser({ timezoneId: "Asia/Tokyo" });
    page = b.page;
  });
  afterAll(async () => {
    await b?.close();
    await d?.stop();
  });

  test("an admin opens Audit from the menu: newest first, local times with UTC on hover, secrets redacted", async () => {
    await signIn(page, d.url, "admin", ADMIN_PW);
    // The admin's pages are under the header's Admin menu.
    await page.getByRole("navigation", { name: "Main" }).getByText("Admin", { exact: true }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
    await page.waitForURL(`${d.url}/audit`);
    expect(await page.locator("h1").innerText()).toBe("Audit");
    const rows = page.locator("table tbody tr");
    expect(await rows.count()).toBe(25);
    // The newest: the admin's own sign-in through this browser.
    const first = rows.first();
    expect(await first.locator("td").nth(3).innerText()).toBe("sign-in");
    expect(await first.locator("td").nth(1).innerText()).toContain("admin");
    const time = first.locator("time");
    expect(await time.getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(await time.innerText()).toContain("GMT+9");
    expect(await page.content()).not.toContain(PG_SECRET);
    await b.shot("audit-1280");
  });

  test("filters by action and user, and pages back", async () => {
    await page.getByLabel("Action").selectOption("sign-in-failed");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/action=sign-in-failed/);
    const rows = page.locator("table tbody tr");
    expect(await rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain("mallory");
    await page.goto(`${d.url}/audit?action=create&type=target`);
    expect(await rows.count()).toBe(1);
    const changes = await rows.first().locator("ul.changes").innerText();
    expect(changes).toContain("endpoint.pg_password: ********");
    expect(changes).toContain("endpoint.pg_host: db1.internal");
    await b.shot("audit-1280-filtered");
    await page.goto(`${d.url}/audit?user=oscar`);
    expect(await rows.count()).toBe(25);
    await page.getByRole("link", { name: "Next →" }).click();
    await page.waitForURL(/page=2/);
    expect(page.url()).toContain("user=oscar");
    // 28 changes by oscar: 25 on the first page, 3 here, the oldest his first schedule.
    expect(await rows.count()).toBe(3);
    expect(await rows.last().innerText()).toContain("backup window 1");
    // A bad filter is named next to its field, not a 500.
    await page.goto(`${d.url}/audit?from=2026-02-31`);
    expect(await page.locator(".field-error").first().innerText()).toContain("must be a day");
  });

  test("at 390 px nothing spills sideways", async () => {
    const phone = await b.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${d.url}/audit`);
    const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await b.shot("audit-390", phone);
    // What the phone shows first, at its own size (the full page is too tall to read at a glance).
    await phone.screenshot({ path: join(SCREENSHOTS, "audit-390-screen.png") });
    await phone.goto(`${d.url}/audit?action=update`);
    await b.shot("audit-390-updates", phone);
    await phone.close();
  });

  test("an operator has no Audit link, and the page by URL is refused", async () => {
    const ctx = await b.context.browser()?.newContext();
    const p = ctx ? await ctx.newPage() : await b.context.newPage();
    if (!ctx) await b.context.clearCookies();
    await signIn(p, d.url, "oscar", OP_PW);
    expect(await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).count()).toBe(0);
    const r = await p.goto(`${d.url}/audit`);
    expect(r?.status()).toBe(403);
    await p.close();
    await ctx?.close();
  });
});
