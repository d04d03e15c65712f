// PostgreSQL backed up to S3 and restored from it, through the API of the
// compiled daemon (and once through the CLI): the built-in s3 store against a
// private moto_server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { resolve } from "node:path";
import postgres from "postgres";
import { adminToken, cliFor } from "../helpers/cli.ts";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { customersFingerprint, fillCustomers } from "../helpers/pg-fixtures.ts";
import { freshDatabase, pgAvailable, startPostgres } from "../helpers/postgres.ts";
import { freshBucket, MOTO_KEY, motoAvailable, motoEndpoint, objectKeys, openUploads, startMoto, type Moto } from "../helpers/s3.ts";

const PASSWORD = "e2e-s3-password";
const PG_SECRET = "pg-secret-never-logged";

const { call, waitTask } = daemonApi("admin", PASSWORD, { waitMs: 90_000 });

describe.skipIf(!pgAvailable || !motoAvailable)("PostgreSQL backed up to S3 and restored from it, through the API", () => {
  let d: DaemonProcess;
  let moto: Moto;
  let bucket: string;
  let srcUrl: string;
  let pgPort: number;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    srcUrl = await freshDatabase("e2es3");
    pgPort = (await startPostgres()).port;
    await fillCustomers(srcUrl, 200);
    moto = await startMoto();
    bucket = await freshBucket("e2e");
    d = await startShieldDaemon({
      args: ["--plugin-dir", resolve(import.meta.dir, "../fixtures/plugins")],
      env: { SHIELD_ADMIN_PASSWORD: PASSWORD },
    });
  });
  afterAll(async () => { await d?.stop(); });

  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  const pgTarget = (db: string) => ({ pg_host: "127.0.0.1", pg_port: pgPort, pg_user: "postgres", pg_password: PG_SECRET, pg_database: db });

  test("the s3 store is listed with the original Shield's fields", async () => {
    const { json } = await call(d, "GET", "/v1/plugin/s3");
    expect(json.info.features).toEqual({ target: "no", store: "yes" });
    const names = json.info.fields.map((f: any) => f.name);
    for (const n of ["access_key_id", "secret_access_key", "region", "bucket", "prefix", "s3_host", "s3_port", "signature_version", "part_size", "skip_ssl_validation", "socks5_proxy", "use_instance_profile", "path_style", "storage_class", "sse", "sse_kms_key_id", "ca_cert"]) {
      expect(names).toContain(n);
    }
  });

  test("an s3 endpoint the store refuses is a 400 with its words", async () => {
    const bad = await call(d, "POST", "/v1/stores", { name: "v2", plugin: "s3", endpoint: motoEndpoint(moto, bucket, { signature_version: "2" }) });
    expect(bad.status).toBe(400);
    expect(bad.json.fields.endpoint).toContain("signature_version");
  });

  test("backs up into the bucket: one object, the archive's size", async () => {
    ids.store = await created("/v1/stores", { name: "s3", plugin: "s3", endpoint: motoEndpoint(moto, bucket, { prefix: "shield/e2e", part_size: "5M" }) });
    ids.target = await created("/v1/targets", { name: "src", plugin: "postgres", endpoint: pgTarget(new URL(srcUrl).pathname.slice(1)), agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    ids.job = await created("/v1/jobs", { name: "src-to-s3", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${ids.job}/run`)).json.task_uuid);
    expect(task.status).toBe("done");
    expect(task.log).not.toContain(PG_SECRET);
    expect(task.log).not.toContain(MOTO_KEY.secret_access_key);
    const { json: archives } = await call(d, "GET", `/v1/archives?target=${ids.target}`);
    expect(archives).toHaveLength(1);
    const a = archives[0];
    expect(a.status).toBe("valid");
    expect(a.size).toBeGreaterThan(10 * 1024 * 1024);
    const keys = await objectKeys(bucket);
    expect(keys).toEqual([a.store_key]);
    expect(a.store_key).toMatch(/^shield\/e2e\/\d{4}\/\d{2}\/\d{2}\/\d{4}-\d{2}-\d{2}-\d{6}-[0-9a-f-]{36}$/);
    const head = await moto.client.send(new HeadObjectCommand({ Bucket: bucket, Key: a.store_key }));
    expect(head.ContentLength).toBe(a.size);
    expect(await openUploads(bucket)).toEqual([]);
    ids.archive = a.uuid;
  });

  test("restores in place from S3 after the data is damaged", async () => {
    const before = await customersFingerprint(srcUrl);
    const sql = postgres(srcUrl, { max: 1, onnotice: () => {} });
    await sql`DROP TABLE blobs`;
    await sql`DELETE FROM customers WHERE id % 2 = 0`;
    await sql.end();
    const r = await call(d, "POST", `/v1/archive/${ids.archive}/restore`, {});
    expect(r.json.ok).toBe("scheduled");
    const task = await waitTask(d, r.json.task_uuid);
    expect(task.status).toBe("done");
    expect(await customersFingerprint(srcUrl)).toEqual(before);
  });

  test("restores from S3 into another database", async () => {
    const db = `s3_restored_${process.pid}`;
    const other = await created("/v1/targets", { name: "other", plugin: "postgres", endpoint: pgTarget(db), agent: "" });
    const task = await waitTask(d, (await call(d, "POST", `/v1/archive/${ids.archive}/restore`, { target: other })).json.task_uuid);
    expect(task.status).toBe("done");
    expect(await customersFingerprint(srcUrl.replace(/\/[^/]+$/, `/${db}`))).toEqual(await customersFingerprint(srcUrl));
  });

  test("the CLI restores from S3 too (restore archive --to --follow)", async () => {
    const db = `s3_cli_${process.pid}`;
    await created("/v1/targets", { name: "cli-copy", plugin: "postgres", endpoint: pgTarget(db), agent: "" });
    const cli = cliFor(d, await adminToken(d, PASSWORD));
    try {
      const r = await cli.run(["restore", "archive", ids.archive!, "--to", "cli-copy", "--follow"], { timeoutMs: 90_000 });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
      expect(r.stdout + r.stderr).not.toContain(MOTO_KEY.secret_access_key);
    } finally {
      cli.cleanup();
    }
    expect(await customersFingerprint(srcUrl.replace(/\/[^/]+$/, `/${db}`))).toEqual(await customersFingerprint(srcUrl));
  });

  test("a canceled backup leaves no object and no multipart upload in the bucket", async () => {
    // 64 KiB every 20 ms: the multipart upload is under way well before the end.
    const t = await created("/v1/targets", { name: "slow", plugin: "bytes-target", endpoint: { size: 40000000, trickle: "0.02" }, agent: "" });
    const j = await created("/v1/jobs", { name: "slow", target: t, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const before = await objectKeys(bucket);
    const { json } = await call(d, "POST", `/v1/job/${j}/run`);
    for (let i = 0; i < 300 && (await openUploads(bucket)).length === 0; i++) await Bun.sleep(50);
    expect(await openUploads(bucket)).toHaveLength(1);
    expect((await call(d, "DELETE", `/v1/task/${json.task_uuid}`)).json).toEqual({ ok: "canceled" });
    const task = await waitTask(d, json.task_uuid);
    expect(task.status).toBe("canceled");
    // The store aborts its upload on the way out.
    const deadline = Date.now() + 15_000;
    while ((await openUploads(bucket)).length && Date.now() < deadline) await Bun.sleep(100);
    expect(await openUploads(bucket)).toEqual([]);
    expect(await objectKeys(bucket)).toEqual(before);
    expect((await call(d, "GET", `/v1/archives?target=${t}`)).json).toEqual([]);
  });

  test("deleting the archive purges its object from the bucket", async () => {
    expect((await call(d, "DELETE", `/v1/archive/${ids.archive}`)).status).toBe(200);
    const deadline = Date.now() + 30_000;
    let archive: any;
    do {
      await Bun.sleep(200);
      archive = (await call(d, "GET", `/v1/archive/${ids.archive}`)).json;
    } while (archive.status !== "purged" && Date.now() < deadline);
    expect(archive.status).toBe("purged");
    expect(await objectKeys(bucket)).toEqual([]);
  });

  test("no secret in the daemon's log", () => {
    expect(d.stderr()).not.toContain(PG_SECRET);
    expect(d.stderr()).not.toContain(MOTO_KEY.secret_access_key);
  });
});
