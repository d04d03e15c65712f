// The web UI in a real browser (chromium through playwright-core) with the cloud
// stores: an s3 store (on the tests' private moto_server) and an azure store (on
// the tests' private Azurite) created through the web forms, a PostgreSQL database
// backed up to each, and each archive restored into a new database from its
// archive page; the restored rows are checked. Screenshots at 1280 and 390 px go to
// test-artifacts/screenshots/ (cloud-*).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import type { Page } from "playwright-core";
import { ensureFreshBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { customersFingerprint, fillCustomers } from "../helpers/pg-fixtures.ts";
import { freshDatabase, pgAvailable, startPostgres } from "../helpers/postgres.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteAvailable, startAzurite } from "../helpers/azurite.ts";
import { freshBucket, MOTO_KEY, MOTO_REGION, motoAvailable, objectKeys, startMoto } from "../helpers/s3.ts";
import { chromiumAvailable, launchBrowser, signIn, type TestBrowser } from "../helpers/browser.ts";

const ADMIN_PASSWORD = "browser-cloud-admin-password";
const PG_SECRET = "pg-secret-in-the-cloud-browser-test";

describe.skipIf(!pgAvailable || !chromiumAvailable || !motoAvailable || !azuriteAvailable)("cloud stores from the web UI in chromium", () => {
  let d: DaemonProcess;
  let b: TestBrowser;
  let page: Page;
  let srcUrl: string;
  let pgPort: number;
  let motoUrl: string;
  let bucket: string;
  let blobEndpoint: string;
  const container = `shield-web-${randomUUID().slice(0, 8)}`;
  const restored = { s3: `web_s3_restored_${process.pid}`, azure: `web_azure_restored_${process.pid}` };
  const seen = new Set<string>();

  beforeAll(async () => {
    ensureFreshBinary();
    const moto = await startMoto();
    motoUrl = moto.url;
    bucket = await freshBucket("web");
    const az = await startAzurite();
    blobEndpoint = az.url;
    await new BlobServiceClient(az.url, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient(container).create();
    srcUrl = await freshDatabase("webcloud");
    pgPort = (await startPostgres()).port;
    await fillCustomers(srcUrl, 40);
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    b = await launchBrowser();
    page = b.page;
    // The browser talks to the daemon only; the daemon's stores talk to moto and Azurite.
    b.context.on("request", (r) => seen.add(new URL(r.url()).origin));
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await d?.stop();
  });

  const go = (path: string) => page.goto(d.url + path);
  const heading = () => page.locator("h1").first().innerText();
  /** The same page at 1280 px and at a phone's 390 px. */
  async function shots(name: string) {
    await b.shot(`cloud-${name}-1280`);
    await page.setViewportSize({ width: 390, height: 844 });
    await b.shot(`cloud-${name}-390`);
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  async function newTarget(name: string, database: string) {
    await go("/targets/new");
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Plugin").selectOption("postgres");
    await page.getByLabel("Host").fill("127.0.0.1");
    await page.getByLabel("Port").fill(String(pgPort));
    await page.getByLabel(/^User/).fill("postgres");
    await page.getByLabel("Password").fill(PG_SECRET);
    await page.getByLabel("Database").fill(database);
    await page.getByRole("button", { name: "Create target" }).click();
    await page.waitForURL(/\/targets\/[0-9a-f-]{36}$/);
    expect(await heading()).toBe(`Target ${name}`);
  }

  async function newJob(name: string, store: string) {
    await go("/jobs/new");
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Target (what to back up)").selectOption({ label: "shop (postgres)" });
    await page.getByLabel("Store (where archives go)").selectOption({ label: store });
    await page.getByLabel("Schedule").selectOption({ label: "nightly: daily at 4am" });
    await page.getByLabel("Retention policy").selectOption({ label: "a week" });
    await page.getByLabel("Start paused").check();
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  }

  test("signs in; the targets, a schedule and a policy the jobs need", async () => {
    await signIn(page, d.url, "admin", ADMIN_PASSWORD);
    await newTarget("shop", new URL(srcUrl).pathname.slice(1));
    await newTarget("shop-from-s3", restored.s3);
    await newTarget("shop-from-azure", restored.azure);
    await go("/schedules/new");
    await page.getByLabel("Name").fill("nightly");
    await page.getByLabel("When").fill("daily at 4am");
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.waitForURL(`${d.url}/schedules`);
    await go("/retention/new");
    await page.getByLabel("Name").fill("a week");
    await page.getByLabel("Keep archives for").fill("7");
    await page.getByLabel("Unit").selectOption("days");
    await page.getByRole("button", { name: "Create policy" }).click();
    await page.waitForURL(`${d.url}/retention`);
  }, 60_000);

  test("an s3 store from the plugin's form, tested live; its secret never comes back", async () => {
    await go("/stores/new");
    await page.getByLabel("Name").fill("s3-moto");
    await page.getByLabel("Plugin").selectOption("s3");
    // htmx swaps in the s3 plugin's fields.
    await page.getByLabel(/^Bucket/).fill(bucket);
    await page.getByLabel(/^Region/).fill(MOTO_REGION);
    await page.getByLabel(/^Access Key ID/).fill(MOTO_KEY.access_key_id);
    await page.getByLabel(/^Secret Access Key/).fill(MOTO_KEY.secret_access_key);
    await page.getByLabel(/^S3 host/).fill(motoUrl);
    await page.getByLabel(/^Prefix/).fill("web/pg");
    await shots("s3-store-new");
    await page.getByRole("button", { name: "Create store" }).click();
    await page.waitForURL(/\/stores\/[0-9a-f-]{36}$/);
    expect(await page.locator(".flash.ok").innerText()).toContain("Store “s3-moto” created.");
    expect(await page.content()).not.toContain(MOTO_KEY.secret_access_key);
    await page.getByRole("button", { name: "Test connection" }).click();
    await page.locator("#test-result", { hasText: "Connection ok" }).waitFor({ timeout: 30_000 });
    await shots("s3-store");
  }, 60_000);

  test("an azure store from the plugin's form, tested live; its key never comes back", async () => {
    await go("/stores/new");
    await page.getByLabel("Name").fill("azure-azurite");
    await page.getByLabel("Plugin").selectOption("azure");
    await page.getByLabel(/^Storage Account Key/).fill(AZURITE_KEY);
    await page.getByLabel(/^Storage Account(?! Key)/).fill(AZURITE_ACCOUNT);
    await page.getByLabel(/^Storage Container/).fill(container);
    await page.getByLabel(/^Container Path Prefix/).fill("web/pg");
    await page.getByLabel(/^Blob Service Endpoint/).fill(blobEndpoint);
    await shots("azure-store-new");
    await page.getByRole("button", { name: "Create store" }).click();
    await page.waitForURL(/\/stores\/[0-9a-f-]{36}$/);
    expect(await page.locator(".flash.ok").innerText()).toContain("Store “azure-azurite” created.");
    expect(await page.content()).not.toContain(AZURITE_KEY);
    await page.getByRole("button", { name: "Test connection" }).click();
    await page.locator("#test-result", { hasText: "Connection ok" }).waitFor({ timeout: 30_000 });
    await shots("azure-store");
  }, 60_000);

  for (const [kind, store] of [["s3", "s3-moto (s3)"], ["azure", "azure-azurite (azure)"]] as const) {
    test(`a backup to ${kind}, run now from its job`, async () => {
      await newJob(`shop-to-${kind}`, store);
      await page.getByRole("button", { name: "Run now" }).click();
      await page.waitForURL(/\/tasks\/[0-9a-f-]{36}(\?started=1)?$/);
      await page.locator("#task-live .badge", { hasText: "done" }).waitFor({ timeout: 90_000 });
      expect(await page.locator("pre.log").innerText()).toContain("backed up");
      expect(await page.content()).not.toContain(PG_SECRET);
      await shots(`${kind}-backup-done`);
    }, 120_000);

    test(`the ${kind} archive restored into a new database from its archive page; the rows are all there`, async () => {
      await go("/archives");
      await page.locator("main form select[name=store]").first().selectOption({ label: store.replace(/ \(.*\)$/, "") });
      await page.getByRole("button", { name: "Filter" }).click();
      const rows = page.locator("table tbody tr");
      expect(await rows.count()).toBe(1);
      await rows.first().locator("a").first().click();
      await page.waitForURL(/\/archives\/[0-9a-f-]{36}$/);
      expect(await page.locator("main").innerText()).toContain(store.replace(/ \(.*\)$/, ""));
      await shots(`${kind}-archive`);
      const into = `shop-from-${kind}`;
      await page.getByLabel("Restore into").selectOption({ label: into });
      await page.getByRole("button", { name: "Restore…" }).click();
      const card = await page.locator(".card").first().innerText();
      expect(card).toContain(`This overwrites the data of target “${into}”`);
      expect(card).toContain(restored[kind]);
      await shots(`${kind}-restore-confirm`);
      await page.getByRole("button", { name: `Restore and overwrite ${into}` }).click();
      await page.waitForURL(/\/tasks\/[0-9a-f-]{36}(\?started=1)?$/);
      await page.locator("#task-live .badge", { hasText: "done" }).waitFor({ timeout: 90_000 });
      expect(await page.content()).not.toContain(PG_SECRET);
      await shots(`${kind}-restore-done`);
      expect(await customersFingerprint(srcUrl.replace(/\/[^/]+$/, `/${restored[kind]}`))).toEqual(await customersFingerprint(srcUrl));
    }, 120_000);
  }

  test("the archive really is in the bucket and in the container; the browser reached only the daemon", async () => {
    expect((await objectKeys(bucket)).filter((k) => k.startsWith("web/pg/")).length).toBe(1);
    const names: string[] = [];
    const c = new BlobServiceClient(blobEndpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient(container);
    for await (const x of c.listBlobsFlat()) names.push(x.name);
    expect(names.filter((n) => n.startsWith("web/pg/")).length).toBe(1);
    expect([...seen]).toEqual([d.url]);
    await go("/");
    await shots("dashboard");
    expect(await page.locator("table").last().innerText()).toMatch(/s3-moto\s+s3\s+1\s+\d/);
    expect(await page.locator("table").last().innerText()).toMatch(/azure-azurite\s+azure\s+1\s+\d/);
  });
});
