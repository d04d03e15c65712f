// The compiled daemon, end to end: a target's password saved through the API is
// nowhere in the catalog file or its WAL (even a catalog outside the data dir,
// which is created 0600); a catalog an older Shield left with clear passwords is
// sealed at start; a wrong master key stops the start with the reason; failed
// Basic sign-ins get 429 with Retry-After, counted by the client's real address.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { connectCatalog } from "../../src/catalog/index.ts";
import { ensureBinary, startShieldDaemon } from "../helpers/daemon.ts";

const ADMIN_PW = "e2e-secrets-admin-pw";
const auth = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}` });
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "shield-test-e2e-secrets-"));
  dirs.push(d);
  return d;
}

const fileBytes = (db: string) => [db, `${db}-wal`, `${db}-shm`].filter(existsSync).map((p) => readFileSync(p).toString("latin1")).join("\n");

describe("the daemon keeps endpoint secrets sealed", () => {
  test("a password saved through the API is not in the catalog file or its WAL; the file is 0600 outside the data dir", async () => {
    const dir = tempDir();
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o755 });
    chmodSync(elsewhere, 0o755);
    const db = join(elsewhere, "catalog.db");
    const d = await startShieldDaemon({ args: ["--data-dir", join(dir, "data"), "--database", db], env: { SHIELD_ADMIN_PASSWORD: ADMIN_PW } });
    try {
      const password = `pg-pw-${crypto.randomUUID()}`;
      const endpoint = JSON.stringify({ pg_host: "127.0.0.1", pg_port: "5432", pg_user: "u", pg_password: password, pg_database: "x" });
      const res = await fetch(`${d.url}/v1/targets`, {
        method: "POST", headers: { ...auth("admin", ADMIN_PW), "content-type": "application/json" },
        body: JSON.stringify({ name: "pg", plugin: "postgres", endpoint, agent: "" }),
      });
      expect([res.status, await res.text()]).toEqual([200, expect.any(String)]);
      expect(fileBytes(db)).not.toContain(password);
      for (const p of [db, `${db}-wal`, `${db}-shm`]) expect([p, statSync(p).mode & 0o777]).toEqual([p, 0o600]);
      // The admin reads it back whole.
      const list = await (await fetch(`${d.url}/v1/targets`, { headers: auth("admin", ADMIN_PW) })).json() as { endpoint: string }[];
      expect(list[0]!.endpoint).toBe(endpoint);
    } finally {
      await d.stop();
    }
    expect(fileBytes(db)).not.toContain("pg-pw-");
  });

  test("a catalog with passwords in clear is sealed at start; another master key stops the next start", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    mkdirSync(data, { mode: 0o700 });
    const db = join(data, "shield.db");
    const password = `old-pw-${crypto.randomUUID()}`;
    const old = await connectCatalog(db); // as an older Shield wrote it
    await old.stores.create(crypto.randomUUID(), { name: "s3", summary: "", plugin: "s3", endpoint: JSON.stringify({ bucket: "b", secret_access_key: password }) }, 1);
    await old.close();
    expect(fileBytes(db)).toContain(password);

    const d = await startShieldDaemon({ args: ["--data-dir", data], env: { SHIELD_ADMIN_PASSWORD: ADMIN_PW } });
    await d.stop();
    expect(d.stderr()).toContain("sealed the secrets of endpoints stored in clear");
    expect(fileBytes(db)).not.toContain(password);

    const other = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    const r = spawnSync(ensureBinary(), ["daemon", "--listen", "127.0.0.1:0", "--data-dir", data], {
      env: { ...process.env, SHIELD_MASTER_KEY: other }, encoding: "utf8", timeout: 30_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('the endpoint secrets of store \\"s3\\" do not open with this master key');
  });
});

describe("the daemon's sign-in", () => {
  test("repeated wrong passwords from one address: 401s, then 429 with Retry-After", async () => {
    const dir = tempDir();
    const d = await startShieldDaemon({ args: ["--data-dir", join(dir, "data")], env: { SHIELD_ADMIN_PASSWORD: ADMIN_PW } });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 7; i++) {
        const res = await fetch(`${d.url}/v1/auth/whoami`, { headers: auth("admin", `guess-${i}`) });
        statuses.push(res.status);
        retryAfter ??= res.headers.get("retry-after");
      }
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses.slice(6)).toEqual([429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await d.stop();
    }
  });
});
