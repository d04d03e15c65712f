// Opens the catalog (SQLite file or PostgreSQL URL), applies pending migrations,
// and hands back one Drizzle handle typed for both dialects.
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, openSync, statSync } from "node:fs";
import { drizzle as drizzleSqlite } from "drizzle-orm/bun-sqlite";
import { drizzle as drizzlePg, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as pgSchema from "./schema/pg.ts";
import * as sqliteSchema from "./schema/sqlite.ts";
import { migrations, statements } from "./migrations.ts";

export type Dialect = "sqlite" | "pg";
export type Tables = typeof pgSchema;
/**
 * Both dialects' query builders share the API our queries use (select, join,
 * insert, update, delete, returning); we type the handle as the PostgreSQL one
 * and give each handle its own dialect's tables.
 */
export type Db = PostgresJsDatabase<Tables>;

export interface CatalogHandle {
  dialect: Dialect;
  db: Db;
  t: Tables;
  /** What the catalog is, for logs: never the password of a URL. */
  description: string;
  close(): Promise<void>;
  /**
   * Data migrations (rewrites of rows that no SQL file can do, such as sealing
   * endpoint secrets) are recorded in shield_migrations beside the schema's, by tag.
   */
  stepDone(tag: string): Promise<boolean>;
  markStepDone(tag: string): Promise<void>;
  /**
   * Leaves no copy of overwritten values in the catalog's files: for SQLite, the
   * database is rewritten (VACUUM) and its WAL emptied. After rows held secrets
   * in clear. PostgreSQL keeps old row versions until its own vacuum: nothing to do here.
   */
  scrub(): Promise<void>;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export async function openCatalog(url: string): Promise<CatalogHandle> {
  return isPostgresUrl(url) ? openPostgres(url) : openSqlite(url.replace(/^sqlite:(\/\/)?/, ""));
}

/**
 * The catalog file and its -wal and -shm hold the endpoints (secrets sealed, the
 * rest in clear), users' password hashes and task logs: owner only, wherever the
 * file lives (the data dir is 0700, but --database may point anywhere). SQLite
 * gives the -wal and -shm it creates the database file's mode; an existing file
 * readable by others is narrowed.
 */
function ownerOnly(path: string): void {
  if (path === ":memory:" || path.startsWith("file:")) return;
  try {
    closeSync(openSync(path, "wx", 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(p) && (statSync(p).mode & 0o077) !== 0) chmodSync(p, 0o600);
  }
}

function openSqlite(path: string): CatalogHandle {
  ownerOnly(path);
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  // Several processes (daemon, maintenance tools) may touch the file: wait, don't fail.
  sqlite.exec("PRAGMA busy_timeout = 5000");
  migrateSqlite(sqlite);
  const statements = reusingStatements(sqlite);
  const db = drizzleSqlite(sqlite, { schema: sqliteSchema }) as unknown as Db;
  return {
    dialect: "sqlite", db, t: sqliteSchema as unknown as Tables, description: `sqlite:${path}`,
    // The kept statements first: a statement not finalized keeps the connection (its file
    // and its WAL's checkpoint) open past close().
    close: async () => { statements.finalize(); sqlite.close(); },
    stepDone: async (tag) => sqlite.query("SELECT 1 FROM shield_migrations WHERE tag = ?").get(tag) !== null,
    markStepDone: async (tag) => {
      sqlite.query("INSERT INTO shield_migrations (tag, applied_at) VALUES (?, ?) ON CONFLICT DO NOTHING").run(tag, nowSeconds());
    },
    scrub: async () => {
      // The WAL first: VACUUM cannot drop pages a checkpoint has not moved yet.
      sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      sqlite.exec("VACUUM");
      sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    },
  };
}

// Compiled statements kept for reuse, by SQL text: enough for every query the daemon makes
// (a few dozen texts; an IN list of each length is one more), bounded all the same.
const STATEMENTS_KEPT = 500;

/**
 * Makes `sqlite`'s prepare() hand back the statement compiled before for the same SQL.
 * Drizzle compiles every query it runs afresh (prepare, then run once), which was the
 * largest part of the daemon's CPU per backup: ~40 queries, each a sqlite3_prepare
 * (bench/DATAPATH.md, "Eleventh session"). Reuse is safe because bun:sqlite binds and
 * runs a statement synchronously: no two uses of one overlap. One evicted is left to
 * the garbage collector, not finalized, in case a caller still holds it.
 */
function reusingStatements(sqlite: Database): { finalize(): void } {
  const compile = sqlite.prepare.bind(sqlite);
  const kept = new Map<string, ReturnType<Database["prepare"]>>();
  sqlite.prepare = ((sql: string, ...rest: unknown[]) => {
    if (rest.length) return (compile as (...a: unknown[]) => ReturnType<Database["prepare"]>)(sql, ...rest);
    let stmt = kept.get(sql);
    if (stmt) kept.delete(sql); // re-inserted below: the most recently used last
    else stmt = compile(sql);
    kept.set(sql, stmt);
    if (kept.size > STATEMENTS_KEPT) kept.delete(kept.keys().next().value!);
    return stmt;
  }) as Database["prepare"];
  return {
    finalize: () => {
      for (const stmt of kept.values()) stmt.finalize();
      kept.clear();
    },
  };
}

function migrateSqlite(sqlite: Database): void {
  sqlite.exec("CREATE TABLE IF NOT EXISTS shield_migrations (tag TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const applied = new Set(sqlite.query<{ tag: string }, []>("SELECT tag FROM shield_migrations").all().map((r) => r.tag));
  for (const m of migrations.sqlite) {
    if (applied.has(m.tag)) continue;
    // IMMEDIATE takes the write lock first, so two daemons starting together do not both migrate.
    sqlite.transaction(() => {
      if (sqlite.query("SELECT 1 FROM shield_migrations WHERE tag = ?").get(m.tag)) return;
      for (const stmt of statements(m)) sqlite.exec(stmt);
      sqlite.query("INSERT INTO shield_migrations (tag, applied_at) VALUES (?, ?)").run(m.tag, nowSeconds());
    }).immediate();
  }
}

async function openPostgres(url: string): Promise<CatalogHandle> {
  const sql = postgres(url, { max: 10, onnotice: () => {}, connect_timeout: 10 });
  try {
    await migratePostgres(sql);
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
  const db = drizzlePg(sql, { schema: pgSchema });
  return {
    dialect: "pg", db, t: pgSchema, description: redactUrl(url),
    close: () => sql.end({ timeout: 5 }),
    stepDone: async (tag) => (await sql`SELECT 1 FROM shield_migrations WHERE tag = ${tag}`).length > 0,
    markStepDone: async (tag) => {
      await sql`INSERT INTO shield_migrations (tag, applied_at) VALUES (${tag}, ${nowSeconds()}) ON CONFLICT DO NOTHING`;
    },
    scrub: async () => {},
  };
}

// Any constant works; it only has to be the same for every Shield daemon sharing the catalog.
const MIGRATION_LOCK = 0x5348_4c44;

async function migratePostgres(sql: postgres.Sql): Promise<void> {
  await sql.begin(async (tx) => {
    // Daemons sharing one catalog may start together: one migrates, the others wait.
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS shield_migrations (tag TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`;
    const applied = new Set((await tx<{ tag: string }[]>`SELECT tag FROM shield_migrations`).map((r) => r.tag));
    for (const m of migrations.pg) {
      if (applied.has(m.tag)) continue;
      for (const stmt of statements(m)) await tx.unsafe(stmt);
      await tx`INSERT INTO shield_migrations (tag, applied_at) VALUES (${m.tag}, ${nowSeconds()})`;
    }
  });
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparseable URL)";
  }
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
