// Endpoint secrets at rest, on both dialects: what the catalog writes holds no
// secret in clear (read from the SQLite file and its WAL byte by byte, or from
// PostgreSQL's rows), endpoints an older Shield wrote in clear are sealed (and
// scrubbed from the file) at start, once, and a wrong master key is refused.
// Also: a SQLite catalog file, its -wal and -shm are the owner's alone.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { connectCatalog, type Catalog } from "../../src/catalog/index.ts";
import { endpointSealer } from "../../src/core/plugins.ts";
import { EndpointSecrets, isSealed } from "../../src/pipeline/endpoint-secrets.ts";
import { dialects, type Dialect } from "../helpers/catalog.ts";
import { freshDatabase } from "../helpers/postgres.ts";
import { makeJob, T0 } from "./fixtures.ts";

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const secret = (what: string) => `${what}-${crypto.randomUUID().slice(0, 8)}`;

/** A catalog location of the dialect: a SQLite file in a fresh dir, or a fresh PostgreSQL database. */
async function location(dialect: Dialect): Promise<string> {
  if (dialect === "pg") return freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), "shield-test-secrets-"));
  dirs.push(dir);
  return join(dir, "shield.db");
}

/**
 * Everything the catalog keeps, as bytes a thief would copy: for SQLite the
 * database file with its -wal and -shm (read while the catalog is open, so the
 * WAL still holds what was written); for PostgreSQL every endpoint as stored.
 */
async function stored(dialect: Dialect, where: string): Promise<string> {
  if (dialect === "sqlite") {
    return [where, `${where}-wal`, `${where}-shm`].filter(existsSync).map((p) => readFileSync(p).toString("latin1")).join("\n");
  }
  const sql = postgres(where, { onnotice: () => {} });
  try {
    const rows = await sql<{ endpoint: string }[]>`SELECT endpoint FROM targets UNION ALL SELECT endpoint FROM stores`;
    return rows.map((r) => r.endpoint).join("\n");
  } finally {
    await sql.end();
  }
}

const sealerFor = (key: Uint8Array) => endpointSealer(new EndpointSecrets(key), undefined);

for (const dialect of dialects) {
  describe(`endpoint secrets at rest on ${dialect}`, () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const box = new EndpointSecrets(key);

    test("targets and stores are written with their secrets sealed; reads answer them sealed, and they open to what was given", async () => {
      const where = await location(dialect);
      const c = await connectCatalog(where, { sealer: sealerFor(key) });
      try {
        const pw = secret("pg-pw"), pw2 = secret("pg-pw2"), sk = secret("s3-secret");
        const targetEndpoint = JSON.stringify({ pg_host: "db1", pg_user: "backup", pg_password: pw });
        const storeEndpoint = JSON.stringify({ bucket: "b", access_key_id: "AKIA", secret_access_key: sk });
        const target = crypto.randomUUID(), store = crypto.randomUUID();
        await c.targets.create(target, { name: "db", summary: "", plugin: "postgres", endpoint: targetEndpoint, agent: "" }, T0);
        await c.stores.create(store, { name: "s3", summary: "", plugin: "s3", endpoint: storeEndpoint }, T0);
        const job = await makeJob(c, { target, store });
        // An update seals too.
        const updated = JSON.stringify({ pg_host: "db1", pg_user: "backup", pg_password: pw2 });
        await c.targets.update(target, { name: "db", summary: "", plugin: "postgres", endpoint: updated, agent: "" });

        const raw = await stored(dialect, where);
        for (const s of [pw, pw2, sk]) expect(raw).not.toContain(s);
        expect(raw).toContain("AKIA"); // the rest stays readable

        const row = (await c.targets.get(target))!;
        expect(isSealed(JSON.parse(row.endpoint).pg_password)).toBe(true);
        expect(box.open(row.endpoint).endpoint).toBe(updated);
        const view = (await c.jobs.get(job))!;
        expect(box.open(view.storeEndpoint).endpoint).toBe(storeEndpoint);
        expect(box.open(view.targetEndpoint).endpoint).toBe(updated);
      } finally {
        await c.close();
      }
    });

    test("endpoints written in clear are sealed at start, once, and leave no copy in the files; a wrong master key is refused", async () => {
      const where = await location(dialect);
      const passwords = [secret("old-pw-a"), secret("old-pw-b"), secret("old-pw-c")];
      // An older Shield: no sealer; a password changed twice leaves old versions behind in the file.
      const old = await connectCatalog(where);
      const a = crypto.randomUUID(), s = crypto.randomUUID();
      const ep = (pw: string) => JSON.stringify({ pg_host: "db1", pg_password: pw });
      await old.targets.create(a, { name: "a", summary: "", plugin: "postgres", endpoint: ep(passwords[0]!), agent: "" }, T0);
      await old.targets.update(a, { name: "a", summary: "", plugin: "postgres", endpoint: ep(passwords[1]!), agent: "" });
      await old.stores.create(s, { name: "s", summary: "", plugin: "fs", endpoint: JSON.stringify({ base_dir: "/b", token: passwords[2] }) }, T0);
      await old.close();
      // The check below can see a clear password when there is one.
      expect(await stored(dialect, where)).toContain(passwords[1]!);

      let c: Catalog = await connectCatalog(where, { sealer: sealerFor(key) });
      try {
        expect(await c.endpoints.sealStored()).toBe(2);
        const raw = await stored(dialect, where);
        // The old version of the changed password too: SQLite's file is rewritten.
        for (const pw of dialect === "sqlite" ? passwords : passwords.slice(1)) expect(raw).not.toContain(pw);
        expect(box.open((await c.targets.get(a))!.endpoint).endpoint).toBe(ep(passwords[1]!));
        const before = (await c.endpoints.all()).map((e) => e.endpoint);
        // Idempotent: nothing more to seal, nothing rewritten.
        expect(await c.endpoints.sealStored()).toBe(0);
        expect((await c.endpoints.all()).map((e) => e.endpoint)).toEqual(before);
      } finally {
        await c.close();
      }

      c = await connectCatalog(where, { sealer: sealerFor(crypto.getRandomValues(new Uint8Array(32))) });
      try {
        await expect(c.endpoints.sealStored()).rejects.toThrow(/target "a", store "s" do not open with this master key/);
      } finally {
        await c.close();
      }
    });

    test("the one-time step goes on where it stopped: endpoints still in clear are sealed, sealed ones kept", async () => {
      const where = await location(dialect);
      const c = await connectCatalog(where, { sealer: sealerFor(key) });
      try {
        const t = crypto.randomUUID();
        await c.targets.create(t, { name: "t", summary: "", plugin: "x", endpoint: JSON.stringify({ password: "already-sealed" }), agent: "" }, T0);
        const sealedBefore = (await c.targets.get(t))!.endpoint;
        // A clear row the step has not reached yet (written around the catalog's sealing).
        const clear = crypto.randomUUID();
        const plain = await connectCatalog(where);
        await plain.targets.create(clear, { name: "clear", summary: "", plugin: "x", endpoint: JSON.stringify({ password: "in-clear" }), agent: "" }, T0);
        await plain.close();
        expect(await c.endpoints.sealStored()).toBe(1);
        expect((await c.targets.get(t))!.endpoint).toBe(sealedBefore);
        expect(isSealed(JSON.parse((await c.targets.get(clear))!.endpoint).password)).toBe(true);
      } finally {
        await c.close();
      }
    });
  });
}

describe("the SQLite catalog file's mode", () => {
  test("created 0600, with its -wal and -shm, outside the data dir and under a lax umask", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-test-mode-"));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    const path = join(dir, "catalog.db");
    const umask = process.umask(0o022);
    let c: Catalog;
    try {
      c = await connectCatalog(path);
    } finally {
      process.umask(umask);
    }
    try {
      await c.targets.create(crypto.randomUUID(), { name: "t", summary: "", plugin: "fs", endpoint: "{}", agent: "" }, T0);
      for (const p of [path, `${path}-wal`, `${path}-shm`]) {
        expect([p, statSync(p).mode & 0o777]).toEqual([p, 0o600]);
      }
    } finally {
      await c.close();
    }
  });

  test("an existing file readable by others is narrowed to 0600", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-test-mode-"));
    dirs.push(dir);
    const path = join(dir, "catalog.db");
    writeFileSync(path, "");
    chmodSync(path, 0o644);
    const c = await connectCatalog(path);
    await c.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
