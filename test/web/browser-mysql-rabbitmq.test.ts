// The mysql and rabbitmq targets in a real browser (Debian's chromium through
// playwright-core) against the compiled daemon, a private MariaDB and two private
// RabbitMQ nodes: each target is made from its plugin's form, a backup is run from
// the job's page, and the archive is restored from its page, the MariaDB database
// into a new database, the broker into a fresh node; what arrives is checked
// against the source. Screenshots at 1280 and 390 px go to test-artifacts/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { ensureFreshBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { chromiumAvailable, signedInPage, type TestBrowser } from "../helpers/browser.ts";
import { ADMIN_PASSWORD as DB_PASSWORD, ADMIN_USER as DB_USER, mariadbAvailable, seedFixture, startMariadb, type MariadbServer } from "../helpers/mariadb.ts";
import { rabbitAvailable, startNode, type RabbitNode } from "../helpers/rabbitmq.ts";
import { definitionsOf, seededRabbit } from "../helpers/rabbitmq-fixture.ts";

const ADMIN_PASSWORD = "browser-mysql-rmq-admin-password";

describe.skipIf(!chromiumAvailable || !mariadbAvailable || !rabbitAvailable)("mysql and rabbitmq targets in the web UI", () => {
  let d: DaemonProcess;
  let b: TestBrowser;
  let page: Page;
  let phone: Page;
  let storeDir: string;
  let db: MariadbServer;
  let rmq: RabbitNode;
  let fresh: RabbitNode;
  const ids: Record<string, string> = {};

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${d.url}${path}`, {
      method,
      headers: { authorization: `Basic ${btoa(`admin:${ADMIN_PASSWORD}`)}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return r.json() as Promise<any>;
  };

  beforeAll(async () => {
    ensureFreshBinary();
    [db, rmq, fresh] = await Promise.all([startMariadb(), seededRabbit(), startNode()]);
    seedFixture(db, { documents: 500 });
    storeDir = mkdtempSync(join(tmpdir(), "shield-web-mysql-rmq-store-"));
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    ids.store = (await api("POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } })).uuid;
    ids.schedule = (await api("POST", "/v1/schedules", { name: "nightly", when: "daily at 4am" })).uuid;
    ids.retention = (await api("POST", "/v1/retention", { name: "a week", expires: 604800 })).uuid;
    b = await signedInPage(d.url, { password: ADMIN_PASSWORD });
    page = b.page;
    phone = await b.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
  }, 180_000);
  afterAll(async () => {
    await b?.close();
    await d?.stop();
    db?.stop();
    await fresh?.stop();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  }, 60_000);

  /** Both widths of a page: the phone's must not spill sideways. */
  async function shots(name: string, prepare?: (p: Page) => Promise<void>) {
    await b.shot(`${name}-1280`);
    await phone.goto(page.url());
    await prepare?.(phone);
    const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow, name).toBeLessThanOrEqual(0);
    await b.shot(`${name}-390`, phone);
  }

  async function newTarget(name: string, plugin: string, fill: () => Promise<void>) {
    await page.goto(`${d.url}/targets/new`);
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Plugin").selectOption(plugin);
    await fill();
  }
  async function createTarget(name: string) {
    await page.getByRole("button", { name: "Create target" }).click();
    await page.waitForURL(/\/targets\/[0-9a-f-]{36}$/);
    expect(await page.locator("h1").first().innerText()).toBe(`Target ${name}`);
    return new URL(page.url()).pathname.split("/").pop()!;
  }

  /** A job for the target (made through the API: the job form has its own test), run from its page. */
  async function runFromJobPage(name: string, target: string, shot: string) {
    const job = await api("POST", "/v1/jobs", { name, target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    await page.goto(`${d.url}/jobs/${job.uuid}`);
    await page.getByRole("button", { name: "Run now" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}(\?started=1)?$/);
    await page.locator("#task-live .badge", { hasText: /done|failed/ }).waitFor({ timeout: 120_000 });
    const log = await page.locator("pre.log").innerText();
    expect(await page.locator("#task-live .badge").first().innerText(), log).toBe("done");
    await shots(shot);
    const archives = await api("GET", `/v1/archives?target=${target}`);
    expect(archives).toHaveLength(1);
    return archives[0].uuid as string;
  }

  /** From the archive's page: restore into `into`, confirmed, followed to its end. */
  async function restoreFromArchivePage(archive: string, into: string, shot: string) {
    await page.goto(`${d.url}/archives/${archive}`);
    await page.getByLabel("Restore into").selectOption({ label: into });
    await page.getByRole("button", { name: "Restore…" }).click();
    expect(await page.locator(".card").first().innerText()).toContain(`This overwrites the data of target “${into}”`);
    await shots(`${shot}-confirm`);
    await page.getByRole("button", { name: `Restore and overwrite ${into}` }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}(\?started=1)?$/);
    await page.locator("#task-live .badge", { hasText: /done|failed/ }).waitFor({ timeout: 120_000 });
    const log = await page.locator("pre.log").innerText();
    expect(await page.locator("#task-live .badge").first().innerText(), log).toBe("done");
    await shots(`${shot}-done`);
    return log;
  }

  test("two mysql targets from the plugin's form (a database, and a new one to restore into); the password never comes back", async () => {
    const fillMysql = (database: string) => async () => {
      await page.getByLabel(/^Host( \*)?$/).fill("127.0.0.1");
      await page.getByLabel(/^Port( \*)?$/).fill(String(db.port));
      await page.getByLabel(/^User( \*)?$/).fill(DB_USER);
      await page.getByLabel(/^Password( \*)?$/).fill(DB_PASSWORD);
      await page.getByLabel(/^Database( \*)?$/).fill(database);
    };
    await newTarget("shop-db", "mysql", fillMysql("shop"));
    // The physical mode's fields are on the form with their help.
    expect(await page.getByLabel("Data directory (physical)").count()).toBe(1);
    await shots("mysql-target-new", async (p) => {
      await p.getByLabel("Plugin").selectOption("mysql");
      await p.getByLabel("Data directory (physical)").waitFor();
    });
    ids.mysql = await createTarget("shop-db");
    expect(await page.content()).not.toContain(DB_PASSWORD);
    await shots("mysql-target");
    await newTarget("shop-restored", "mysql", fillMysql("shop_restored"));
    ids.mysqlCopy = await createTarget("shop-restored");
  });

  test("a mysql backup run from the job's page, restored from the archive's page into the new database: rows and checksums match", async () => {
    const archive = await runFromJobPage("shop-nightly", ids.mysql!, "mysql-task-done");
    const log = await restoreFromArchivePage(archive, "shop-restored", "mysql-restore");
    expect(log).toContain('created database "shop_restored"');
    expect(log).not.toContain(DB_PASSWORD);
    const checks = (database: string) => db.sql(`CHECKSUM TABLE ${database}.customers, ${database}.documents, ${database}.audit`)
      .split("\n").filter(Boolean).map((l) => l.split("\t")[1]);
    expect(checks("shop_restored")).toEqual(checks("shop"));
    const counts = (database: string) => db.sql(`SELECT (SELECT COUNT(*) FROM ${database}.customers), (SELECT COUNT(*) FROM ${database}.documents), (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${database}')`).trim();
    expect(counts("shop_restored")).toBe(counts("shop"));
  }, 300_000);

  test("two rabbitmq targets from the plugin's form: the broker and a fresh node", async () => {
    const fillRabbit = (n: RabbitNode) => async () => {
      await page.getByLabel("Management API URL").fill(n.url);
      await page.getByLabel(/^User( \*)?$/).fill(n.username);
      await page.getByLabel(/^Password( \*)?$/).fill(n.password);
    };
    await newTarget("broker", "rabbitmq", fillRabbit(rmq));
    // Messages are not definitions: the form's help says so.
    expect(await page.locator("form.stack").innerText()).toMatch(/messages/i);
    await shots("rabbitmq-target-new", async (p) => {
      await p.getByLabel("Plugin").selectOption("rabbitmq");
      await p.getByLabel("Management API URL").waitFor();
    });
    ids.rabbit = await createTarget("broker");
    expect(await page.content()).not.toContain(rmq.password);
    await shots("rabbitmq-target");
    await newTarget("fresh-node", "rabbitmq", fillRabbit(fresh));
    ids.rabbitFresh = await createTarget("fresh-node");
  }, 60_000);

  test("a rabbitmq backup run from the job's page, restored into the fresh node: its definitions match", async () => {
    const archive = await runFromJobPage("broker-nightly", ids.rabbit!, "rabbitmq-task-done");
    const log = await restoreFromArchivePage(archive, "fresh-node", "rabbitmq-restore");
    expect(log).toContain("checked: every queue, exchange and binding of the archive is on the broker");
    expect(await definitionsOf(fresh)).toEqual(await definitionsOf(rmq));
    await page.goto(`${d.url}/targets`);
    await shots("targets-mysql-rabbitmq");
  }, 300_000);

  test("no secret in the daemon's log", () => {
    for (const s of [DB_PASSWORD, rmq.password, fresh.password]) expect(d.stderr()).not.toContain(s);
  });
});
