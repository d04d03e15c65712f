// A PostgreSQL database backed up into the azure store and restored from it, through
// the API of the compiled daemon: real PostgreSQL and real Azurite, each on its own
// port and directory (test/helpers/postgres.ts, azurite.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from "@azure/storage-blob";
import postgres from "postgres";
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteAvailable, startAzurite } from "../helpers/azurite.ts";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { customersFingerprint, fillCustomers } from "../helpers/pg-fixtures.ts";
import { freshDatabase, pgAvailable, startPostgres } from "../helpers/postgres.ts";

const PASSWORD = "e2e-azure-password";
const PG_SECRET = "pg-secret-never-logged";

const { call, waitTask } = daemonApi("admin", PASSWORD);

describe.skipIf(!pgAvailable || !azuriteAvailable)("PostgreSQL backed up to Azure (Azurite) and restored, through the API", () => {
  let d: DaemonProcess;
  let container: ContainerClient;
  let srcUrl: string;
  let pgPort: number;
  const containerName = `shield-e2e-${randomUUID().slice(0, 8)}`;
  const ids: Record<string, string> = {};
  let blobEndpoint = "";

  const blobs = async () => {
    const out: { name: string; size: number }[] = [];
    for await (const b of container.listBlobsFlat()) out.push({ name: b.name, size: b.properties.contentLength ?? -1 });
    return out;
  };
  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };
  const pgTarget = (db: string) => ({ pg_host: "127.0.0.1", pg_port: pgPort, pg_user: "postgres", pg_password: PG_SECRET, pg_database: db });
  const azureStore = (extra: Record<string, unknown> = {}) => ({
    storage_account: AZURITE_ACCOUNT, storage_account_key: AZURITE_KEY, storage_container: containerName,
    prefix: "e2e/pg", blob_endpoint: blobEndpoint, block_size: "1", ...extra,
  });

  beforeAll(async () => {
    const az = await startAzurite();
    blobEndpoint = az.url;
    container = new BlobServiceClient(az.url, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient(containerName);
    await container.create();
    srcUrl = await freshDatabase("e2eazure");
    pgPort = (await startPostgres()).port;
    await fillCustomers(srcUrl, 40);
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  });
  afterAll(async () => {
    await d?.stop();
  });

  test("the azure store is listed with the original Shield's field names", async () => {
    const { json } = await call(d, "GET", "/v1/plugin/azure");
    expect(json.info.features).toEqual({ target: "no", store: "yes" });
    const fields = json.info.fields.map((f: any) => f.name);
    for (const f of ["storage_account", "storage_account_key", "storage_container", "prefix", "sas_token", "blob_endpoint"]) expect(fields).toContain(f);
  });

  test("a bad azure endpoint is a 400 naming the field", async () => {
    const bad = await call(d, "POST", "/v1/stores", { name: "bad", plugin: "azure", endpoint: azureStore({ storage_container: "Not_Valid" }) });
    expect(bad.status).toBe(400);
    expect(bad.json.fields.endpoint).toContain("storage_container");
    const missing = await call(d, "POST", "/v1/stores", { name: "bad2", plugin: "azure", endpoint: azureStore({ storage_account_key: "" }) });
    expect(missing.status).toBe(400);
    expect(missing.json.fields.endpoint).toContain("storage_account_key");
  });

  test("the account key and the SAS token are declared secret (what viewers' redaction and the forms go by)", async () => {
    const { json } = await call(d, "GET", "/v1/plugin/azure");
    const secret = json.info.fields.filter((f: any) => f.type === "password").map((f: any) => f.name).sort();
    expect(secret).toEqual(["sas_token", "storage_account_key"]);
    ids.store = await created("/v1/stores", { name: "azure", plugin: "azure", endpoint: azureStore() });
  });

  test("backs up into Azure: one blob under the prefix, its size the archive's", async () => {
    ids.target = await created("/v1/targets", { name: "src", plugin: "postgres", endpoint: pgTarget(new URL(srcUrl).pathname.slice(1)), agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    ids.job = await created("/v1/jobs", { name: "src-to-azure", target: ids.target, store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true });
    const run = await call(d, "POST", `/v1/job/${ids.job}/run`, { owner: "alice" });
    const task = await waitTask(d, run.json.task_uuid);
    expect(task).toMatchObject({ status: "done", type: "backup" });
    expect(task.log).not.toContain(PG_SECRET);
    expect(task.log).not.toContain(AZURITE_KEY);
    const { json: archives } = await call(d, "GET", `/v1/archives?target=${ids.target}`);
    expect(archives).toHaveLength(1);
    const a = archives[0];
    expect(a).toMatchObject({ status: "valid", compression: "zstd", cipher: "aes-256-gcm-chunked-v1" });
    // 1 MiB first blocks (block_size): several blocks staged, then committed.
    expect(a.size).toBeGreaterThan(2_000_000);
    const stored = await blobs();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.name).toMatch(/^e2e\/pg\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}$/);
    expect(stored[0]!.size).toBe(a.size);
    ids.archive = a.uuid;
  });

  test("restores in place from Azure after the data is damaged", async () => {
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

  test("restores from Azure into another database", async () => {
    const name = `azure_restored_${process.pid}`;
    const other = await created("/v1/targets", { name: "other", plugin: "postgres", endpoint: pgTarget(name), agent: "" });
    const r = await call(d, "POST", `/v1/archive/${ids.archive}/restore`, { target: other });
    const task = await waitTask(d, r.json.task_uuid);
    expect(task.status).toBe("done");
    expect(await customersFingerprint(srcUrl.replace(/\/[^/]+$/, `/${name}`))).toEqual(await customersFingerprint(srcUrl));
  });

  test("deleting the archive purges its blob from the container", async () => {
    expect((await call(d, "DELETE", `/v1/archive/${ids.archive}`)).json).toEqual({ ok: "deleted" });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { json } = await call(d, "GET", `/v1/archive/${ids.archive}`);
      if (json.status === "purged") break;
      if (Date.now() > deadline) throw new Error(`archive still ${json.status}`);
      await Bun.sleep(200);
    }
    expect(await blobs()).toEqual([]);
  });

  test("a backup into a container that does not exist fails with Azure's words and records no archive", async () => {
    const s = await created("/v1/stores", { name: "nowhere", plugin: "azure", endpoint: azureStore({ storage_container: "no-such-container" }) });
    const j = await created("/v1/jobs", { name: "to-nowhere", target: ids.target, store: s, schedule: ids.schedule, retention: ids.retention, paused: true });
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${j}/run`)).json.task_uuid);
    expect(task.status).toBe("failed");
    expect(task.log).toContain("ContainerNotFound");
    const { json } = await call(d, "GET", `/v1/archives?store=${s}`);
    expect(json).toEqual([]);
  });

  test("no secret in the daemon's log", () => {
    expect(d.stderr()).not.toContain(PG_SECRET);
    expect(d.stderr()).not.toContain(AZURITE_KEY);
  });
});
