// Opens the catalog (SQLite file or PostgreSQL URL), applies pending migrations,
// and hands back one Drizzle handle typed for both dialects.
import { Database } from "bun:sqlite";
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
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export async function openCatalog(url: string): Promise<CatalogHandle> {
  return isPostgresUrl(url) ? openPostgres(url) : openSqlite(url.replace(/^sqlite:(\/\/)?/, ""));
}

function openSqlite(path: string): CatalogHandle {
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  // Several processes (daemon, maintenance tools) may touch the file: wait, don't fail.
  sqlite.exec("PRAGMA busy_timeout = 5000");
  migrateSqlite(sqlite);
  const db = drizzleSqlite(sqlite, { schema: sqliteSchema }) as unknown as Db;
  return {
    dialect: "sqlite", db, t: sqliteSchema as unknown as Tables, description: `sqlite:${path}`,
    close: async () => sqlite.close(),
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
