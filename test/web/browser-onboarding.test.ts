// A new user's first hour, in a real browser (Debian's chromium through
// playwright-core) against the compiled daemon, with every other host closed:
// the first start's words, the getting-started checklist, a job whose store,
// target and policy are created from its form, run by hand (no schedule), its
// archive restored from the archive list, users and API tokens, and the API
// reference at /docs. Screenshots at 1280 and 390 px go to test-artifacts/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { ensureFreshBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { chromiumAvailable, launchBrowser, SCREENSHOTS, signIn, type TestBrowser } from "../helpers/browser.ts";

describe.skipIf(!chromiumAvailable)("a new user's first steps in chromium", () => {
  let d: DaemonProcess;
  let b: TestBrowser;
  let page: Page;
  let password: string;
  let storeDir: string;
  let dataDir: string;
  const seen = new Set<string>();
  const problems: string[] = [];

  beforeAll(async () => {
    ensureFreshBinary();
    storeDir = mkdtempSync(join(tmpdir(), "shield-web-onboarding-store-"));
    dataDir = mkdtempSync(join(tmpdir(), "shield-web-onboarding-data-"));
    writeFileSync(join(dataDir, "holiday.txt"), "a picture of the sea\n");
    // No SHIELD_ADMIN_PASSWORD (empty is none): the first start makes one up and says it.
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: "" } });
    password = /Created user 'admin' with password: (\S+)/.exec(d.stderr())![1]!;
    b = await launchBrowser({ timezoneId: "Europe/Paris" });
    page = b.page;
    // The network is closed: anything but the daemon is refused, and remembered.
    await b.context.route((url) => url.origin !== d.url, (route) => route.abort());
    b.context.on("request", (r) => seen.add(new URL(r.url()).origin));
    b.context.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    await b.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: d.url });
  });
  afterAll(async () => {
    await b?.close();
    await d?.stop();
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const go = (path: string) => page.goto(d.url + path);
  const heading = () => page.locator("h1").first().innerText();

  /** The same page at phone width (the context shares the session), its screenshot, and that nothing spills sideways. */
  async function phone(path: string, name: string) {
    const p = await b.context.newPage();
    await p.setViewportSize({ width: 390, height: 844 });
    await p.goto(d.url + path);
    await p.waitForLoadState("networkidle");
    const overflow = await p.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    await b.shot(`${name}-390`, p);
    await p.close();
    expect(overflow, path).toBeLessThanOrEqual(0);
  }

  test("the first start says which page to open and the password; the page asks to sign in", async () => {
    const words = d.stderr().split("\n").filter((l) => !l.startsWith("{"));
    expect(words).toContain(`Shield is ready. Open ${d.url}/ in your browser.`);
    await signIn(page, d.url, "admin", password);
    expect(await heading()).toBe("Dashboard");
  });

  test("an empty dashboard shows the getting-started checklist", async () => {
    const list = page.locator(".getting-started");
    expect(await list.locator("li").count()).toBe(6);
    expect(await list.locator("li.done").count()).toBe(0);
    expect(await list.getByRole("link", { name: "Add a store" }).getAttribute("href")).toBe("/stores/new");
    await b.shot("onboarding-dashboard-empty-1280");
    await phone("/", "onboarding-dashboard-empty");
  });

  test("the job form creates its store, target and policy on the way, and keeps what was typed", async () => {
    await go("/jobs/new");
    await page.getByLabel(/^Name/).fill("holiday-photos");
    await page.getByLabel("Summary").fill("Pictures from the holidays");
    await b.shot("onboarding-job-form-1280");
    await phone("/jobs/new", "onboarding-job-form");

    await page.getByRole("button", { name: "New store…" }).click();
    await page.waitForURL(/\/stores\/new\?return=/);
    await page.getByLabel(/^Name/).fill("disk");
    await page.getByLabel("Plugin").selectOption("fs");
    await page.getByLabel("Base directory").fill(storeDir);
    await b.shot("onboarding-store-from-job-1280");
    await page.getByRole("button", { name: "Create store" }).click();
    await page.waitForURL(/\/jobs\/new\?/);
    expect(await page.locator(".flash.ok").innerText()).toBe("Store “disk” created and chosen for the job.");
    expect(await page.getByLabel(/^Name/).inputValue()).toBe("holiday-photos");
    expect(await page.locator("#f-store option:checked").innerText()).toBe("disk (fs)");

    await page.getByRole("button", { name: "New target…" }).click();
    await page.waitForURL(/\/targets\/new\?return=/);
    await page.getByLabel(/^Name/).fill("pictures");
    await page.getByLabel("Plugin").selectOption("files");
    await page.getByLabel("Directory").fill(dataDir);
    await page.getByRole("button", { name: "Create target" }).click();
    await page.waitForURL(/\/jobs\/new\?/);
    expect(await page.locator("#f-target option:checked").innerText()).toBe("pictures (files)");

    await page.getByRole("button", { name: "New policy…" }).click();
    await page.waitForURL(/\/retention\/new\?return=/);
    await page.getByLabel(/^Name/).fill("a month");
    await page.getByLabel("Keep archives for").fill("30");
    await page.getByRole("button", { name: "Create policy" }).click();
    await page.waitForURL(/\/jobs\/new\?/);
    expect(await page.locator("#f-retention option:checked").innerText()).toBe("a month");
    // Everything typed survived the three detours.
    expect(await page.getByLabel("Summary").inputValue()).toBe("Pictures from the holidays");
    expect(await page.locator("#f-store option:checked").innerText()).toBe("disk (fs)");
    // No schedule: run by hand only.
    expect(await page.locator("#f-schedule option:checked").innerText()).toBe("None: run by hand only");
    await b.shot("onboarding-job-form-filled-1280");
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    expect(await page.locator("dl.props").innerText()).toContain("none: runs only when asked");
    await b.shot("onboarding-job-1280");
    await phone(new URL(page.url()).pathname, "onboarding-job");
  });

  test("run by hand, then restored from the archive list; the restore names its archive and target", async () => {
    await page.getByRole("button", { name: "Run now" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}(\?started=1)?$/);
    await page.locator("#task-live .badge", { hasText: "done" }).waitFor({ timeout: 60_000 });
    // The checklist is gone once the first archive exists.
    await go("/");
    expect(await page.locator(".getting-started").count()).toBe(0);

    writeFileSync(join(dataDir, "holiday.txt"), "changed after the backup\n");
    await go("/archives");
    await b.shot("onboarding-archives-1280");
    await phone("/archives", "onboarding-archives");
    await page.getByRole("link", { name: /^Restore the archive of pictures/ }).click();
    await page.waitForURL(/\/archives\/[0-9a-f-]{36}\/restore$/);
    expect(await page.locator("#f-target option:checked").innerText()).toBe("pictures (original)");
    await b.shot("onboarding-restore-choose-1280");
    await phone(new URL(page.url()).pathname, "onboarding-restore-choose");
    await page.getByRole("button", { name: "Next…" }).click();
    expect(await page.locator(".card").first().innerText()).toContain("This overwrites the data of target “pictures”");
    await page.getByRole("button", { name: "Restore and overwrite pictures" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}(\?started=1)?$/);
    await page.locator("#task-live .badge", { hasText: "done" }).waitFor({ timeout: 60_000 });
    expect(await heading()).toMatch(/^Restore of pictures, taken .+ into pictures$/);
    expect(readFileSync(join(dataDir, "holiday.txt"), "utf8")).toBe("a picture of the sea\n");
    await b.shot("onboarding-restore-task-1280");
    await phone(new URL(page.url()).pathname, "onboarding-restore-task");
    await go("/tasks");
    expect(await page.locator("table tbody tr").first().innerText()).toMatch(/restore[\s\S]*of pictures, taken .+ into pictures/);
    await b.shot("onboarding-tasks-1280");
    await phone("/tasks", "onboarding-tasks");
  });

  test("an admin manages users: create, change role, reset password, delete", async () => {
    await go("/users");
    await page.getByLabel(/^Name/).fill("olga");
    await page.getByLabel("Password").fill("olgas first password");
    await page.getByLabel("Role").selectOption("operator");
    await page.getByRole("button", { name: "Add user" }).click();
    expect(await page.locator(".flash.ok").innerText()).toBe("User “olga” added.");
    await b.shot("users-1280");
    await phone("/users", "users");
    await page.locator("#user-olga").getByRole("link", { name: "Edit" }).click();
    await page.getByLabel("Role").selectOption("viewer");
    await page.getByLabel("New password").fill("olgas second password");
    await b.shot("user-edit-1280");
    await page.getByRole("button", { name: "Save user" }).click();
    expect(await page.locator(".flash.ok").innerText()).toBe("User “olga” saved with a new password.");
    expect(await page.locator("#user-olga").innerText()).toContain("viewer");
    const who = await fetch(`${d.url}/v1/auth/whoami`, { headers: { authorization: `Basic ${btoa("olga:olgas second password")}` } });
    expect(((await who.json()) as { role: string }).role).toBe("viewer");
    await page.locator("#user-olga").getByRole("link", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Delete user" }).click();
    expect(await page.locator("#user-olga").count()).toBe(0);
  });

  test("everyone's own API tokens: created with a role and expiry, shown once with a copy button, revoked", async () => {
    // One's own tokens are in the menu under one's name.
    await page.getByRole("banner").locator(".account summary").click();
    await page.getByRole("link", { name: "API tokens" }).click();
    await page.getByLabel(/^Name/).fill("backup-script");
    await page.getByLabel("Role").selectOption("operator");
    await page.getByLabel("Expires").selectOption({ label: "In 30 days" });
    await page.getByLabel("Your password").fill(password);
    await page.getByRole("button", { name: "Create token" }).click();
    const token = await page.locator("#new-token").inputValue();
    expect(token).toMatch(/^shield_/);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    expect(String(await page.evaluate("navigator.clipboard.readText()"))).toBe(token);
    await b.shot("tokens-created-1280");
    const who = await fetch(`${d.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(await who.json()).toMatchObject({ name: "admin", role: "operator" });
    await phone("/tokens", "tokens");
    await page.goto(d.url + "/tokens");
    expect(await page.content()).not.toContain(token);
    await page.locator("tr", { hasText: "backup-script" }).getByRole("button", { name: "Revoke" }).click();
    expect(await page.locator(".flash.ok").innerText()).toContain("Revoked");
    expect((await fetch(`${d.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  test("the API reference renders from the binary with the network closed", async () => {
    await page.getByRole("banner").locator(".account summary").click();
    await page.getByRole("banner").getByRole("link", { name: "API reference" }).click();
    await page.waitForURL(`${d.url}/docs`);
    await page.locator(".opblock").first().waitFor({ timeout: 30_000 });
    expect(await page.locator(".opblock").count()).toBeGreaterThan(50);
    // Operation ids are shown; a section opens with its example body.
    expect(await page.locator(".opblock-summary-operation-id", { hasText: "listRetentionPolicies" }).count()).toBe(1);
    await page.locator("#operations-jobs-createJob .opblock-summary").click();
    await page.locator("#operations-jobs-createJob").getByText("orders-nightly").first().waitFor();
    // The page is some 10,000 px tall: its top, and the opened operation, as the reader sees them.
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(SCREENSHOTS, "docs-1280.png") });
    await page.evaluate(`document.getElementById("operations-jobs-createJob").scrollIntoView({ block: "start" })`);
    await page.screenshot({ path: join(SCREENSHOTS, "docs-create-job-1280.png") });
    const p = await b.context.newPage();
    await p.setViewportSize({ width: 390, height: 844 });
    await p.goto(d.url + "/docs");
    await p.locator(".opblock").first().waitFor({ timeout: 30_000 });
    await p.screenshot({ path: join(SCREENSHOTS, "docs-390.png") });
    await p.close();
  });

  test("nothing asked any other host, and the pages broke no rule of the CSP", () => {
    expect([...seen]).toEqual([d.url]);
    expect(problems.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([]);
  });
});
