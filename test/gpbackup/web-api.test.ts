// A gpbackup backup in the API and the web UI (in-process, real catalog): the
// /v1/gpbackup routes validate their input (400 naming the field) and need an
// operator; the archive page lists the backup's files, says gprestore restores
// it, offers no restore (the API refuses one with 409) but does offer notes and delete.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signedIn, type WebClient } from "../web/session-client.ts";
import type { TestApi } from "../helpers/app.ts";

describe("gpbackup archives in the API and the web UI", () => {
  let t: TestApi;
  let b: WebClient;
  let dir: string;
  let archive: string;
  const ts = "20240304050607";
  const record = (name: string, size: number, as: "operator" | "viewer" = "operator") => t.req("POST", "/v1/gpbackup/objects", {
    as, body: { target_name: "gp-prod", store: "disk", retention: "week", timestamp: ts, name: `backups/20240304/${ts}/${name}`, store_key: `2024/03/04/${crypto.randomUUID()}`, size },
  });

  beforeAll(async () => {
    ({ t, b } = await signedIn("operator"));
    dir = mkdtempSync(join(tmpdir(), "shield-gpbackup-web-"));
    await t.core.stores.create({ name: "disk", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: dir }) });
    await t.core.retention.create({ name: "week", summary: "", expiry: 604800 });
  });
  afterAll(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("POST /v1/gpbackup/objects records files into one archive; bad input is a 400 naming the field; a viewer is refused", async () => {
    const first = await record(`gpbackup_${ts}_metadata.sql`, 120);
    expect(first.status).toBe(200);
    archive = first.json.archive_uuid;
    expect((await record(`gpbackup_0_${ts}`, 5000)).json.archive_uuid).toBe(archive);
    expect((await record("x", 1, "viewer")).status).toBe(403);
    const bad = await t.req("POST", "/v1/gpbackup/objects", { as: "operator", body: { target_name: "gp-prod", store: "disk", retention: "week", timestamp: ts, name: "n", store_key: "k", size: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("size");
    const unknown = await t.req("POST", "/v1/gpbackup/objects", { as: "operator", body: { target_name: "gp-prod", store: "disk", retention: "nope", timestamp: ts, name: `backups/20240304/${ts}/f`, store_key: "k", size: 1 } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toContain("no retention policy named nope");
    const missing = await t.req("GET", `/v1/gpbackup/object?target_name=gp-prod&store=disk&timestamp=${ts}&name=backups/20240304/${ts}/none`, { as: "operator" });
    expect(missing.status).toBe(404);
  });

  test("the archive page lists the files and says gprestore restores it; no restore form; the API refuses a restore", async () => {
    const page = await b.get(`/archives/${archive}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain("Files of this gpbackup backup");
    expect(page.html).toContain(`gpbackup_${ts}_metadata.sql`);
    expect(page.html).toContain(`gpbackup_0_${ts}`);
    expect(page.html).toContain("gprestore restores this backup");
    expect(page.html).not.toContain("Restore…");
    expect(page.html).toContain("Delete this archive");
    expect(page.html).toContain("Save notes");
    const r = await t.req("POST", `/v1/archive/${archive}/restore`, { as: "operator", body: {} });
    expect(r.status).toBe(409);
    expect(r.json.error).toContain("gprestore");
    const objects = await t.req("GET", `/v1/archive/${archive}/objects`, { as: "viewer" });
    expect(objects.json.map((o: any) => o.size).sort()).toEqual([120, 5000]);
  });
});

describe("the gpbackup target in the web UI", () => {
  test("its page and the targets list show it without error", async () => {
    const { t, b } = await signedIn("operator");
    try {
      const dir = mkdtempSync(join(tmpdir(), "shield-gpbackup-web-"));
      await t.core.stores.create({ name: "disk", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: dir }) });
      await t.core.retention.create({ name: "week", summary: "", expiry: 604800 });
      await t.core.gpbackup.record({ targetName: "gp-prod", store: "disk", retention: "week", timestamp: "20240304050607", name: "backups/20240304/20240304050607/f", storeKey: "k", size: 1 });
      const target = (await t.catalog.targets.byName("gp-prod"))!;
      const list = await b.get("/targets");
      expect(list.status).toBe(200);
      expect(list.html).toContain("gp-prod");
      const page = await b.get(`/targets/${target.uuid}`);
      expect(page.status).toBe(200);
      expect(page.html).toContain("gpbackup");
      rmSync(dir, { recursive: true, force: true });
    } finally {
      await t.cleanup();
    }
  });
});
