import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freshCatalog } from "../helpers/catalog.ts";
import { nowSeconds, type Catalog } from "../../src/catalog/index.ts";
import { secretsOf, TaskLog } from "../../src/supervisor/tasklog.ts";

let catalog: Catalog;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ catalog, cleanup } = await freshCatalog("sqlite")));
afterAll(() => cleanup());

async function newTask(): Promise<string> {
  const uuid = crypto.randomUUID();
  await catalog.tasks.create({ uuid, owner: "t", op: "backup", jobUuid: null, archiveUuid: null, targetUuid: null, storeUuid: null, requestedAt: nowSeconds() });
  return uuid;
}

describe("task log", () => {
  test("secretsOf finds the values of secret-looking keys, nested too", () => {
    const s = secretsOf(JSON.stringify({ pg_password: "pw1", user: "bob", nested: { secret_key: "sk" }, api_token: 12345 }), '{"aws_access_key":"AKIA"}', "not json");
    expect(s.sort()).toEqual(["12345", "AKIA", "pw1", "sk"].sort());
  });

  test("masks secrets, timestamps lines, and appends them in order", async () => {
    const uuid = await newTask();
    const log = new TaskLog(catalog, uuid, ["hunter2"]);
    log.line("connecting with hunter2 as bob");
    log.line("second");
    await log.close();
    const text = (await catalog.tasks.get(uuid))!.log;
    expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d connecting with \*\*\* as bob\n\S+ \S+ second\n$/);
  });

  test("a log that grows without end keeps its head and its last lines", async () => {
    const uuid = await newTask();
    const log = new TaskLog(catalog, uuid);
    for (let i = 0; i < 20_000; i++) log.line(`line ${i} ${"x".repeat(60)}`);
    await log.close();
    const text = (await catalog.tasks.get(uuid))!.log;
    expect(text.length).toBeLessThan(600 * 1024);
    expect(text).toContain("line 0 ");
    expect(text).toContain("line 19999 ");
    expect(text).toMatch(/… \d+ lines left out/);
  });
});
