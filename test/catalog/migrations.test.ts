// The migrations drizzle-kit generated must all be embedded, in order; they must
// build the schema the queries are typed against; and a catalog must be migrated
// once, however many times (and by however many daemons) it is opened.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { getTableConfig as pgTableConfig, type PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { connectCatalog } from "../../src/catalog/index.ts";
import { migrations, statements } from "../../src/catalog/migrations.ts";
import * as pgSchema from "../../src/catalog/schema/pg.ts";
import * as sqliteSchema from "../../src/catalog/schema/sqlite.ts";
import { dialects, type Dialect } from "../helpers/catalog.ts";
import { freshDatabase } from "../helpers/postgres.ts";
import { archiveRow, makeJob, makeStore, makeTarget, taskRow, tokenRow, useCatalog, userRow } from "./fixtures.ts";

const drizzleDir = join(import.meta.dir, "../../drizzle");
const folders = { sqlite: "sqlite", pg: "pg" } as const;
const journalDialect = { sqlite: "sqlite", pg: "postgresql" } as const;

interface Journal { dialect: string; entries: { idx: number; tag: string }[] }
const journal = (d: Dialect): Journal => JSON.parse(readFileSync(join(drizzleDir, folders[d], "meta/_journal.json"), "utf8"));

// The files are checked for both dialects, whether or not PostgreSQL is here to run them.
for (const d of ["sqlite", "pg"] as const) {
  describe(`migration files of ${d}`, () => {
    const dir = join(drizzleDir, folders[d]);
    const tags = migrations[d].map((m) => m.tag);

    test("every .sql file is embedded, in order, with its text", () => {
      const files = readdirSync(dir).filter((f) => f.endsWith(".sql")).sort();
      expect(files.length).toBeGreaterThan(0);
      expect(tags.map((t) => `${t}.sql`)).toEqual(files);
      for (const m of migrations[d]) expect(m.sql).toBe(readFileSync(join(dir, `${m.tag}.sql`), "utf8"));
    });

    test("every journal entry is embedded, in order", () => {
      const j = journal(d);
      expect(j.dialect).toBe(journalDialect[d]);
      expect(j.entries.map((e) => e.idx)).toEqual(j.entries.map((_, i) => i));
      expect(j.entries.map((e) => e.tag)).toEqual(tags);
    });

    test("every journal entry has its snapshot", () => {
      for (const e of journal(d).entries) {
        expect(existsSync(join(dir, "meta", `${String(e.idx).padStart(4, "0")}_snapshot.json`))).toBe(true);
      }
    });

    test("tags are unique and numbered from 0000 up", () => {
      expect(new Set(tags).size).toBe(tags.length);
      tags.forEach((t, i) => expect(t.slice(0, 5)).toBe(`${String(i).padStart(4, "0")}_`));
    });

    test("statements splits each migration into whole statements", () => {
      for (const m of migrations[d]) {
        const stmts = statements(m);
        expect(stmts.length).toBe(m.sql.split("--> statement-breakpoint").filter((s) => s.trim()).length);
        for (const s of stmts) {
          expect(s).not.toContain("statement-breakpoint");
          expect(s).toBe(s.trim());
          expect(s.length).toBeGreaterThan(0);
        }
      }
    });
  });
}

/** Plain SQL on a catalog, beside the catalog's own connection. */
interface Raw { all<T = Record<string, unknown>>(query: string): Promise<T[]>; run(query: string): Promise<void>; close(): Promise<void> }

/** A new, empty catalog location of the dialect, with a raw connection to it once it exists. */
async function freshLocation(dialect: Dialect): Promise<{ url: string; raw: () => Raw; cleanup: () => void }> {
  if (dialect === "pg") {
    const url = await freshDatabase("shield_migrations");
    return {
      url, cleanup: () => {},
      raw: () => {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        return {
          all: async <T,>(q: string) => (await sql.unsafe(q)) as unknown as T[],
          run: async (q) => { await sql.unsafe(q); },
          close: () => sql.end({ timeout: 5 }),
        };
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "shield-test-migrations-"));
  const url = join(dir, "shield.db");
  return {
    url, cleanup: () => rmSync(dir, { recursive: true, force: true }),
    raw: () => {
      const db = new Database(url);
      return {
        all: async <T,>(q: string) => db.query(q).all() as T[],
        run: async (q) => { db.exec(q); },
        close: async () => db.close(),
      };
    },
  };
}

const schemas = { sqlite: sqliteSchema, pg: pgSchema };

/** The tables, columns and indexes the Drizzle schema of the dialect declares. */
function declared(dialect: Dialect) {
  const tables: Record<string, { columns: Record<string, boolean>; indexes: Record<string, boolean> }> = {};
  for (const table of Object.values(schemas[dialect])) {
    const cfg = dialect === "pg" ? pgTableConfig(table as PgTable) : sqliteTableConfig(table as SQLiteTable);
    tables[cfg.name] = {
      columns: Object.fromEntries(cfg.columns.map((c) => [c.name, c.notNull])),
      indexes: Object.fromEntries(cfg.indexes.map((i) => [i.config.name, Boolean(i.config.unique)])),
    };
  }
  return tables;
}

/** The same, as the migrated database has them (leaving out the migrations' own table). */
async function actual(dialect: Dialect, raw: Raw) {
  const tables: Record<string, { columns: Record<string, boolean>; indexes: Record<string, boolean> }> = {};
  if (dialect === "pg") {
    for (const c of await raw.all<{ table_name: string; column_name: string; is_nullable: string }>(
      "SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public'")) {
      (tables[c.table_name] ??= { columns: {}, indexes: {} }).columns[c.column_name] = c.is_nullable === "NO";
    }
    for (const i of await raw.all<{ table_name: string; index_name: string; is_unique: boolean }>(
      `SELECT t.relname AS table_name, i.relname AS index_name, x.indisunique AS is_unique
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND NOT x.indisprimary`)) {
      tables[i.table_name]!.indexes[i.index_name] = i.is_unique;
    }
  } else {
    const names = await raw.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    for (const { name } of names) {
      const t = (tables[name] = { columns: {} as Record<string, boolean>, indexes: {} as Record<string, boolean> });
      for (const c of await raw.all<{ name: string; notnull: number }>(`PRAGMA table_info("${name}")`)) t.columns[c.name] = c.notnull === 1;
      // origin 'c': made by CREATE INDEX, not by a PRIMARY KEY or UNIQUE in the table.
      for (const i of await raw.all<{ name: string; unique: number; origin: string }>(`PRAGMA index_list("${name}")`)) {
        if (i.origin === "c") t.indexes[i.name] = i.unique === 1;
      }
    }
  }
  delete tables.shield_migrations;
  return tables;
}

for (const dialect of dialects) {
  describe(`migrating a ${dialect} catalog`, () => {
    const cleanups: (() => void | Promise<void>)[] = [];
    afterAll(async () => { for (const c of cleanups.reverse()) await c(); });
    const location = async () => {
      const loc = await freshLocation(dialect);
      cleanups.push(loc.cleanup);
      const raw = () => {
        const r = loc.raw();
        cleanups.push(() => r.close());
        return r;
      };
      return { url: loc.url, raw };
    };
    const tags = migrations[dialect].map((m) => m.tag);
    const appliedTags = async (raw: Raw) =>
      (await raw.all<{ tag: string; applied_at: number | string }>("SELECT tag, applied_at FROM shield_migrations ORDER BY tag"))
        .map((r) => ({ tag: r.tag, appliedAt: Number(r.applied_at) }));

    test("the migrations build exactly the tables, columns and indexes of the schema", async () => {
      const { url, raw } = await location();
      await (await connectCatalog(url)).close();
      expect(await actual(dialect, raw())).toEqual(declared(dialect));
    });

    test("opening the same catalog again applies nothing again, and keeps the data", async () => {
      const { url, raw } = await location();
      const first = await connectCatalog(url);
      const target = await makeTarget(first, { name: "survivor" });
      await first.close();

      const r = raw();
      expect((await appliedTags(r)).map((m) => m.tag)).toEqual(tags);
      // Marked so that a second application would show.
      await r.run("UPDATE shield_migrations SET applied_at = 1");

      for (let i = 0; i < 2; i++) {
        const again = await connectCatalog(url);
        expect((await again.targets.byName("survivor"))?.uuid).toBe(target);
        await again.close();
      }
      expect(await appliedTags(r)).toEqual(tags.map((tag) => ({ tag, appliedAt: 1 })));
    });

    test("daemons starting together migrate once", async () => {
      const { url, raw } = await location();
      const opened = await Promise.all([connectCatalog(url), connectCatalog(url), connectCatalog(url)]);
      // Each sees the whole schema.
      for (const c of opened) expect(await c.jobs.list()).toEqual([]);
      await Promise.all(opened.map((c) => c.close()));
      expect((await appliedTags(raw())).map((m) => m.tag)).toEqual(tags);
    });

    test("a catalog made by the first migration, with rows in it, takes the later ones", async () => {
      const { url, raw } = await location();
      const r = raw();
      // What an older Shield left behind: the first migration only, and a job.
      await r.run(dialect === "pg"
        ? "CREATE TABLE shield_migrations (tag TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        : "CREATE TABLE shield_migrations (tag TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
      for (const stmt of statements(migrations[dialect][0]!)) await r.run(stmt);
      await r.run(`INSERT INTO shield_migrations (tag, applied_at) VALUES ('${tags[0]}', 1)`);
      const ids = Array.from({ length: 5 }, () => crypto.randomUUID());
      await r.run(`INSERT INTO targets (uuid, name, plugin, endpoint, created_at) VALUES ('${ids[0]}', 'old-target', 'fs', '{}', 1)`);
      await r.run(`INSERT INTO stores (uuid, name, plugin, endpoint, created_at) VALUES ('${ids[1]}', 'old-store', 'fs', '{}', 1)`);
      await r.run(`INSERT INTO schedules (uuid, name, timespec, created_at) VALUES ('${ids[2]}', 'old-schedule', 'daily at 4am', 1)`);
      await r.run(`INSERT INTO retention (uuid, name, expiry, created_at) VALUES ('${ids[3]}', 'old-retention', 86400, 1)`);
      await r.run(`INSERT INTO jobs (uuid, name, target_uuid, store_uuid, schedule_uuid, retention_uuid, created_at)
                   VALUES ('${ids[4]}', 'old-job', '${ids[0]}', '${ids[1]}', '${ids[2]}', '${ids[3]}', 1)`);

      const c = await connectCatalog(url);
      expect(await c.jobs.get(ids[4]!)).toMatchObject({ name: "old-job", paused: false, priority: 50, targetName: "old-target" });
      await c.close();
      const applied = await appliedTags(r);
      expect(applied.map((m) => m.tag)).toEqual(tags);
      expect(applied[0]!.appliedAt).toBe(1);
      expect(await actual(dialect, r)).toEqual(declared(dialect));
    });

    test("a catalog where a crash left two backups running on one target still takes the one-per-target index; what still runs counts as stale", async () => {
      const { url, raw } = await location();
      const r = raw();
      await r.run(dialect === "pg"
        ? "CREATE TABLE shield_migrations (tag TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        : "CREATE TABLE shield_migrations (tag TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
      const before = tags.indexOf("0002_scheduler_queue_retention");
      for (const m of migrations[dialect].slice(0, before)) {
        for (const stmt of statements(m)) await r.run(stmt);
        await r.run(`INSERT INTO shield_migrations (tag, applied_at) VALUES ('${m.tag}', 1)`);
      }
      const target = crypto.randomUUID();
      const [a, b, other] = ["00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b", crypto.randomUUID()];
      for (const [uuid, t] of [[a, target], [b, target], [other, crypto.randomUUID()]]) {
        await r.run(`INSERT INTO tasks (uuid, owner, op, target_uuid, status, requested_at, log) VALUES ('${uuid}', 'system', 'backup', '${t}', 'running', 1, '')`);
      }
      const c = await connectCatalog(url);
      // One of the two stays running, for crash recovery to fail and clean up as usual; the other is failed now.
      expect((await c.tasks.get(a))!.status).toBe("running");
      expect(await c.tasks.get(b)).toMatchObject({ status: "failed", log: "FAILED: the daemon stopped while this task ran (found when upgrading the catalog)\n" });
      expect((await c.tasks.get(other))!.status).toBe("running");
      // They predate heartbeats: no runner, no heartbeat, so every daemon takes them for dead, however long the grace.
      const left = await c.tasks.foreignRunning(crypto.randomUUID(), 10 * 365 * 86400);
      expect(left.map((t) => [t.uuid, t.runnerId, t.heartbeatAt, t.stale]).toSorted()).toEqual([[a, null, null, true], [other, null, null, true]].toSorted());
      await c.close();
      expect(await actual(dialect, r)).toEqual(declared(dialect));
      await r.close();
    });
  });

  describe(`large integers on ${dialect}`, () => {
    const open = useCatalog(dialect);
    const c = () => open().catalog;
    /** 2100-01-01: epoch seconds past 2038 (2^31). */
    const Y2100 = 4_102_444_800;
    /** Sizes past 2^32, up to the largest integer a JS number holds exactly. */
    const BIG = 5 * 2 ** 32 + 7;
    const MAX = Number.MAX_SAFE_INTEGER;

    test("times past 2038 on definitions and jobs", async () => {
      const target = crypto.randomUUID();
      await c().targets.create(target, { name: "future", plugin: "fs", endpoint: "{}" }, Y2100);
      expect((await c().targets.get(target))!.createdAt).toBe(Y2100);
      const job = await makeJob(c(), { target });
      expect((await c().jobs.get(job))!.targetUuid).toBe(target);
      const row = (await c().jobs.byName((await c().jobs.get(job))!.name))!;
      expect(await c().jobs.update(job, { ...row, priority: 1 })).toBe(true);
      expect((await c().targets.list()).find((t) => t.uuid === target)!.createdAt).toBe(Y2100);
    });

    test("archive times and sizes round-trip exactly, as numbers", async () => {
      const targetUuid = await makeTarget(c());
      const storeUuid = await makeStore(c());
      const row = archiveRow({ targetUuid, storeUuid, takenAt: Y2100, expiresAt: Y2100 + 2 ** 32, size: BIG, rawSize: MAX, purgedAt: Y2100 + 1 });
      await c().archives.create(row);
      const got = (await c().archives.get(row.uuid))!;
      expect(got).toMatchObject({ takenAt: Y2100, expiresAt: Y2100 + 2 ** 32, size: BIG, rawSize: MAX, purgedAt: Y2100 + 1 });
      for (const v of [got.takenAt, got.expiresAt, got.size, got.rawSize, got.purgedAt]) expect(typeof v).toBe("number");
    });

    test("large times filter and order archives correctly", async () => {
      const targetUuid = await makeTarget(c());
      const storeUuid = await makeStore(c());
      const times = [2 ** 31 - 1, 2 ** 31, Y2100, 2 ** 32];
      const rows = times.map((takenAt) => archiveRow({ targetUuid, storeUuid, takenAt }));
      for (const r of rows) await c().archives.create(r);
      const page = { limit: 100, offset: 0 };
      expect((await c().archives.list({ target: targetUuid }, page)).map((a) => a.takenAt)).toEqual([...times].reverse());
      expect((await c().archives.list({ target: targetUuid, after: 2 ** 31 }, page)).map((a) => a.takenAt)).toEqual([2 ** 32, Y2100, 2 ** 31]);
      expect((await c().archives.list({ target: targetUuid, before: 2 ** 32 }, page)).map((a) => a.takenAt)).toEqual([Y2100, 2 ** 31, 2 ** 31 - 1]);
      expect(await c().archives.expireNow(rows[0]!.uuid, Y2100 + 5)).toBe(true);
      expect((await c().archives.get(rows[0]!.uuid))!.expiresAt).toBe(Y2100 + 5);
    });

    // The API accepts a retention expiry of up to 100 years (3_153_600_000 s), past 2^31.
    test("a retention expiry of 100 years, the API's longest", async () => {
      const century = 100 * 365 * 86400;
      const uuid = crypto.randomUUID();
      await c().retention.create(uuid, { name: "a century", expiry: century }, Y2100);
      expect(await c().retention.get(uuid)).toMatchObject({ expiry: century, createdAt: Y2100 });
      const job = await makeJob(c(), { retention: uuid });
      expect((await c().jobs.get(job))!.expiry).toBe(century);
    });

    test("task, user and token times past 2038", async () => {
      const task = taskRow({ requestedAt: Y2100 });
      await c().tasks.create(task);
      expect(await c().tasks.cancel(task.uuid, Y2100 + 2 ** 32)).toBe(true);
      expect(await c().tasks.get(task.uuid)).toMatchObject({ requestedAt: Y2100, stoppedAt: Y2100 + 2 ** 32 });
      const user = userRow({ createdAt: Y2100 });
      await c().users.create(user);
      expect((await c().users.get(user.uuid))!.createdAt).toBe(Y2100);
      const token = tokenRow({ userUuid: user.uuid, createdAt: Y2100 });
      await c().tokens.create(token);
      await c().tokens.touch(token.uuid, MAX);
      expect((await c().tokens.userByHash(token.tokenHash))!.token).toMatchObject({ createdAt: Y2100, lastUsedAt: MAX });
    });
  });
}
