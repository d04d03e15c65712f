// A restore never half-destroys its target, through the API of the compiled daemon
// and a real PostgreSQL: a damaged blob (a flipped, cut or added byte, a blob swapped
// for another) is refused before pg_restore runs, so the database restored into keeps
// its rows; and a restore that pg_restore itself fails half way is rolled back whole.
// With encryption on and off, for a one-chunk and a many-chunk archive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { freshDatabase, pgAvailable, startPostgres } from "../helpers/postgres.ts";

const PASSWORD = "e2e-restore-password";
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };

async function call(d: DaemonProcess, method: string, path: string, body?: unknown) {
  const r = await fetch(d.url + path, { method, headers: { ...auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await r.json()) as any;
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

async function waitTask(d: DaemonProcess, uuid: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const json = await call(d, "GET", `/v1/task/${uuid}`);
    if (!["pending", "running"].includes(json.status)) return json;
    if (Date.now() > deadline) throw new Error(`task still ${json.status}: ${json.log}`);
    await Bun.sleep(50);
  }
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => !f.startsWith(".") && statSync(join(dir, f)).isFile());
}

const sqlFor = (url: string) => postgres(url, { max: 1, onnotice: () => {} });

/** The database restored into: 5 rows of its own. */
async function victim(url: string, withView = false) {
  const sql = sqlFor(url);
  await sql`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE)`;
  await sql`INSERT INTO customers (name, email) SELECT 'victim ' || i, 'v' || i || '@example.com' FROM generate_series(1, 5) i`;
  // A view the dump knows nothing of: pg_restore --clean cannot drop the table under it.
  if (withView) await sql`CREATE VIEW customer_names AS SELECT name FROM customers`;
  await sql.end();
}

/** Rows, their checksum, and which tables exist. */
async function state(url: string) {
  const sql = sqlFor(url);
  try {
    const [c] = await sql`SELECT count(*)::int AS n, md5(string_agg(id || name || email, ',' ORDER BY id)) AS h FROM customers`;
    const tables = (await sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`).map((r) => r.tablename);
    return { customers: c, tables };
  } finally {
    await sql.end();
  }
}

async function source(url: string, big: boolean) {
  const sql = sqlFor(url);
  await sql`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE)`;
  await sql`INSERT INTO customers (name, email) SELECT 'customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, ${big ? 5000 : 3}) i`;
  if (big) {
    // ~2 MB of incompressible bytes: many chunks after zstd.
    await sql`CREATE TABLE blobs (id int PRIMARY KEY, data bytea)`;
    await sql`INSERT INTO blobs SELECT i, decode(string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), ''), 'hex') FROM generate_series(1, 32) i, generate_series(1, 65536) j GROUP BY i`;
  }
  await sql.end();
}

/** Each damage of a blob, named; `other`: another archive's blob (of the same source, or of the other one). */
function damages(blob: Buffer, sameSource: Buffer, otherSource: Buffer): [string, Buffer][] {
  const flip = (at: number) => { const b = Buffer.from(blob); b[at]! ^= 0x01; return b; };
  const len = blob.length;
  return [
    ["a flipped byte at size/2", flip(Math.floor(len / 2))],
    ["a flipped byte at size/5", flip(Math.floor(len / 5))],
    ["the first byte flipped", flip(0)],
    ["the last byte flipped", flip(len - 1)],
    ["truncated by one byte", blob.subarray(0, len - 1)],
    ["truncated to half", blob.subarray(0, Math.floor(len / 2))],
    ["one byte appended", Buffer.concat([blob, Buffer.from("x")])],
    ["swapped with another backup's blob of the same database", sameSource],
    ["replaced by another archive's blob", otherSource],
  ];
}

describe.skipIf(!pgAvailable)("verified before applied, through the API, into PostgreSQL", () => {
  let pgPort: number;
  const srcUrl: Record<string, string> = {};
  const daemons: { encrypt: boolean; d: DaemonProcess; storeDir: string }[] = [];

  beforeAll(async () => {
    pgPort = (await startPostgres()).port;
    for (const size of ["small", "big"]) {
      srcUrl[size] = await freshDatabase(`e2erestore${size}`);
      await source(srcUrl[size]!, size === "big");
    }
    for (const encrypt of [true, false]) {
      const storeDir = mkdtempSync(join(tmpdir(), "shield-e2e-restore-store-"));
      const d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD, SHIELD_ENCRYPT: encrypt ? "on" : "off" } });
      daemons.push({ encrypt, d, storeDir });
    }
  }, 60_000);
  afterAll(async () => {
    for (const { d, storeDir } of daemons) {
      await d.stop();
      rmSync(storeDir, { recursive: true, force: true });
    }
  });

  const dbName = (url: string) => new URL(url).pathname.slice(1);
  const endpoint = (db: string) => ({ pg_host: "127.0.0.1", pg_port: String(pgPort), pg_user: "postgres", pg_database: db });

  /** Backs up a source database; the archive and its blob's path. */
  async function backUp(d: DaemonProcess, storeDir: string, store: string, db: string, n: string) {
    const target = (await call(d, "POST", "/v1/targets", { name: `src-${n}`, plugin: "postgres", endpoint: endpoint(db), agent: "" })).uuid;
    const schedule = (await call(d, "POST", "/v1/schedules", { name: `s-${n}`, when: "daily at 4am" })).uuid;
    const retention = (await call(d, "POST", "/v1/retention", { name: `r-${n}`, expires: 86400 })).uuid;
    const job = (await call(d, "POST", "/v1/jobs", { name: `j-${n}`, target, store, schedule, retention, paused: true })).uuid;
    const before = new Set(files(storeDir));
    const task = await waitTask(d, (await call(d, "POST", `/v1/job/${job}/run`, {})).task_uuid);
    expect(task.status).toBe("done");
    const blob = files(storeDir).filter((f) => !before.has(f));
    expect(blob).toHaveLength(1);
    const archive = await call(d, "GET", `/v1/archive/${task.archive_uuid}`);
    return { uuid: archive.uuid as string, cipher: archive.cipher as string, size: archive.size as number, path: join(storeDir, blob[0]!) };
  }

  for (const encrypt of [true, false]) {
    test(`${encrypt ? "encrypted" : "unencrypted"}: every damage of a one-chunk and a many-chunk archive fails the restore, and the target keeps its 5 rows`, async () => {
      const { d, storeDir } = daemons.find((x) => x.encrypt === encrypt)!;
      const tag = encrypt ? "enc" : "plain";
      const store = (await call(d, "POST", "/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: storeDir } })).uuid;
      const small = await backUp(d, storeDir, store, dbName(srcUrl.small!), `small-${tag}`);
      const big = await backUp(d, storeDir, store, dbName(srcUrl.big!), `big-${tag}`);
      // The same database a moment later, one name changed (same length): a blob of the same size, other bytes.
      const sql = sqlFor(srcUrl.big!);
      await sql`UPDATE customers SET name = translate(name, '0123456789', '1234567890') WHERE id = 1`;
      await sql.end();
      const big2 = await backUp(d, storeDir, store, dbName(srcUrl.big!), `big2-${tag}`);
      expect(readFileSync(big2.path).equals(readFileSync(big.path))).toBe(false);
      expect(small.cipher).toBe(encrypt ? "aes-256-gcm-chunked-v1" : "none");
      // One chunk holds 64 KiB: the small dump fits in one, the big one needs dozens.
      expect(small.size).toBeLessThan(64 * 1024);
      expect(big.size).toBeGreaterThan(20 * 64 * 1024);

      const victimUrl = await freshDatabase(`e2evictim${tag}`);
      await victim(victimUrl);
      const before = await state(victimUrl);
      expect(before.customers!.n).toBe(5);
      const target = (await call(d, "POST", "/v1/targets", { name: `victim-${tag}`, plugin: "postgres", endpoint: endpoint(dbName(victimUrl)), agent: "" })).uuid;

      const cases: [typeof small, string, Buffer][] = [];
      const smallBlob = readFileSync(small.path), bigBlob = readFileSync(big.path), big2Blob = readFileSync(big2.path);
      // The small database has no second backup: its "same source" swap is the big one's too.
      for (const [what, blob] of damages(smallBlob, bigBlob, bigBlob)) cases.push([small, `one chunk: ${what}`, blob]);
      for (const [what, blob] of damages(bigBlob, big2Blob, smallBlob)) cases.push([big, `many chunks: ${what}`, blob]);
      for (const [archive, what, damaged] of cases) {
        const good = readFileSync(archive.path);
        writeFileSync(archive.path, damaged);
        try {
          const task = await waitTask(d, (await call(d, "POST", `/v1/archive/${archive.uuid}/restore`, { target })).task_uuid);
          if (task.status !== "failed") throw new Error(`${what}: the restore ended ${task.status}:\n${task.log}`);
          expect(task.log, what).toMatch(/FAILED: (the blob fails verification|the blob is \d+ bytes but the archive recorded|the blob's SHA-256 does not match)/);
          expect(task.log, what).toContain("verifying the archive before the target sees any of it");
          // pg_restore never ran: the target's plugin was never started.
          expect(task.log, what).not.toContain("target restore");
          expect(await state(victimUrl), what).toEqual(before);
        } finally {
          writeFileSync(archive.path, good);
        }
      }

      // An undamaged archive restores, replacing the 5 rows (the latest backup: the source's state now).
      const task = await waitTask(d, (await call(d, "POST", `/v1/archive/${big2.uuid}/restore`, { target })).task_uuid);
      expect(task.status).toBe("done");
      expect(task.log).toMatch(/ verified [\d.]+ MiB in/);
      expect(task.log).toContain("in one transaction");
      expect(await state(victimUrl)).toEqual(await state(srcUrl.big!));
    }, 180_000);
  }

  test("a restore pg_restore fails half way is rolled back whole: the database is as it was", async () => {
    const { d, storeDir } = daemons.find((x) => x.encrypt)!;
    const store = (await call(d, "POST", "/v1/stores", { name: "disk-tx", plugin: "fs", endpoint: { base_dir: storeDir } })).uuid;
    const big = await backUp(d, storeDir, store, dbName(srcUrl.big!), "big-tx");
    const victimUrl = await freshDatabase("e2evictimtx");
    // The view makes pg_restore --clean fail at DROP TABLE customers, after it dropped
    // and before it created other things: without one transaction, blobs would be created anyway.
    await victim(victimUrl, true);
    const before = await state(victimUrl);
    const target = (await call(d, "POST", "/v1/targets", { name: "victim-tx", plugin: "postgres", endpoint: endpoint(dbName(victimUrl)), agent: "" })).uuid;
    const task = await waitTask(d, (await call(d, "POST", `/v1/archive/${big.uuid}/restore`, { target })).task_uuid);
    expect(task.status).toBe("failed");
    expect(task.log).toContain("other objects depend on it");
    expect(task.log).toContain("its transaction was rolled back");
    expect(await state(victimUrl)).toEqual(before);
    expect(before.tables).toEqual(["customers"]);
  }, 60_000);
});
